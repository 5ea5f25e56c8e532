/* serve/auth: bearer tokens, read-write or read-only (auth.h). Tokens are
 * compared in time that does not depend on where they differ. */
#include "serve/auth.h"
#include "remote/grpc.h"
#include "util/fs.h"
#include "util/str.h"
#include "util/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct token {
	char *secret;
	int rw;
};

struct auth {
	struct token *t;
	size_t n, cap;
};

int auth_load(const char *path, struct auth **out, struct err *e)
{
	struct buf b = {0};
	if (fs_read_all(path, &b) < 0)
		return err_sys(e, "cannot read %s", path);
	struct auth *a = xcalloc(1, sizeof *a);
	int line = 0, rc = 0;
	for (char *p = b.s, *nl; p && p < b.s + b.len && rc == 0; p = nl + 1) {
		line++;
		nl = memchr(p, '\n', (size_t)(b.s + b.len - p));
		if (!nl)
			nl = b.s + b.len;
		*nl = 0;
		char *hash = strchr(p, '#');
		if (hash)
			*hash = 0;
		char *save, *tok = strtok_r(p, " \t\r", &save), *mode = strtok_r(NULL, " \t\r", &save);
		if (!tok)
			continue;
		char where[4200];
		snprintf(where, sizeof where, "%s:%d", path, line);
		if (!mode || (strcmp(mode, "rw") && strcmp(mode, "ro"))) {
			rc = err_input(e, where, "want 'TOKEN rw|ro [NAME]'");
		} else if (strlen(tok) < 16) {
			rc = err_input(e, where, "a token of at least 16 characters");
		} else {
			struct token t = {xstrdup(tok), !strcmp(mode, "rw")};
			VEC_PUSH(a->t, a->n, a->cap, t);
		}
	}
	buf_free(&b);
	if (rc == 0 && a->n == 0)
		rc = err_input(e, NULL, "%s: no token in it", path);
	if (rc < 0) {
		auth_free(a);
		return -1;
	}
	*out = a;
	return 0;
}

void auth_free(struct auth *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		free(a->t[i].secret);
	free(a->t);
	free(a);
}

/* Equal, in time that depends on their lengths only. */
static int same(const char *x, const char *y)
{
	size_t n = strlen(x), m = strlen(y);
	unsigned d = n != m;
	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)x[i] ^ (unsigned char)y[i < m ? i : 0];
	return d == 0;
}

static int writes(const char *path)
{
	static const char *const w[] = {"/BatchUpdateBlobs", "/Write", "/UpdateActionResult",
	                                "/Execute", NULL};
	size_t n = strlen(path);
	for (const char *const *p = w; *p; p++) {
		size_t k = strlen(*p);
		if (n >= k && !strcmp(path + n - k, *p))
			return 1;
	}
	return 0;
}

int auth_check(void *ctx, const char *authorization, const char *path, const char **msg)
{
	struct auth *a = ctx;
	if (!authorization || strncmp(authorization, "Bearer ", 7) != 0) {
		*msg = "an authorization: Bearer TOKEN header is needed";
		return GRPC_UNAUTHENTICATED;
	}
	const char *tok = authorization + 7;
	for (size_t i = 0; i < a->n; i++) {
		if (!same(tok, a->t[i].secret))
			continue;
		if (!a->t[i].rw && writes(path)) {
			*msg = "this token may only read";
			return GRPC_PERMISSION_DENIED;
		}
		return GRPC_OK;
	}
	*msg = "unknown token";
	return GRPC_UNAUTHENTICATED;
}
