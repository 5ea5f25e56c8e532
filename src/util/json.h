/* json: writing JSON strings (events, traces, compile_commands). */
#ifndef CAIRN_JSON_H
#define CAIRN_JSON_H
#include "util/str.h"

/* Append s as a quoted, escaped JSON string. */
void json_str(struct buf *b, const char *s);

#endif
