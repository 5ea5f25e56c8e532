/* json: writing JSON strings (events, traces, compile_commands), and
 * reading a flat object back (the audit log). */
#ifndef CAIRN_JSON_H
#define CAIRN_JSON_H
#include "util/str.h"
#include <stddef.h>

/* Append s as a quoted, escaped JSON string. */
void json_str(struct buf *b, const char *s);

/* A member of a flat object, decoded. */
struct json_member {
	char *key;
	char *val;  /* a string's text (UTF-8, escapes undone), or a number,
	               true, false or null as written */
	int str;    /* val was a string */
};

/* Parse s[0..len) as one JSON object whose values are strings, numbers
 * or literals (no nested object or array), each key once, with nothing
 * but blanks around it: its members, in order, into a fresh *m of *n.
 * 0, or -1 (nothing to free). */
int json_flat_parse(const char *s, size_t len, struct json_member **m, size_t *n);
void json_members_free(struct json_member *m, size_t n);

#endif
