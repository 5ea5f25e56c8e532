/* err: formatting of the two error tiers. */
#include "util/err.h"
#include "util/str.h"
#include "util/util.h"
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int err_input(struct err *e, const char *where, const char *fmt, ...)
{
	struct buf b = {0};
	if (where)
		buf_printf(&b, "%s: ", where);
	buf_puts(&b, "error: ");
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	return err_take(e, ERR_INPUT, buf_take(&b));
}

int err_sys(struct err *e, const char *fmt, ...)
{
	int saved = errno;
	struct buf b = {0};
	buf_puts(&b, "error: ");
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_printf(&b, ": %s", strerror(saved));
	return err_take(e, ERR_SYSTEM, buf_take(&b));
}

int err_take(struct err *e, enum err_kind kind, char *msg)
{
	free(e->msg);
	e->kind = kind;
	e->msg = msg;
	return -1;
}

void err_clear(struct err *e)
{
	free(e->msg);
	e->msg = NULL;
	e->kind = ERR_NONE;
}
