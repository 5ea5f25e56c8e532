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
#include "util/pool.h"
#include "util/util.h"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { PREFETCHERS = 16, UPLOADERS = 4, UPLOAD_BATCH = 64 };

/* A result waiting to go up. */
struct upload {
	struct digest key;
	uint64_t key_size;
	struct action_result r; /* outputs and log; discovered left out */
};

struct remote_store {
	struct store base;   /* first: a struct store * is a struct remote_store * */
	struct store *local; /* the first level; owned */
	struct cas *cas;     /* not owned */
	int upload;
	int have_empty;      /* the empty blob is in the local store (atomic) */
	int lazy;            /* a remote hit fetches no blob: get_file and
	                        get_blob fetch on a local miss */
	pthread_mutex_t mu;  /* over hits and sizes */
	size_t hits;         /* results answered remotely */
	struct map sizes;    /* lazy: blob hex -> its size + 1, for the blobs
	                        of the results answered remotely */
	struct map ahead;    /* key hex -> struct ahead, looked up ahead by
	                        the prefetchers; under mu */
	pthread_cond_t cv;   /* a lookup ahead ended; under mu */
	struct pool *prefetchers; /* struct ahead items */
	struct pool *uploaders;   /* struct upload items, in batches */
};

/* One key looked up ahead. */
struct ahead {
	struct digest key;
	uint64_t key_size;
	int done;            /* under mu */
	int hit;             /* a hit, in the local store now */
	int remote;          /* and it came from the remote */
	int queued;          /* handed to the prefetchers (caller's thread only) */
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
		if (err && i == n - 1)
			break; /* the stderr went into the log */
		/* the empty blob too (the local store may lack it), but once */
		int put = v[i].data.len || !__atomic_load_n(&s->have_empty, __ATOMIC_ACQUIRE);
		if (!put) {
			sha_buf("", 0, &got);
		} else if (s->local->ops->put_blob(s->local, v[i].data.s ? v[i].data.s : "",
		                                   v[i].data.len, &got) < 0) {
			*why = xstrdup("the local store cannot keep it");
			ok = 0;
			break;
		} else if (!v[i].data.len) {
			__atomic_store_n(&s->have_empty, 1, __ATOMIC_RELEASE);
		}
		if (i == r->noutputs) {
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
static int remote_get(struct remote_store *s, const struct digest *key, uint64_t key_size,
                      struct action_result *r)
{
	struct buf b = {0};
	if (cas_get_result(s->cas, key, key_size, &b) != CAS_OK) {
		buf_free(&b);
		return 0;
	}
	const char *dwhy;
	char *why = NULL;
	struct result_stderr err;
	int ok = result_decode(b.s ? b.s : "", b.len, r, &err, &dwhy) == 0 && r->exit_code == 0;
	buf_free(&b);
	/* lazily, a separate stderr is not fetched: the log is stdout alone */
	if (ok && !s->lazy)
		ok = fetch_blobs(s, r, &err, &why) == 0;
	for (size_t i = 0; ok && s->lazy && i <= r->noutputs; i++) {
		if (i < r->noutputs)
			note_size(s, &r->outputs[i].d, r->outputs[i].size);
		else
			note_size(s, &r->log, r->log_size);
	}
	free(why);
	if (ok)
		s->local->ops->put_result(s->local, key, key_size, r);
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

static void prefetch_one(void *ctx, void **items, size_t n)
{
	struct remote_store *s = ctx;
	for (size_t i = 0; i < n; i++) {
		struct ahead *x = items[i];
		struct action_result r;
		int hit = s->local->ops->get_result(s->local, &x->key, x->key_size, &r) == 1, remote = 0;
		if (!hit)
			hit = remote = !cas_absent(s->cas) && remote_get(s, &x->key, x->key_size, &r) == 1;
		if (hit)
			action_result_free(&r);
		pthread_mutex_lock(&s->mu);
		x->hit = hit;
		x->remote = remote;
		x->done = 1;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
	}
}

static void rs_prefetch(struct store *st, const struct digest *keys, const uint64_t *key_sizes,
                        size_t n)
{
	struct remote_store *s = (struct remote_store *)st;
	if (cas_absent(s->cas))
		return;
	for (size_t i = 0; i < n; i++) {
		char hex[65];
		digest_hex(&keys[i], hex);
		pthread_mutex_lock(&s->mu);
		struct ahead *x = map_get(&s->ahead, hex);
		if (!x) {
			x = xcalloc(1, sizeof *x);
			x->key = keys[i];
			x->key_size = key_sizes[i];
			map_put(&s->ahead, xstrdup(hex), x);
		}
		pthread_mutex_unlock(&s->mu);
		if (!x->queued) {
			x->queued = 1;
			pool_submit(s->prefetchers, x);
		}
	}
}

/* Was key looked up ahead? Then wait for that lookup: 2 when it was a
 * remote hit (now in the local store), 1 a local hit, 0 a miss, -1 not
 * looked up. */
static int ahead_of(struct remote_store *s, const struct digest *key)
{
	char hex[65];
	digest_hex(key, hex);
	pthread_mutex_lock(&s->mu);
	struct ahead *x = map_get(&s->ahead, hex);
	while (x && !x->done)
		pthread_cond_wait(&s->cv, &s->mu);
	int rc = !x ? -1 : x->remote ? 2 : x->hit;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int rs_get_result(struct store *st, const struct digest *key, uint64_t key_size,
                         struct action_result *r)
{
	struct remote_store *s = (struct remote_store *)st;
	int ahead = ahead_of(s, key);
	if (ahead == 0)
		return 0; /* missed there and here: it was just asked */
	if (s->local->ops->get_result(s->local, key, key_size, r) == 1) {
		r->remote = ahead == 2; /* hit remotely ahead, kept locally */
		/* its blobs may be remote still (kept lazily by an earlier build) */
		for (size_t i = 0; s->lazy && i < r->noutputs; i++)
			note_size(s, &r->outputs[i].d, r->outputs[i].size);
		return 1;
	}
	return !cas_absent(s->cas) && remote_get(s, key, key_size, r);
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

/* Upload n results: one FindMissingBlobs for all their blobs, the missing
 * ones from the local store, then the results. A result naming a blob the
 * local store cannot give is not sent (a result must not name a blob the
 * remote lacks); the others are. 0, or -1 (the remote given up, or a
 * result left out). */
static int upload_batch(struct remote_store *s, struct upload *const *u, size_t n)
{
	size_t nb = 0;
	for (size_t i = 0; i < n; i++)
		nb += u[i]->r.noutputs + 1;
	struct cas_blob *v = xcalloc(nb ? nb : 1, sizeof *v);
	unsigned *mode = xcalloc(nb ? nb : 1, sizeof *mode);
	struct map seen = {0}; /* hex -> index in v + 1 */
	char (*hex)[65] = xcalloc(nb ? nb : 1, sizeof *hex);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		const struct action_result *r = &u[i]->r;
		for (size_t k = 0; k <= r->noutputs; k++) {
			struct cas_blob b = {.d = k < r->noutputs ? r->outputs[k].d : r->log,
			                     .size = k < r->noutputs ? r->outputs[k].size : r->log_size};
			digest_hex(&b.d, hex[m]);
			if (!b.size || map_get(&seen, hex[m]))
				continue; /* the empty blob is everywhere; each blob once */
			map_put(&seen, hex[m], (void *)(uintptr_t)(m + 1));
			mode[m] = k < r->noutputs ? r->outputs[k].mode : 0644;
			v[m++] = b;
		}
	}
	int ok = cas_find_missing(s->cas, v, m) == CAS_OK, all = 1;
	unsigned char *lacking = xcalloc(m ? m : 1, 1);
	for (size_t i = 0; i < m && ok; i++) {
		if (v[i].missing && local_bytes(s, &v[i].d, mode[i], &v[i].data) < 0) {
			lacking[i] = 1;
			v[i].missing = 0;
		}
	}
	ok = ok && cas_put_blobs(s->cas, v, m) == CAS_OK;
	struct digest *keys = xcalloc(n ? n : 1, sizeof *keys);
	uint64_t *sizes = xcalloc(n ? n : 1, sizeof *sizes);
	struct buf *vals = xcalloc(n ? n : 1, sizeof *vals);
	size_t nr = 0;
	for (size_t i = 0; i < n && ok; i++) {
		const struct action_result *r = &u[i]->r;
		int sound = 1;
		for (size_t k = 0; k <= r->noutputs && sound; k++) {
			char h[65];
			digest_hex(k < r->noutputs ? &r->outputs[k].d : &r->log, h);
			uintptr_t at = (uintptr_t)map_get(&seen, h);
			sound = !at || !lacking[at - 1];
		}
		all &= sound;
		if (!sound)
			continue;
		sizes[nr] = u[i]->key_size;
		keys[nr] = u[i]->key;
		result_encode(r, &vals[nr++]);
	}
	ok = ok && cas_put_results(s->cas, keys, sizes, vals, nr) == CAS_OK;
	for (size_t i = 0; i < nr; i++)
		buf_free(&vals[i]);
	free(vals);
	free(sizes);
	free(keys);
	for (size_t i = 0; i < m; i++)
		buf_free(&v[i].data);
	free(lacking);
	map_free(&seen);
	free(hex);
	free(mode);
	free(v);
	return ok && all ? 0 : -1;
}

int remote_store_upload(struct store *st, const struct digest *key, uint64_t key_size,
                        const struct action_result *r)
{
	struct remote_store *s = (struct remote_store *)st;
	struct upload u = {.key = *key, .key_size = key_size, .r = *r};
	struct upload *p = &u;
	return upload_batch(s, &p, 1);
}

static void free_upload(struct upload *u)
{
	u->r.discovered = NULL;
	u->r.ndiscovered = 0;
	action_result_free(&u->r);
	free(u);
}

static void upload_some(void *ctx, void **items, size_t n)
{
	struct remote_store *s = ctx;
	if (!cas_absent(s->cas))
		upload_batch(s, (struct upload *const *)items, n);
	for (size_t i = 0; i < n; i++)
		free_upload(items[i]);
}

/* Queue r to go up under key (copied). */
static void enqueue_upload(struct remote_store *s, const struct digest *key, uint64_t key_size,
                           const struct action_result *r)
{
	struct upload *u = xcalloc(1, sizeof *u);
	u->key = *key;
	u->key_size = key_size;
	u->r = *r;
	u->r.discovered = NULL;
	u->r.ndiscovered = 0;
	u->r.outputs = xcalloc(r->noutputs ? r->noutputs : 1, sizeof *u->r.outputs);
	for (size_t i = 0; i < r->noutputs; i++) {
		u->r.outputs[i] = r->outputs[i];
		u->r.outputs[i].path = xstrdup(r->outputs[i].path);
	}
	pool_submit(s->uploaders, u);
}

static int rs_put_result(struct store *st, const struct digest *key, uint64_t key_size,
                         const struct action_result *r)
{
	struct remote_store *s = (struct remote_store *)st;
	int rc = s->local->ops->put_result(s->local, key, key_size, r);
	s->base.put_errno = s->local->put_errno;
	/* a result from the remote (a remote executor's run) is there already */
	if (s->upload && r->exit_code == 0 && !r->remote && !cas_absent(s->cas))
		enqueue_upload(s, key, key_size, r);
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
	/* the uploads finish first (the remote given up, they end at once) */
	pool_free(s->uploaders);
	pool_free(s->prefetchers);
	for (size_t i = 0; i < s->ahead.cap; i++) {
		free((char *)s->ahead.slots[i].key);
		free(s->ahead.slots[i].val);
	}
	map_free(&s->ahead);
	pthread_cond_destroy(&s->cv);
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
	.prefetch = rs_prefetch,
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
	pthread_cond_init(&s->cv, NULL);
	s->prefetchers = pool_new(PREFETCHERS, 1, prefetch_one, s);
	s->uploaders = pool_new(UPLOADERS, UPLOAD_BATCH, upload_some, s);
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
