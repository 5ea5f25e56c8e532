/*
 * Parsing of the site configuration (format in config.h). The parser
 * works on a byte range so that tests hand it strings; config_load only
 * adds the reading of the file.
 */
#include "web/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CONFIG_FILE_MAX = 64 * 1024 };

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

/* Narrows [*s, *e) to drop blanks at both ends. */
static void trim(const char **s, const char **e)
{
	while (*s < *e && is_blank(**s))
		(*s)++;
	while (*e > *s && is_blank((*e)[-1]))
		(*e)--;
}

/* Whether [s, e) is exactly the NUL-terminated word w. */
static int is_word(const char *s, const char *e, const char *w)
{
	size_t n = strlen(w);
	return (size_t)(e - s) == n && memcmp(s, w, n) == 0;
}

int config_parse(struct web_config *c, const char *text, size_t len, char *err, size_t errlen)
{
	const char *p = text, *end = text + len;
	int line = 0, seen_message = 0, seen_healthy = 0;

	c->message[0] = '\0';
	c->healthy = 1;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *ks = p, *ke, *vs, *ve = le;
		const char *eq;

		line++;
		p = nl ? nl + 1 : end;
		if (memchr(ks, '\0', (size_t)(le - ks))) {
			snprintf(err, errlen, "line %d: NUL byte", line);
			return -1;
		}
		trim(&ks, &ve);
		if (ks == ve || *ks == '#')
			continue;
		eq = memchr(ks, '=', (size_t)(ve - ks));
		if (!eq) {
			snprintf(err, errlen, "line %d: expected 'key = value'", line);
			return -1;
		}
		ke = eq;
		vs = eq + 1;
		trim(&ks, &ke);
		trim(&vs, &ve);
		if (is_word(ks, ke, "message")) {
			size_t n = (size_t)(ve - vs);
			if (seen_message++) {
				snprintf(err, errlen, "line %d: 'message' given twice", line);
				return -1;
			}
			if (n >= sizeof c->message) {
				snprintf(err, errlen, "line %d: message longer than %d bytes",
				         line, CONFIG_MESSAGE_MAX - 1);
				return -1;
			}
			memcpy(c->message, vs, n);
			c->message[n] = '\0';
		} else if (is_word(ks, ke, "healthy")) {
			if (seen_healthy++) {
				snprintf(err, errlen, "line %d: 'healthy' given twice", line);
				return -1;
			}
			if (is_word(vs, ve, "true")) {
				c->healthy = 1;
			} else if (is_word(vs, ve, "false")) {
				c->healthy = 0;
			} else {
				snprintf(err, errlen, "line %d: healthy must be true or false, not '%.*s'",
				         line, (int)(ve - vs > 40 ? 40 : ve - vs), vs);
				return -1;
			}
		} else {
			snprintf(err, errlen, "line %d: unknown key '%.*s'",
			         line, (int)(ke - ks > 40 ? 40 : ke - ks), ks);
			return -1;
		}
	}
	return 0;
}

int config_load(struct web_config *c, const char *path, char *err, size_t errlen)
{
	char why[256];
	char *buf = NULL;
	size_t n;
	int rc = -1;
	FILE *f = fopen(path, "rb");

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* one byte more than allowed, to tell "exactly the limit" from "over" */
	buf = malloc(CONFIG_FILE_MAX + 1);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read: %s", path, strerror(errno));
		goto fail;
	}
	if (n > CONFIG_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %d bytes", path, CONFIG_FILE_MAX);
		goto fail;
	}
	if (config_parse(c, buf, n, why, sizeof why) != 0) {
		/* why is "line N: reason"; point at the file the way compilers do */
		snprintf(err, errlen, "%s:%s", path, why + strlen("line "));
		goto fail;
	}
	rc = 0;
fail:
	free(buf);
	fclose(f);
	return rc;
}
