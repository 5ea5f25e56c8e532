/* remote_store: a remote cache as the second level (remote_store.h).
 *
 * The local store is the first level: every op goes there first, and a
 * result found remotely is copied down (its blobs, then the result), so
 * the next lookup and every get_file/get_blob is local.
 *
 * Invariants:
 * - No byte from the network reaches the local store unverified: cas
 *   checks every blob against its digest and size, and all of a result's
 *   blobs are had before any is stored, then the result. One bad or
 *   missing blob makes the whole result a miss, with nothing stored.
 * - Faults never fail a build: cas tries again, then gives the remote up
 *   for the rest of the build, and every op is local only.
 * - A result is uploaded after its blobs, and only the blobs the remote
 *   lacks (when the protocol can ask). */
#include "remote/remote_store.h"
#include "remote/result.h"
#include "util/fs.h"
#include "util/map.h"
#include "util/util.h"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct remote_store {
	struct store base;   /* first: a struct store * is a struct remote_store * */
	struct store *local; /* the first level; owned */
	struct cas *cas;     /* not owned */
	int upload;
	int lazy;            /* a remote hit fetches no blob: get_file and
	                        get_blob fetch on a local miss */
	pthread_mutex_t mu;  /* over hits and sizes */
	size_t hits;         /* results answered remotely */
	struct map sizes;    /* lazy: blob hex -> its size + 1, for the blobs
	                        of the results answered remotely */
};

static void note_size(struct remote_store *s, const struct digest *d, uint64_t size)
{
	char hex[65];
	digest_hex(d, hex);
	pthread_mutex_lock(&s->mu);
	if (!map_get(&s->sizes, hex))
		map_put(&s->sizes, xstrdup(hex), (void *)(uintptr_t)(size + 1));
	pthread_mutex_unlock(&s->mu);
}

/* The size of a blob named by a remote result, or -1 when none named it. */
static int64_t size_of(struct remote_store *s, const struct digest *d)
{
	char hex[65];
	digest_hex(d, hex);
	pthread_mutex_lock(&s->mu);
	uintptr_t v = (uintptr_t)map_get(&s->sizes, hex);
	pthread_mutex_unlock(&s->mu);
	return (int64_t)v - 1;
}

/* Fetch r's blobs (its outputs, its log and, when err has one, a separate
 * stderr), verified, and store them locally; the log becomes stdout then
 * stderr in one blob. 0, or -1 with *why (fresh). */
static int fetch_blobs(struct remote_store *s, struct action_result *r,
                       const struct result_stderr *err, char **why)
{
	size_t n = r->noutputs + 2;
	struct cas_blob *v = xcalloc(n, sizeof *v);
	for (size_t i = 0; i < r->noutputs; i++) {
		v[i].d = r->outputs[i].d;
		v[i].size = r->outputs[i].size;
	}
	v[r->noutputs].d = r->log;
	v[r->noutputs].size = r->log_size;
	if (err)
		v[n - 1] = (struct cas_blob){.d = err->d, .size = err->size};
	else
		n--;
	int rc = cas_get_blobs(s->cas, v, n), ok = rc == CAS_OK;
	if (!ok)
		*why = rc == CAS_MISS ? xstrdup("a blob it names is missing") : cas_why(s->cas);
	if (ok && err && err->size) {
		buf_putn(&v[r->noutputs].data, v[n - 1].data.s, v[n - 1].data.len);
		buf_reset(&v[n - 1].data);
	}
	for (size_t i = 0; i < n && ok; i++) {
		struct digest got;
		if (!v[i].data.len)
			continue; /* the empty blob is everywhere */
		if (s->local->ops->put_blob(s->local, v[i].data.s, v[i].data.len, &got) < 0) {
			*why = xstrdup("the local store cannot keep it");
			ok = 0;
		} else if (i == r->noutputs) {
			r->log = got;
			r->log_size = v[i].data.len;
		}
	}
	s->base.put_errno = s->local->put_errno;
	for (size_t i = 0; i < n; i++)
		buf_free(&v[i].data);
	free(v);
	return ok ? 0 : -1;
}

/* The result for key from the remote, its blobs verified and stored
 * locally, then the result itself. 1 hit, 0 miss. */
static int remote_get(struct remote_store *s, const struct digest *key, struct action_result *r)
{
	struct buf b = {0};
	if (cas_get_result(s->cas, key, &b) != CAS_OK) {
		buf_free(&b);
		return 0;
	}
	const char *dwhy;
	char *why = NULL;
	int ok = result_decode(b.s ? b.s : "", b.len, r, NULL, &dwhy) == 0 && r->exit_code == 0;
	buf_free(&b);
	if (ok && !s->lazy)
		ok = fetch_blobs(s, r, NULL, &why) == 0;
	for (size_t i = 0; ok && s->lazy && i <= r->noutputs; i++) {
		if (i < r->noutputs)
			note_size(s, &r->outputs[i].d, r->outputs[i].size);
		else
			note_size(s, &r->log, r->log_size);
	}
	free(why);
	if (ok)
		s->local->ops->put_result(s->local, key, r);
	s->base.put_errno = s->local->put_errno;
	if (!ok) {
		action_result_free(r);
		memset(r, 0, sizeof *r);
		return 0;
	}
	pthread_mutex_lock(&s->mu);
	s->hits++;
	pthread_mutex_unlock(&s->mu);
	r->remote = 1;
	return 1;
}

int remote_store_adopt(struct store *st, const void *p, size_t n, struct action_result *r,
                       char **why)
{
	struct remote_store *s = (struct remote_store *)st;
	struct result_stderr err;
	const char *dwhy;
	if (result_decode(p, n, r, &err, &dwhy) < 0) {
		*why = xasprintf("its result: %s", dwhy);
		return -1;
	}
	if (fetch_blobs(s, r, &err, why) < 0) {
		action_result_free(r);
		memset(r, 0, sizeof *r);
		return -1;
	}
	return 0;
}

static int rs_get_result(struct store *st, const struct digest *key, struct action_result *r)
{
	struct remote_store *s = (struct remote_store *)st;
	if (s->local->ops->get_result(s->local, key, r) == 1) {
		/* its blobs may be remote still (kept lazily by an earlier build) */
		for (size_t i = 0; s->lazy && i < r->noutputs; i++)
			note_size(s, &r->outputs[i].d, r->outputs[i].size);
		return 1;
	}
	return !cas_absent(s->cas) && remote_get(s, key, r);
}

/* Blob d's bytes from the local store into b, verified. The local store
 * keeps an executable blob apart (cas/.../<hex>.x) and get_blob reads
 * only the other kind: an executable output is read through get_file,
 * into a temporary file. 0 or -1. */
static int local_bytes(struct remote_store *s, const struct digest *d, unsigned mode, struct buf *b)
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

int remote_store_upload(struct store *st, const struct digest *key, const struct action_result *r)
{
	struct remote_store *s = (struct remote_store *)st;
	size_t n = r->noutputs + 1;
	struct cas_blob *v = xcalloc(n, sizeof *v);
	for (size_t i = 0; i < n; i++) {
		v[i].d = i < r->noutputs ? r->outputs[i].d : r->log;
		v[i].size = i < r->noutputs ? r->outputs[i].size : r->log_size;
	}
	int ok = cas_find_missing(s->cas, v, n) == CAS_OK;
	for (size_t i = 0; i < n && ok; i++) {
		unsigned mode = i < r->noutputs ? r->outputs[i].mode : 0644;
		if (!v[i].size)
			v[i].missing = 0; /* the empty blob is everywhere */
		else if (v[i].missing && local_bytes(s, &v[i].d, mode, &v[i].data) < 0)
			ok = 0; /* a result must not name a blob the remote lacks */
	}
	ok = ok && cas_put_blobs(s->cas, v, n) == CAS_OK;
	for (size_t i = 0; i < n; i++)
		buf_free(&v[i].data);
	free(v);
	if (ok) {
		struct buf b = {0};
		result_encode(r, &b);
		ok = cas_put_result(s->cas, key, b.s ? b.s : "", b.len) == CAS_OK;
		buf_free(&b);
	}
	return ok ? 0 : -1;
}

static int rs_put_result(struct store *st, const struct digest *key, const struct action_result *r)
{
	struct remote_store *s = (struct remote_store *)st;
	int rc = s->local->ops->put_result(s->local, key, r);
	s->base.put_errno = s->local->put_errno;
	if (s->upload && r->exit_code == 0 && !cas_absent(s->cas))
		remote_store_upload(st, key, r);
	return rc;
}

static int rs_put_file(struct store *st, const char *path, struct digest *d, uint64_t *size)
{
	struct remote_store *s = (struct remote_store *)st;
	int rc = s->local->ops->put_file(s->local, path, d, size);
	s->base.put_errno = s->local->put_errno;
	return rc;
}

static int rs_put_blob(struct store *st, const void *p, size_t n, struct digest *d)
{
	struct remote_store *s = (struct remote_store *)st;
	int rc = s->local->ops->put_blob(s->local, p, n, d);
	s->base.put_errno = s->local->put_errno;
	return rc;
}

/* A blob the local store lacks, from the remote (verified) into it. The
 * size is not known here: the remote's answer must hash to d. 0 or -1. */
static int fetch_one(struct remote_store *s, const struct digest *d)
{
	int64_t size = s->lazy && !cas_absent(s->cas) ? size_of(s, d) : -1;
	if (size < 0)
		return -1;
	struct cas_blob v = {.d = *d, .size = (uint64_t)size};
	struct digest got;
	int ok = cas_get_blobs(s->cas, &v, 1) == CAS_OK &&
	         s->local->ops->put_blob(s->local, v.data.s ? v.data.s : "", v.data.len, &got) == 0 &&
	         digest_eq(&got, d);
	s->base.put_errno = s->local->put_errno;
	buf_free(&v.data);
	return ok ? 0 : -1;
}

static int rs_get_file(struct store *st, const struct digest *d, const char *dst, unsigned mode)
{
	struct remote_store *s = (struct remote_store *)st;
	if (s->local->ops->get_file(s->local, d, dst, mode) == 0)
		return 0;
	return fetch_one(s, d) == 0 ? s->local->ops->get_file(s->local, d, dst, mode) : -1;
}

static int rs_get_blob(struct store *st, const struct digest *d, struct buf *b)
{
	struct remote_store *s = (struct remote_store *)st;
	if (s->local->ops->get_blob(s->local, d, b) == 0)
		return 0;
	return fetch_one(s, d) == 0 ? s->local->ops->get_blob(s->local, d, b) : -1;
}

static void rs_close(struct store *st)
{
	struct remote_store *s = (struct remote_store *)st;
	s->local->ops->close(s->local);
	pthread_mutex_destroy(&s->mu);
	for (size_t i = 0; i < s->sizes.cap; i++)
		free((char *)s->sizes.slots[i].key);
	map_free(&s->sizes);
	free(s);
}

static const struct store_ops remote_store_ops = {
	.get_result = rs_get_result,
	.put_result = rs_put_result,
	.put_file = rs_put_file,
	.put_blob = rs_put_blob,
	.get_file = rs_get_file,
	.get_blob = rs_get_blob,
	.close = rs_close,
};

struct store *remote_store_open(struct store *local, struct cas *cas, int upload, int lazy)
{
	struct remote_store *s = xcalloc(1, sizeof *s);
	s->base.ops = &remote_store_ops;
	s->local = local;
	s->cas = cas;
	s->upload = upload;
	s->lazy = lazy;
	pthread_mutex_init(&s->mu, NULL);
	return &s->base;
}

size_t remote_store_hits(struct store *st)
{
	struct remote_store *s = (struct remote_store *)st;
	pthread_mutex_lock(&s->mu);
	size_t n = s->hits;
	pthread_mutex_unlock(&s->mu);
	return n;
}
