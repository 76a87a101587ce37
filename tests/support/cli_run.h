/* Run the dopflow command in tests and capture what it says. */
#ifndef DOPFLOW_TEST_CLI_RUN_H
#define DOPFLOW_TEST_CLI_RUN_H

/* Run `dopflow ARGS` (ARGS is shell text) with standard input from
 * stdin_path (NULL = /dev/null); stdout and stderr are captured into
 * malloc'd strings (*out, *err may be NULL to discard). Returns the exit
 * code, or 128 + signal when killed by a signal, -1 if it could not run. */
int cli_run(const char *args, const char *stdin_path, char **out, char **err);

/* cli_run bounded in time and memory: the command is killed after `seconds`
 * (exit code 124 from timeout(1), or 137 if it ignores SIGTERM for 5 s more)
 * and, when mem_kib > 0, its virtual memory is limited to mem_kib KiB
 * (ulimit -v; leave 0 under AddressSanitizer, which reserves terabytes). */
int cli_run_bounded(const char *args, int seconds, long mem_kib, const char *stdin_path, char **out, char **err);

/* Number of lines in text (a last line without newline counts). */
int cli_count_lines(const char *text);

#endif
