/* dopflow_bench's child processes: each measured (wall time, CPU time,
 * peak RSS) from a small process, and fed through a pipe when asked. */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Peak RSS of a child by wait4 is only right when the child was forked
 * from a small process: Linux counts the pages a forked child shares with
 * its parent until exec, and keeps that peak in ru_maxrss. So children are
 * started through a fresh copy of this program (`--measure-child FD ARGV`,
 * a few MB), which forks, execs, waits and writes the child's wall time,
 * CPU time, peak RSS and exit status to FD. */
int measure_child_main(int fd, char **argv)
{
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        execvp(argv[0], argv);
        _exit(127);
    }
    int ws = 0;
    struct rusage ru;
    while (wait4(pid, &ws, 0, &ru) < 0 && errno == EINTR) {}
    double wall = now_s() - t0;
    double cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
                 1e-6 * (double)ru.ru_stime.tv_usec;
    int status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    char line[256];
    int n = snprintf(line, sizeof line, "%.9f %.9f %ld %d\n", wall, cpu, ru.ru_maxrss, status);
    return write(fd, line, (size_t)n) == n ? 0 : 1;
}

/* Run argv with stdout to /dev/null (or `out_path`), stderr to /dev/null;
 * feed (may be NULL) writes the child's standard input. */
child_result run_child(char *const argv[], const char *out_path, feed_fn feed, void *user)
{
    child_result r = {0};
    int in_pipe[2] = {-1, -1}, res_pipe[2];
    if ((feed && pipe(in_pipe) != 0) || pipe(res_pipe) != 0) {
        perror("dopflow_bench: pipe");
        exit(1);
    }
    int argc = 0;
    while (argv[argc]) argc++;
    char fdtext[16];
    snprintf(fdtext, sizeof fdtext, "%d", res_pipe[1]);
    char **margv = calloc((size_t)argc + 4, sizeof *margv);
    if (!margv) exit(1);
    margv[0] = "dopflow_bench";
    margv[1] = "--measure-child";
    margv[2] = fdtext;
    for (int i = 0; i < argc; i++) margv[3 + i] = argv[i];
    pid_t pid = fork();
    if (pid < 0) {
        perror("dopflow_bench: fork");
        exit(1);
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        int out = out_path ? open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : devnull;
        if (feed) {
            dup2(in_pipe[0], 0);
            close(in_pipe[0]);
            close(in_pipe[1]);
        } else {
            dup2(devnull, 0);
        }
        dup2(out, 1);
        dup2(devnull, 2);
        close(res_pipe[0]);
        execv("/proc/self/exe", margv);
        _exit(127);
    }
    free(margv);
    close(res_pipe[1]);
    if (feed) {
        close(in_pipe[0]);
        feed(in_pipe[1], user);
        close(in_pipe[1]);
    }
    char line[256] = "";
    size_t got = 0;
    for (;;) {
        ssize_t n = read(res_pipe[0], line + got, sizeof line - 1 - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    line[got] = '\0';
    close(res_pipe[0]);
    int ws;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {}
    if (sscanf(line, "%lf %lf %ld %d", &r.wall_s, &r.cpu_s, &r.maxrss_kb, &r.status) != 4) r.status = 127;
    return r;
}

/* Sends f->total complex samples, repeating the recording. */
int feed_pcm(int fd, void *user)
{
    feed_state *f = user;
    uint64_t sent = 0;
    while (sent < f->total) {
        size_t at = (size_t)(sent % f->frames);
        size_t chunk = f->frames - at;
        if (chunk > 65536) chunk = 65536;
        if (chunk > f->total - sent) chunk = (size_t)(f->total - sent);
        const char *p = (const char *)(f->pcm + 2 * at);
        size_t left = chunk * 4;
        while (left) {
            ssize_t w = write(fd, p, left);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return -1;
            p += w;
            left -= (size_t)w;
        }
        sent += chunk;
    }
    return 0;
}
