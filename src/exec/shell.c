/* shell: a deliberately small recognizer. It accepts less than the shell
 * does, never more: when in doubt the command goes to /bin/sh. */
#include "exec/shell.h"
#include "util/str.h"
#include "util/util.h"
#include <stdlib.h>
#include <string.h>

/* Characters that may stand unquoted in a word. */
static int plain(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("_-./,+:@%=", c) != NULL;
}

/* Shell builtins and keywords: these must run in a shell. */
static const char *const builtins[] = {
	"alias", "bg", "break", "case", "cd", "command", "continue", "do", "done",
	"echo", "elif", "else", "esac", "eval", "exec", "exit", "export", "false",
	"fc", "fg", "fi", "for", "getopts", "hash", "if", "jobs", "kill", "local",
	"printf", "pwd", "read", "readonly", "return", "set", "shift", "test",
	"then", "times", "trap", "true", "type", "ulimit", "umask", "unalias",
	"unset", "until", "wait", "while", "[", NULL,
};

/* Read one word at *p into b; 0 at a word's end, -1 when not simple. */
static int word(const char **p, struct buf *b)
{
	const char *s = *p;
	int any = 0;
	while (*s && *s != ' ' && *s != '\t') {
		if (*s == '\'') {
			const char *e = strchr(s + 1, '\'');
			if (!e)
				return -1;
			buf_putn(b, s + 1, (size_t)(e - s - 1));
			s = e + 1;
		} else if (plain(*s)) {
			buf_putc(b, *s++);
		} else {
			return -1;
		}
		any = 1;
	}
	*p = s;
	if (!b->s)
		buf_putn(b, "", 0);
	return any ? 0 : -1;
}

int shell_simple(const char *cmd, struct simple_cmd *c)
{
	memset(c, 0, sizeof *c);
	size_t cap = 0;
	const char *p = cmd;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		char **target = NULL;
		if (*p == '<') {
			target = &c->in;
			p++;
		} else if (*p == '>') {
			target = &c->out;
			p++;
			if (*p == '>') {
				c->append = 1;
				p++;
			}
		}
		if (target) {
			while (*p == ' ' || *p == '\t')
				p++;
			if (*target)
				goto no;
		}
		struct buf b = {0};
		if (word(&p, &b) < 0) {
			buf_free(&b);
			goto no;
		}
		if (target) {
			*target = buf_take(&b);
		} else {
			vec_reserve(&c->argv, &cap, c->argc + 2, sizeof *c->argv);
			c->argv[c->argc++] = buf_take(&b);
			c->argv[c->argc] = NULL;
		}
	}
	if (c->argc == 0 || strchr(c->argv[0], '='))
		goto no;
	for (const char *const *bi = builtins; *bi; bi++)
		if (!strcmp(*bi, c->argv[0]))
			goto no;
	return 1;
no:
	simple_cmd_free(c);
	return 0;
}

void simple_cmd_free(struct simple_cmd *c)
{
	for (size_t i = 0; i < c->argc; i++)
		free(c->argv[i]);
	free(c->argv);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof *c);
}
