/* result: cairn's action result as REAPI's ActionResult, the value a
 * remote action cache keeps under an Action digest. */
#ifndef CAIRN_RESULT_H
#define CAIRN_RESULT_H
#include "store/store.h"
#include "util/str.h"
#include <stddef.h>

/* Append r, encoded as an ActionResult, to b. The discovered inputs have
 * no field in the protocol and are left out (see result.c). */
void result_encode(const struct action_result *r, struct buf *b);
/* An executor's separate stderr (cairn's own results merge it into the log). */
struct result_stderr {
	struct digest d;
	uint64_t size; /* 0: none */
};

/* Decode an ActionResult into *r (owned by the caller: action_result_free).
 * 0, or -1 with *why (a static string) when the bytes are no ActionResult
 * or one cairn cannot take: an output path that is absolute or climbs out,
 * a digest that is not SHA-256, inlined bytes, a separate stderr (unless
 * err is given: then it goes there). */
int result_decode(const void *p, size_t n, struct action_result *r, struct result_stderr *err,
                  const char **why);

#endif
