/* serve/auth: who may call `cairn serve` (--auth-token-file). The file
 * has a line per token, "TOKEN rw|ro [NAME]" ('#' starts a comment):
 * a call must carry "authorization: Bearer TOKEN" of one of them
 * (else UNAUTHENTICATED), and a read-only token may not write
 * (BatchUpdateBlobs, ByteStream Write, UpdateActionResult, Execute:
 * PERMISSION_DENIED). That is how CI writes and laptops only read. */
#ifndef CAIRN_SERVE_AUTH_H
#define CAIRN_SERVE_AUTH_H
#include "util/err.h"

struct auth;

/* Read the token file: 0, or -1 with *e ("PATH:LINE: error: ..."). */
int auth_load(const char *path, struct auth **out, struct err *e);
void auth_free(struct auth *a);
/* As srv_set_auth's check: ctx is the auth. */
int auth_check(void *ctx, const char *authorization, const char *path, const char **msg);

#endif
