/* grpc_cas: the cas backend for a REAPI server: ActionCache,
 * ContentAddressableStorage and ByteStream over a gRPC channel.
 *
 * Blobs move in batches (BatchReadBlobs, BatchUpdateBlobs) up to BATCH
 * bytes a call; a larger blob goes alone through ByteStream, in CHUNK
 * pieces. A server that answers BatchReadBlobs with UNIMPLEMENTED (Bazel's
 * RemoteWorker does) is read through ByteStream from then on, every blob
 * of a request on its own stream, all at once.
 *
 * Codes: NOT_FOUND is a miss; UNAVAILABLE, RESOURCE_EXHAUSTED, INTERNAL,
 * DEADLINE_EXCEEDED, ABORTED, CANCELLED and UNKNOWN are worth trying
 * again; the rest (PERMISSION_DENIED, UNAUTHENTICATED, INVALID_ARGUMENT,
 * UNIMPLEMENTED, ...) give the remote up. */
#include "remote/cas.h"
#include "remote/grpc.h"
#include "util/map.h"
#include "util/util.h"
#include "bytestream.pb-c.h"
#include "remote_execution.pb-c.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

enum { BATCH = 3 << 20, CHUNK = 1 << 20, FIND_MAX = 10000 };

typedef Build__Bazel__Remote__Execution__V2__Digest Digest;

#define SVC_AC "/build.bazel.remote.execution.v2.ActionCache/"
#define SVC_CAS "/build.bazel.remote.execution.v2.ContentAddressableStorage/"
#define SVC_BS "/google.bytestream.ByteStream/"

struct grpc_cas {
	struct cas_backend base;
	struct grpc *g;        /* not owned */
	char *instance;        /* "" or the name */
	char *prefix;          /* "" or "INSTANCE/" for resource names */
	int no_batch_read;     /* BatchReadBlobs is UNIMPLEMENTED there */
	pthread_mutex_t mu;
};

static int rc_of(int code)
{
	switch (code) {
	case GRPC_OK: return CAS_OK;
	case GRPC_NOT_FOUND: return CAS_MISS;
	case GRPC_UNAVAILABLE: case GRPC_RESOURCE_EXHAUSTED: case GRPC_INTERNAL:
	case GRPC_DEADLINE_EXCEEDED: case GRPC_ABORTED: case GRPC_CANCELLED: case GRPC_UNKNOWN:
		return CAS_RETRY;
	default: return CAS_FATAL;
	}
}

static void pack(const ProtobufCMessage *m, struct buf *b)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	buf_reset(b);
	buf_putn(b, "", 0);
	vec_reserve(&b->s, &b->cap, n + 1, 1);
	protobuf_c_message_pack(m, (uint8_t *)b->s);
	b->len = n;
	b->s[n] = 0;
}

static void set_digest(Digest *m, char *hex, const struct digest *d, uint64_t size)
{
	build__bazel__remote__execution__v2__digest__init(m);
	digest_hex(d, hex);
	m->hash = hex;
	m->size_bytes = (int64_t)size;
}

static int same_digest(const Digest *m, const struct cas_blob *b)
{
	char hex[65];
	digest_hex(&b->d, hex);
	return m && m->hash && !strcmp(m->hash, hex) && m->size_bytes == (int64_t)b->size;
}

/* A unary call: its cas_rc, *why on failure. */
static int unary(struct grpc_cas *c, const char *method, const ProtobufCMessage *req,
                 struct buf *resp, char **why)
{
	struct buf b = {0};
	pack(req, &b);
	int code = grpc_unary(c->g, method, b.s, b.len, resp, why);
	buf_free(&b);
	int rc = rc_of(code);
	if (rc == CAS_MISS || rc == CAS_OK) {
		free(*why);
		*why = NULL;
	}
	return rc;
}

static int gc_get_result(struct cas_backend *bk, const struct digest *key, uint64_t key_size,
                         struct buf *out, char **why)
{
	struct grpc_cas *c = (struct grpc_cas *)bk;
	Build__Bazel__Remote__Execution__V2__GetActionResultRequest req =
		BUILD__BAZEL__REMOTE__EXECUTION__V2__GET_ACTION_RESULT_REQUEST__INIT;
	Digest d;
	char hex[65];
	set_digest(&d, hex, key, key_size);
	req.instance_name = c->instance;
	req.action_digest = &d;
	return unary(c, SVC_AC "GetActionResult", &req.base, out, why);
}

/* The UpdateActionResultRequest for key and the ActionResult bytes p. */
static int update_request(struct grpc_cas *c, const struct digest *key, uint64_t key_size,
                          const void *p, size_t n, struct buf *out, char **why)
{
	Build__Bazel__Remote__Execution__V2__ActionResult *ar =
		build__bazel__remote__execution__v2__action_result__unpack(NULL, n, p);
	if (!ar) {
		*why = xstrdup("UpdateActionResult: cairn made a bad ActionResult");
		return -1;
	}
	Build__Bazel__Remote__Execution__V2__UpdateActionResultRequest req =
		BUILD__BAZEL__REMOTE__EXECUTION__V2__UPDATE_ACTION_RESULT_REQUEST__INIT;
	Digest d;
	char hex[65];
	set_digest(&d, hex, key, key_size);
	req.instance_name = c->instance;
	req.action_digest = &d;
	req.action_result = ar;
	pack(&req.base, out);
	build__bazel__remote__execution__v2__action_result__free_unpacked(ar, NULL);
	return 0;
}

static int gc_put_result(struct cas_backend *bk, const struct digest *key, uint64_t key_size,
                         const void *p, size_t n, char **why)
{
	struct buf v = {.len = n, .s = (char *)p};
	return bk->ops->put_results(bk, key, &key_size, &v, 1, why);
}

/* Every UpdateActionResult in flight at once. */
static int gc_put_results(struct cas_backend *bk, const struct digest *keys,
                          const uint64_t *key_sizes, const struct buf *vals, size_t n, char **why)
{
	struct grpc_cas *c = (struct grpc_cas *)bk;
	struct grpc_call **calls = xcalloc(n ? n : 1, sizeof *calls);
	int rc = CAS_OK;
	for (size_t i = 0; i < n && rc == CAS_OK; i++) {
		struct buf b = {0};
		if (update_request(c, &keys[i], key_sizes[i], vals[i].s ? vals[i].s : "", vals[i].len, &b,
		                   why) < 0)
			rc = CAS_FATAL;
		else
			calls[i] = grpc_start(c->g, SVC_AC "UpdateActionResult", b.s ? b.s : "", b.len, NULL,
			                      NULL, 0);
		buf_free(&b);
	}
	for (size_t i = 0; i < n; i++) {
		if (!calls[i])
			continue;
		int code = grpc_wait(calls[i]);
		int r = rc_of(code);
		if (r != CAS_OK && rc == CAS_OK) {
			const char *msg;
			grpc_status(calls[i], &msg);
			*why = xasprintf("UpdateActionResult: %s%s%s", grpc_code_name(code), *msg ? ": " : "",
			                 msg);
			rc = r == CAS_MISS ? CAS_FATAL : r;
		}
		grpc_call_free(calls[i]);
	}
	free(calls);
	return rc;
}

static int gc_find_missing(struct cas_backend *bk, struct cas_blob *v, size_t n, char **why)
{
	struct grpc_cas *c = (struct grpc_cas *)bk;
	for (size_t at = 0; at < n; at += FIND_MAX) {
		size_t m = n - at < FIND_MAX ? n - at : FIND_MAX;
		Digest *ds = xcalloc(m, sizeof *ds);
		Digest **dp = xcalloc(m, sizeof *dp);
		char(*hex)[65] = xcalloc(m, sizeof *hex);
		for (size_t i = 0; i < m; i++) {
			set_digest(&ds[i], hex[i], &v[at + i].d, v[at + i].size);
			dp[i] = &ds[i];
			v[at + i].missing = 0;
		}
		Build__Bazel__Remote__Execution__V2__FindMissingBlobsRequest req =
			BUILD__BAZEL__REMOTE__EXECUTION__V2__FIND_MISSING_BLOBS_REQUEST__INIT;
		req.instance_name = c->instance;
		req.n_blob_digests = m;
		req.blob_digests = dp;
		struct buf resp = {0};
		int rc = unary(c, SVC_CAS "FindMissingBlobs", &req.base, &resp, why);
		free(hex);
		free(dp);
		free(ds);
		Build__Bazel__Remote__Execution__V2__FindMissingBlobsResponse *r = NULL;
		if (rc == CAS_OK &&
		    !(r = build__bazel__remote__execution__v2__find_missing_blobs_response__unpack(
			      NULL, resp.len, (const uint8_t *)(resp.s ? resp.s : "")))) {
			*why = xstrdup("FindMissingBlobs: a malformed response");
			rc = CAS_RETRY;
		}
		buf_free(&resp);
		if (rc != CAS_OK)
			return rc == CAS_MISS ? CAS_RETRY : rc;
		/* the answer matched by digest through a map: a linear pass, where
		 * a blob named twice in v is marked twice (next chains them) */
		struct map byhex = {0};
		char(*keys)[65] = xcalloc(m, sizeof *keys);
		size_t *next = xcalloc(m, sizeof *next);
		map_reserve(&byhex, m);
		for (size_t i = 0; i < m; i++) {
			digest_hex(&v[at + i].d, keys[i]);
			void *prev = map_put(&byhex, keys[i], (void *)(i + 1));
			next[i] = (size_t)prev;
		}
		for (size_t k = 0; k < r->n_missing_blob_digests; k++) {
			const Digest *md = r->missing_blob_digests[k];
			size_t i = md && md->hash ? (size_t)map_get(&byhex, md->hash) : 0;
			for (; i; i = next[i - 1])
				if (same_digest(md, &v[at + i - 1]))
					v[at + i - 1].missing = 1;
		}
		map_free(&byhex);
		free(keys);
		free(next);
		build__bazel__remote__execution__v2__find_missing_blobs_response__free_unpacked(r, NULL);
	}
	return CAS_OK;
}

/* ---- ByteStream ---- */

static char *read_name(struct grpc_cas *c, const struct cas_blob *b)
{
	char hex[65];
	digest_hex(&b->d, hex);
	return xasprintf("%sblobs/%s/%llu", c->prefix, hex, (unsigned long long)b->size);
}

/* Read every blob of v on a stream of its own, all at once. */
static int read_streams(struct grpc_cas *c, struct cas_blob *v, size_t n, char **why)
{
	struct grpc_call **calls = xcalloc(n ? n : 1, sizeof *calls);
	for (size_t i = 0; i < n; i++) {
		Google__Bytestream__ReadRequest req = GOOGLE__BYTESTREAM__READ_REQUEST__INIT;
		req.resource_name = read_name(c, &v[i]);
		struct buf b = {0};
		pack(&req.base, &b);
		calls[i] = grpc_start(c->g, SVC_BS "Read", b.s ? b.s : "", b.len, NULL, NULL, 0);
		buf_free(&b);
		free(req.resource_name);
	}
	int rc = CAS_OK;
	for (size_t i = 0; i < n; i++) {
		int code = grpc_wait(calls[i]);
		int r = rc_of(code);
		if (r == CAS_OK) {
			for (size_t k = 0; k < grpc_nmsgs(calls[i]); k++) {
				const struct buf *m = grpc_msg(calls[i], k);
				Google__Bytestream__ReadResponse *rr = google__bytestream__read_response__unpack(
					NULL, m->len, (const uint8_t *)(m->s ? m->s : ""));
				if (!rr) {
					r = CAS_RETRY;
					break;
				}
				buf_putn(&v[i].data, rr->data.data, rr->data.len);
				google__bytestream__read_response__free_unpacked(rr, NULL);
			}
			if (r != CAS_OK && !*why)
				*why = xstrdup("Read: a malformed response");
		} else if (r != CAS_MISS && !*why) {
			const char *msg;
			grpc_status(calls[i], &msg);
			*why = xasprintf("Read: %s%s%s", grpc_code_name(code), *msg ? ": " : "", msg);
		}
		/* the worst answer wins: FATAL, RETRY, MISS, OK */
		if (r == CAS_FATAL || (r == CAS_RETRY && rc != CAS_FATAL) || (r == CAS_MISS && rc == CAS_OK))
			rc = r;
	}
	for (size_t i = 0; i < n; i++)
		grpc_call_free(calls[i]);
	free(calls);
	return rc;
}

struct writer {
	char *name;
	const char *p;
	uint64_t size, off;
	int first;
};

static int write_gen(void *arg, struct buf *msg)
{
	struct writer *w = arg;
	Google__Bytestream__WriteRequest req = GOOGLE__BYTESTREAM__WRITE_REQUEST__INIT;
	if (w->first)
		req.resource_name = w->name;
	w->first = 0;
	size_t k = w->size - w->off < CHUNK ? (size_t)(w->size - w->off) : CHUNK;
	req.write_offset = (int64_t)w->off;
	req.data.data = (uint8_t *)w->p + w->off;
	req.data.len = k;
	w->off += k;
	req.finish_write = w->off == w->size;
	pack(&req.base, msg);
	return w->off < w->size;
}

static int write_stream(struct grpc_cas *c, struct cas_blob *b, char **why)
{
	unsigned char r[16];
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
		memset(r, 0, sizeof r);
	char hex[65];
	digest_hex(&b->d, hex);
	struct writer w = {
		.name = xasprintf("%suploads/%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x/blobs/%s/%llu",
		                  c->prefix, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8],
		                  r[9], r[10], r[11], r[12], r[13], r[14], r[15], hex,
		                  (unsigned long long)b->size),
		.p = b->data.s, .size = b->size, .first = 1,
	};
	struct grpc_call *call = grpc_start(c->g, SVC_BS "Write", NULL, 0, write_gen, &w, 0);
	int code = grpc_wait(call), rc = code == 6 /* ALREADY_EXISTS */ ? CAS_OK : rc_of(code);
	if (rc != CAS_OK) {
		const char *msg;
		grpc_status(call, &msg);
		*why = xasprintf("Write: %s%s%s", grpc_code_name(code), *msg ? ": " : "", msg);
		if (rc == CAS_MISS)
			rc = CAS_RETRY;
	}
	grpc_call_free(call);
	free(w.name);
	return rc;
}

/* ---- batches ---- */

static int batch_read(struct grpc_cas *c, struct cas_blob *v, size_t n, char **why)
{
	Digest *ds = xcalloc(n, sizeof *ds);
	Digest **dp = xcalloc(n, sizeof *dp);
	char(*hex)[65] = xcalloc(n, sizeof *hex);
	for (size_t i = 0; i < n; i++) {
		set_digest(&ds[i], hex[i], &v[i].d, v[i].size);
		dp[i] = &ds[i];
	}
	Build__Bazel__Remote__Execution__V2__BatchReadBlobsRequest req =
		BUILD__BAZEL__REMOTE__EXECUTION__V2__BATCH_READ_BLOBS_REQUEST__INIT;
	req.instance_name = c->instance;
	req.n_digests = n;
	req.digests = dp;
	struct buf resp = {0};
	struct buf b = {0};
	pack(&req.base, &b);
	int code = grpc_unary(c->g, SVC_CAS "BatchReadBlobs", b.s, b.len, &resp, why);
	buf_free(&b);
	free(hex);
	free(dp);
	free(ds);
	if (code == GRPC_UNIMPLEMENTED) {
		pthread_mutex_lock(&c->mu);
		c->no_batch_read = 1;
		pthread_mutex_unlock(&c->mu);
		free(*why);
		*why = NULL;
		buf_free(&resp);
		return read_streams(c, v, n, why);
	}
	int rc = rc_of(code);
	Build__Bazel__Remote__Execution__V2__BatchReadBlobsResponse *r = NULL;
	if (rc == CAS_OK &&
	    !(r = build__bazel__remote__execution__v2__batch_read_blobs_response__unpack(
		      NULL, resp.len, (const uint8_t *)(resp.s ? resp.s : "")))) {
		*why = xstrdup("BatchReadBlobs: a malformed response");
		rc = CAS_RETRY;
	}
	buf_free(&resp);
	if (rc != CAS_OK)
		return rc == CAS_MISS ? CAS_RETRY : rc;
	size_t got = 0;
	for (size_t i = 0; i < n && rc == CAS_OK; i++) {
		for (size_t k = 0; k < r->n_responses; k++) {
			const Build__Bazel__Remote__Execution__V2__BatchReadBlobsResponse__Response *x =
				r->responses[k];
			if (!same_digest(x->digest, &v[i]))
				continue;
			int st = x->status ? x->status->code : 0;
			if (st != 0) {
				rc = rc_of(st);
				if (rc != CAS_MISS)
					*why = xasprintf("BatchReadBlobs: %s", grpc_code_name(st));
			} else {
				buf_reset(&v[i].data);
				buf_putn(&v[i].data, x->data.data, x->data.len);
				got++;
			}
			break;
		}
	}
	build__bazel__remote__execution__v2__batch_read_blobs_response__free_unpacked(r, NULL);
	if (rc == CAS_OK && got != n) {
		*why = xstrdup("BatchReadBlobs: an answer lacks a blob asked for");
		rc = CAS_RETRY;
	}
	return rc;
}

static int gc_get_blobs(struct cas_backend *bk, struct cas_blob *v, size_t n, char **why)
{
	struct grpc_cas *c = (struct grpc_cas *)bk;
	pthread_mutex_lock(&c->mu);
	int streams = c->no_batch_read;
	pthread_mutex_unlock(&c->mu);
	if (streams)
		return read_streams(c, v, n, why);
	/* large blobs alone through ByteStream; the rest in batches */
	int rc = CAS_OK;
	size_t i = 0;
	while (i < n && rc == CAS_OK) {
		if (v[i].size > CHUNK) {
			rc = read_streams(c, &v[i], 1, why);
			i++;
			continue;
		}
		size_t j = i, total = 0;
		while (j < n && v[j].size <= CHUNK && total + v[j].size <= BATCH)
			total += v[j++].size;
		rc = batch_read(c, &v[i], j - i, why);
		i = j;
	}
	return rc;
}

static int batch_update(struct grpc_cas *c, struct cas_blob **v, size_t n, char **why)
{
	Build__Bazel__Remote__Execution__V2__BatchUpdateBlobsRequest__Request *rq =
		xcalloc(n, sizeof *rq);
	Build__Bazel__Remote__Execution__V2__BatchUpdateBlobsRequest__Request **rp =
		xcalloc(n, sizeof *rp);
	Digest *ds = xcalloc(n, sizeof *ds);
	char(*hex)[65] = xcalloc(n, sizeof *hex);
	for (size_t i = 0; i < n; i++) {
		build__bazel__remote__execution__v2__batch_update_blobs_request__request__init(&rq[i]);
		set_digest(&ds[i], hex[i], &v[i]->d, v[i]->size);
		rq[i].digest = &ds[i];
		rq[i].data.data = (uint8_t *)v[i]->data.s;
		rq[i].data.len = v[i]->data.len;
		rp[i] = &rq[i];
	}
	Build__Bazel__Remote__Execution__V2__BatchUpdateBlobsRequest req =
		BUILD__BAZEL__REMOTE__EXECUTION__V2__BATCH_UPDATE_BLOBS_REQUEST__INIT;
	req.instance_name = c->instance;
	req.n_requests = n;
	req.requests = rp;
	struct buf resp = {0};
	int rc = unary(c, SVC_CAS "BatchUpdateBlobs", &req.base, &resp, why);
	free(hex);
	free(ds);
	free(rp);
	free(rq);
	Build__Bazel__Remote__Execution__V2__BatchUpdateBlobsResponse *r = NULL;
	if (rc == CAS_OK &&
	    !(r = build__bazel__remote__execution__v2__batch_update_blobs_response__unpack(
		      NULL, resp.len, (const uint8_t *)(resp.s ? resp.s : "")))) {
		*why = xstrdup("BatchUpdateBlobs: a malformed response");
		rc = CAS_RETRY;
	}
	buf_free(&resp);
	if (rc != CAS_OK)
		return rc == CAS_MISS ? CAS_RETRY : rc;
	for (size_t k = 0; k < r->n_responses && rc == CAS_OK; k++) {
		int st = r->responses[k]->status ? r->responses[k]->status->code : 0;
		if (st != 0) {
			rc = rc_of(st) == CAS_FATAL ? CAS_FATAL : CAS_RETRY;
			*why = xasprintf("BatchUpdateBlobs: a blob: %s", grpc_code_name(st));
		}
	}
	build__bazel__remote__execution__v2__batch_update_blobs_response__free_unpacked(r, NULL);
	return rc;
}

static int gc_put_blobs(struct cas_backend *bk, struct cas_blob *v, size_t n, char **why)
{
	struct grpc_cas *c = (struct grpc_cas *)bk;
	struct cas_blob **batch = xcalloc(n ? n : 1, sizeof *batch);
	size_t nb = 0, total = 0;
	int rc = CAS_OK;
	for (size_t i = 0; i <= n && rc == CAS_OK; i++) {
		struct cas_blob *b = i < n && v[i].missing ? &v[i] : NULL;
		if (i < n && !b)
			continue;
		if (b && b->size > CHUNK) {
			rc = write_stream(c, b, why);
			continue;
		}
		if (nb && (!b || total + b->size > BATCH)) {
			rc = batch_update(c, batch, nb, why);
			nb = total = 0;
		}
		if (b) {
			batch[nb++] = b;
			total += b->size;
		}
	}
	free(batch);
	return rc;
}

static void gc_counts(struct cas_backend *bk, size_t *calls, unsigned long long *bytes_in)
{
	struct grpc_cas *c = (struct grpc_cas *)bk;
	grpc_counts(c->g, calls, bytes_in);
}

static void gc_free(struct cas_backend *bk)
{
	struct grpc_cas *c = (struct grpc_cas *)bk;
	pthread_mutex_destroy(&c->mu);
	free(c->instance);
	free(c->prefix);
	free(c);
}

static const struct cas_backend_ops grpc_cas_ops = {
	.get_result = gc_get_result,
	.put_result = gc_put_result,
	.put_results = gc_put_results,
	.get_blobs = gc_get_blobs,
	.find_missing = gc_find_missing,
	.put_blobs = gc_put_blobs,
	.free = gc_free,
	.counts = gc_counts,
};

struct cas_backend *grpc_cas_new(struct grpc *g, const char *instance)
{
	struct grpc_cas *c = xcalloc(1, sizeof *c);
	c->base.ops = &grpc_cas_ops;
	c->g = g;
	c->instance = xstrdup(instance ? instance : "");
	c->prefix = *c->instance ? xasprintf("%s/", c->instance) : xstrdup("");
	pthread_mutex_init(&c->mu, NULL);
	return &c->base;
}
