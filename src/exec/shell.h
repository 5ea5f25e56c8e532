/* shell: recognizes the commands that need no shell, so the runner can
 * spawn them directly instead of paying for a /bin/sh per action. A simple
 * command is words and redirections only:
 *   cat a.c lib.h > out.o      sort -u 'x y' < in >> out
 * Words are plain characters or single-quoted strings; anything else the
 * shell would interpret (variables, globs, pipes, lists, escapes, double
 * quotes, assignments, builtins) makes the command not simple, and it runs
 * under /bin/sh -c as written. */
#ifndef CAIRN_SHELL_H
#define CAIRN_SHELL_H
#include <stddef.h>

struct simple_cmd {
	char **argv;       /* NULL-terminated; owned */
	size_t argc;
	char *in;          /* < FILE, or NULL */
	char *out;         /* > or >> FILE, or NULL */
	int append;        /* >> */
};

/* 1 and *c filled when cmd is simple; 0 otherwise. */
int shell_simple(const char *cmd, struct simple_cmd *c);
void simple_cmd_free(struct simple_cmd *c);

#endif
