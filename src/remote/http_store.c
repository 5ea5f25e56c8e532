/* http_store: the remote cache over HTTP (http_store.h).
 *
 * The protocol is bazel-remote's, which nginx with WebDAV PUT also
 * speaks:
 *   GET  PREFIX/ac/<hex>   the ActionResult (result.c) for the Action
 *                          digest <hex>: 200 and the bytes, or 404
 *   GET  PREFIX/cas/<hex>  a blob by its SHA-256
 *   PUT  PREFIX/cas/<hex>, PREFIX/ac/<hex>   store (any 2xx)
 *
 * The local store is the first level: every op goes there first, and a
 * result found remotely is copied down (its blobs, then the result), so
 * the next lookup and every get_file/get_blob is local.
 *
 * Invariants:
 * - No byte from the network reaches the local store unverified: every
 *   blob of a remote result is fetched into memory and checked against
 *   its digest and size; only when all of them are good are they stored,
 *   then the result. One bad or missing blob makes the whole result a
 *   miss, with nothing stored.
 * - Faults never fail a build. A request that cannot be made (refused,
 *   timed out, cut), a 5xx, or a blob whose bytes do not match is tried
 *   TRIES times with exponential backoff and jitter; then the remote is
 *   given up for the rest of the build, its reason kept for the CLI's one
 *   warning, and every op is local only. Another 4xx than 404 (say 401)
 *   gives it up at once: trying again would not help.
 * - A 404 for an entry is a miss; for a blob that a result names, the
 *   result is a miss.
 * - One request at a time (a mutex), over one keep-alive connection. */
#include "remote/http_store.h"
#include "remote/http.h"
#include "remote/result.h"
#include "util/fs.h"
#include "util/util.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { TRIES = 3, BACKOFF_MS = 50 };

struct http_store {
	struct store base;  /* first: a struct store * is a struct http_store * */
	struct store *local; /* the first level; owned */
	struct http *http;
	char *url;          /* canonical, for messages; owned */
	char *prefix;       /* "" or "/a/b"; owned */
	int upload;
	int absent;         /* given up for this build */
	char *why;          /* why it was given up; owned */
	size_t hits;        /* results answered remotely */
	unsigned seed;      /* for the jitter */
	pthread_mutex_t mu; /* over everything below base and local */
};

static void give_up(struct http_store *s, char *why)
{
	if (!s->absent) {
		s->absent = 1;
		s->why = why;
	} else {
		free(why);
	}
}

/* Sleep before try number `attempt` (1, 2, ...): BACKOFF_MS * 2^(attempt-1),
 * times a random factor in [0.5, 1.5). */
static void backoff(struct http_store *s, int attempt)
{
	double ms = BACKOFF_MS * (double)(1u << (attempt - 1));
	ms *= 0.5 + (double)rand_r(&s->seed) / ((double)RAND_MAX + 1.0);
	struct timespec ts = {(time_t)(ms / 1000), (long)((ms - 1000 * (double)(time_t)(ms / 1000)) * 1e6)};
	while (nanosleep(&ts, &ts) < 0)
		;
}

/* "PREFIX/kind/<hex>" */
static char *target(struct http_store *s, const char *kind, const struct digest *d)
{
	char hex[65];
	digest_hex(d, hex);
	return xasprintf("%s/%s/%s", s->prefix, kind, hex);
}

/* One request, tried again on a fault. If want is given (a blob's digest
 * and size), a 200 whose body does not match it is a fault too. The HTTP
 * status (200, 404, ...), or -1: given up (s->absent). */
static int call(struct http_store *s, const char *method, const char *kind,
                const struct digest *d, const void *body, size_t n, struct buf *resp,
                const uint64_t *want_size)
{
	char *t = target(s, kind, d);
	int status = -1;
	char *why = NULL;
	for (int attempt = 1; attempt <= TRIES && !s->absent; attempt++) {
		if (attempt > 1)
			backoff(s, attempt - 1);
		free(why);
		why = NULL;
		if (resp)
			buf_reset(resp);
		if (http_request(s->http, method, t, body, n, &status, resp, &why) < 0)
			continue;
		if (status >= 500) {
			why = xasprintf("%s %s: HTTP %d", method, t, status);
			continue;
		}
		if (status >= 400 && status != 404) {
			give_up(s, xasprintf("%s %s: HTTP %d", method, t, status));
			break;
		}
		if (want_size && status == 200) {
			struct digest got;
			sha_buf(resp->s ? resp->s : "", resp->len, &got);
			if (resp->len != *want_size || !digest_eq(&got, d)) {
				why = xasprintf("blob %s does not match its digest", t);
				http_close(s->http); /* the next try on a new connection */
				continue;
			}
		}
		free(t);
		return status;
	}
	if (why)
		give_up(s, why);
	free(t);
	return -1;
}

/* The result for key from the remote, its blobs verified and stored
 * locally, then the result itself. 1 hit, 0 miss. */
static int remote_get(struct http_store *s, const struct digest *key, struct action_result *r)
{
	struct buf b = {0};
	if (call(s, "GET", "ac", key, NULL, 0, &b, NULL) != 200) {
		buf_free(&b);
		return 0;
	}
	const char *why;
	int ok = result_decode(b.s ? b.s : "", b.len, r, &why) == 0 && r->exit_code == 0;
	buf_free(&b);
	if (!ok) {
		action_result_free(r);
		memset(r, 0, sizeof *r);
		return 0;
	}
	/* the outputs, then the log: all fetched and verified before any is kept */
	size_t n = r->noutputs + 1;
	struct buf *blobs = xcalloc(n, sizeof *blobs);
	for (size_t i = 0; i < n && ok; i++) {
		const struct digest *d = i < r->noutputs ? &r->outputs[i].d : &r->log;
		uint64_t size = i < r->noutputs ? r->outputs[i].size : r->log_size;
		if (size > 0)
			ok = call(s, "GET", "cas", d, NULL, 0, &blobs[i], &size) == 200;
	}
	struct digest empty;
	sha_buf("", 0, &empty);
	for (size_t i = 0; i < n && ok; i++) {
		struct digest got;
		const struct digest *d = i < r->noutputs ? &r->outputs[i].d : &r->log;
		if (!blobs[i].len && !digest_eq(d, &empty))
			continue; /* an empty log is named by zeros: nothing to store */
		if (s->local->ops->put_blob(s->local, blobs[i].s ? blobs[i].s : "", blobs[i].len, &got) < 0 ||
		    !digest_eq(&got, d))
			ok = 0;
	}
	for (size_t i = 0; i < n; i++)
		buf_free(&blobs[i]);
	free(blobs);
	if (ok)
		s->local->ops->put_result(s->local, key, r);
	s->base.put_errno = s->local->put_errno;
	if (!ok) {
		action_result_free(r);
		memset(r, 0, sizeof *r);
		return 0;
	}
	s->hits++;
	r->remote = 1;
	return 1;
}

static int hs_get_result(struct store *st, const struct digest *key, struct action_result *r)
{
	struct http_store *s = (struct http_store *)st;
	if (s->local->ops->get_result(s->local, key, r) == 1)
		return 1;
	pthread_mutex_lock(&s->mu);
	int hit = !s->absent && remote_get(s, key, r);
	pthread_mutex_unlock(&s->mu);
	return hit;
}

/* Blob d's bytes from the local store into b, verified. The local store
 * keeps an executable blob apart (cas/.../<hex>.x) and get_blob reads
 * only the other kind: an executable output is read through get_file,
 * into a temporary file. 0 or -1. */
static int local_bytes(struct http_store *s, const struct digest *d, unsigned mode, struct buf *b)
{
	if (s->local->ops->get_blob(s->local, d, b) == 0)
		return 0;
	if (!(mode & 0111))
		return -1;
	const char *dir = getenv("TMPDIR");
	char *tmp = xasprintf("%s/cairn-upload.XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(tmp), rc = -1;
	if (fd >= 0) {
		close(fd);
		if (s->local->ops->get_file(s->local, d, tmp, mode) == 0 && fs_read_all(tmp, b) == 0) {
			struct digest got;
			sha_buf(b->s ? b->s : "", b->len, &got);
			rc = digest_eq(&got, d) ? 0 : -1;
		}
		unlink(tmp);
	}
	free(tmp);
	return rc;
}

/* Upload r's blobs (from the local store), then r. Best effort. */
static void remote_put(struct http_store *s, const struct digest *key, const struct action_result *r)
{
	size_t n = r->noutputs + 1;
	for (size_t i = 0; i < n && !s->absent; i++) {
		const struct digest *d = i < r->noutputs ? &r->outputs[i].d : &r->log;
		uint64_t size = i < r->noutputs ? r->outputs[i].size : r->log_size;
		if (size == 0)
			continue; /* the empty blob is everywhere */
		struct buf b = {0};
		int st = -1;
		unsigned mode = i < r->noutputs ? r->outputs[i].mode : 0644;
		if (local_bytes(s, d, mode, &b) == 0)
			st = call(s, "PUT", "cas", d, b.s, b.len, NULL, NULL);
		int ok = st >= 200 && st < 300;
		buf_free(&b);
		if (!ok)
			return; /* a result must not name a blob the remote lacks */
	}
	if (s->absent)
		return;
	struct buf b = {0};
	result_encode(r, &b);
	call(s, "PUT", "ac", key, b.s, b.len, NULL, NULL);
	buf_free(&b);
}

static int hs_put_result(struct store *st, const struct digest *key, const struct action_result *r)
{
	struct http_store *s = (struct http_store *)st;
	int rc = s->local->ops->put_result(s->local, key, r);
	s->base.put_errno = s->local->put_errno;
	if (!s->upload || r->exit_code != 0)
		return rc;
	pthread_mutex_lock(&s->mu);
	if (!s->absent)
		remote_put(s, key, r);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int hs_put_file(struct store *st, const char *path, struct digest *d, uint64_t *size)
{
	struct http_store *s = (struct http_store *)st;
	int rc = s->local->ops->put_file(s->local, path, d, size);
	s->base.put_errno = s->local->put_errno;
	return rc;
}

static int hs_put_blob(struct store *st, const void *p, size_t n, struct digest *d)
{
	struct http_store *s = (struct http_store *)st;
	int rc = s->local->ops->put_blob(s->local, p, n, d);
	s->base.put_errno = s->local->put_errno;
	return rc;
}

static int hs_get_file(struct store *st, const struct digest *d, const char *dst, unsigned mode)
{
	struct http_store *s = (struct http_store *)st;
	return s->local->ops->get_file(s->local, d, dst, mode);
}

static int hs_get_blob(struct store *st, const struct digest *d, struct buf *b)
{
	struct http_store *s = (struct http_store *)st;
	return s->local->ops->get_blob(s->local, d, b);
}

static void hs_close(struct store *st)
{
	struct http_store *s = (struct http_store *)st;
	s->local->ops->close(s->local);
	http_free(s->http);
	pthread_mutex_destroy(&s->mu);
	free(s->url);
	free(s->prefix);
	free(s->why);
	free(s);
}

static const struct store_ops http_store_ops = {
	.get_result = hs_get_result,
	.put_result = hs_put_result,
	.put_file = hs_put_file,
	.put_blob = hs_put_blob,
	.get_file = hs_get_file,
	.get_blob = hs_get_blob,
	.close = hs_close,
};

struct store *http_store_open(struct store *local, const struct http_store_opts *o)
{
	struct http_store *s = xcalloc(1, sizeof *s);
	s->base.ops = &http_store_ops;
	s->local = local;
	s->http = http_new(o->url->host, o->url->port, o->headers, o->nheaders, o->timeout_ms);
	s->url = url_format(o->url);
	s->prefix = *o->url->prefix ? xasprintf("/%s", o->url->prefix) : xstrdup("");
	s->upload = o->upload;
	s->seed = (unsigned)now_ns();
	pthread_mutex_init(&s->mu, NULL);
	return &s->base;
}

size_t http_store_hits(struct store *st)
{
	struct http_store *s = (struct http_store *)st;
	pthread_mutex_lock(&s->mu);
	size_t n = s->hits;
	pthread_mutex_unlock(&s->mu);
	return n;
}

char *http_store_why(struct store *st)
{
	struct http_store *s = (struct http_store *)st;
	pthread_mutex_lock(&s->mu);
	char *w = s->absent ? xasprintf("%s: %s", s->url, s->why) : NULL;
	pthread_mutex_unlock(&s->mu);
	return w;
}
