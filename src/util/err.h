/* err: the two tiers of errors. A user-input error carries its location
 * and the chain of calls that led there, already formatted:
 *   lib/BUILD.lua:12: error: MESSAGE
 *     called from ...
 * A system error ends with strerror. Below the CLI, functions fill an
 * err and return -1; they never exit. */
#ifndef CAIRN_ERR_H
#define CAIRN_ERR_H

enum err_kind {
	ERR_NONE = 0,
	ERR_INPUT,  /* bad user input: exit 2 */
	ERR_SYSTEM, /* the OS failed us: exit 2 as well, different wording */
};

struct err {
	enum err_kind kind; /* which tier; the unit tests check it (both exit 2) */
	char *msg; /* the full text, without the trailing newline; owned */
};

/* Set a user-input error; `where` is "file:line" or NULL. Returns -1. */
int err_input(struct err *e, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Set a system error: the message plus strerror(errno). Returns -1. */
int err_sys(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Take ownership of a preformatted message. Returns -1. */
int err_take(struct err *e, enum err_kind kind, char *msg);
void err_clear(struct err *e);

#endif
