/* Run the dopflow command in tests (see cli_run.h). */
#include "cli_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return strdup("");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    size_t got = fread(text, 1, (size_t)size, f);
    text[got] = '\0';
    fclose(f);
    return text;
}

static int run_prefixed(const char *prefix, const char *args, const char *stdin_path, char **out, char **err)
{
    char out_path[] = "/tmp/dopflow-cli-out-XXXXXX", err_path[] = "/tmp/dopflow-cli-err-XXXXXX";
    int out_fd = mkstemp(out_path), err_fd = mkstemp(err_path);
    if (out_fd < 0 || err_fd < 0) return -1;
    close(out_fd);
    close(err_fd);
    size_t len = strlen(prefix) + strlen(args) + strlen(DOPFLOW_CLI) + 3 * 64 + (stdin_path ? strlen(stdin_path) : 16);
    char *command = malloc(len);
    snprintf(command, len, "%s'%s' %s <%s >%s 2>%s", prefix, DOPFLOW_CLI, args, stdin_path ? stdin_path : "/dev/null",
             out_path, err_path);
    int status = system(command);
    free(command);
    if (out) *out = slurp(out_path);
    if (err) *err = slurp(err_path);
    unlink(out_path);
    unlink(err_path);
    if (status == -1) return -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

int cli_run(const char *args, const char *stdin_path, char **out, char **err)
{
    return run_prefixed("", args, stdin_path, out, err);
}

int cli_run_bounded(const char *args, int seconds, long mem_kib, const char *stdin_path, char **out, char **err)
{
    char prefix[160];
    int n = 0;
    if (mem_kib > 0) n = snprintf(prefix, sizeof prefix, "ulimit -v %ld && ", mem_kib);
    snprintf(prefix + n, sizeof prefix - (size_t)n, "exec timeout -k 5 %d ", seconds);
    return run_prefixed(prefix, args, stdin_path, out, err);
}

int cli_count_lines(const char *text)
{
    int lines = 0;
    for (const char *p = text; *p; p++) lines += *p == '\n';
    if (*text && text[strlen(text) - 1] != '\n') lines++;
    return lines;
}
