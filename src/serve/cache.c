/* serve/cache: the REAPI cache services over cairn's own local store, so
 * that `--store ~/.cache/cairn` serves a developer's cache as it is:
 *   Capabilities           GetCapabilities
 *   ContentAddressableStorage  FindMissingBlobs, BatchUpdateBlobs,
 *                          BatchReadBlobs, GetTree
 *   ByteStream             Read (streamed from the blob's file), Write
 *                          (streamed to a temp file, hashed on the way,
 *                          renamed in when whole: a blob's bytes always
 *                          match its name), QueryWriteStatus (a broken
 *                          Write goes on from what was committed)
 *   ActionCache            GetActionResult (a result whose blobs are not
 *                          all there is a miss, never a dangling hit),
 *                          UpdateActionResult
 * Instance names are accepted and ignored: one store serves them all. */
#include "serve/cache.h"
#include "serve/cache_int.h"
#include "remote/grpc.h"
#include "remote/result.h"
#include "store/store.h"
#include "util/fs.h"
#include "util/sha.h"
#include "util/str.h"
#include "util/util.h"
#include "bytestream.pb-c.h"
#include "remote_execution.pb-c.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>



/* ---- helpers ---- */

void *ck_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n)
{
	return protobuf_c_message_unpack(d, NULL, n, p);
}

void ck_send_msg(struct srv_call *c, const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *b = xmalloc(n + 1);
	protobuf_c_message_pack(m, b);
	srv_send(c, b, n);
	free(b);
}

/* A Digest as cairn's: 0, or -1 when it is not a SHA-256 one. */
int ck_digest_of(const V2(Digest) * m, struct digest *d, uint64_t *size)
{
	if (!m || !m->hash || strlen(m->hash) != 64 || digest_parse(m->hash, d) < 0 ||
	    m->size_bytes < 0)
		return -1;
	*size = (uint64_t)m->size_bytes;
	return 0;
}

/* The empty blob: every client takes it as there, and none uploads it. */
int ck_is_empty(const struct digest *d, uint64_t size)
{
	static struct digest empty;
	static int made;
	if (!made) {
		sha_buf("", 0, &empty);
		made = 1;
	}
	return size == 0 && digest_eq(d, &empty);
}

int ck_has_blob(struct cache *k, const struct digest *d, uint64_t size)
{
	uint64_t got;
	return ck_is_empty(d, size) || (store_local_has(k->store, d, &got) && got == size);
}

int ck_put_blob(struct cache *k, const void *p, size_t n, struct digest *d)
{
	int r = k->store->ops->put_blob(k->store, p, n, d);
	if (r == 0)
		names_forget(k->names, d); /* its shard changed, or may have */
	return r;
}

int ck_put_file(struct cache *k, const char *path, struct digest *d, uint64_t *size)
{
	int r = k->store->ops->put_file(k->store, path, d, size);
	if (r == 0)
		names_forget(k->names, d);
	return r;
}

void *ck_request(struct srv_call *c, const ProtobufCMessageDescriptor *d)
{
	const struct buf *b = srv_request(c);
	void *m = ck_unpack(d, (const uint8_t *)(b->s ? b->s : ""), b->len);
	if (!m)
		srv_finish(c, GRPC_INVALID_ARGUMENT, "a malformed request message");
	return m;
}

/* ---- Capabilities ---- */

static void get_capabilities(struct srv_call *c)
{
	struct cache *k = srv_ctx(c);
	V2(ActionCacheUpdateCapabilities) upd = BUILD__BAZEL__REMOTE__EXECUTION__V2__ACTION_CACHE_UPDATE_CAPABILITIES__INIT;
	upd.update_enabled = 1;
	V2(DigestFunction__Value) fns[] = {BUILD__BAZEL__REMOTE__EXECUTION__V2__DIGEST_FUNCTION__VALUE__SHA256};
	V2(CacheCapabilities) cc = BUILD__BAZEL__REMOTE__EXECUTION__V2__CACHE_CAPABILITIES__INIT;
	cc.n_digest_functions = 1;
	cc.digest_functions = fns;
	cc.action_cache_update_capabilities = &upd;
	cc.max_batch_total_size_bytes = MAX_BATCH;
	cc.symlink_absolute_path_strategy =
		BUILD__BAZEL__REMOTE__EXECUTION__V2__SYMLINK_ABSOLUTE_PATH_STRATEGY__VALUE__DISALLOWED;
	V2(ExecutionCapabilities) ec = BUILD__BAZEL__REMOTE__EXECUTION__V2__EXECUTION_CAPABILITIES__INIT;
	ec.digest_function = BUILD__BAZEL__REMOTE__EXECUTION__V2__DIGEST_FUNCTION__VALUE__SHA256;
	ec.exec_enabled = k->exec_enabled;
	V2(SemVer) lo = BUILD__BAZEL__REMOTE__EXECUTION__V2__SEM_VER__INIT, hi = lo;
	lo.major = 2;
	hi.major = 2;
	hi.minor = 0;
	V2(ServerCapabilities) sc = BUILD__BAZEL__REMOTE__EXECUTION__V2__SERVER_CAPABILITIES__INIT;
	sc.cache_capabilities = &cc;
	sc.execution_capabilities = &ec;
	sc.low_api_version = &lo;
	sc.high_api_version = &hi;
	ck_send_msg(c, &sc.base);
	srv_finish(c, GRPC_OK, NULL);
}

/* ---- CAS ---- */

static void find_missing(struct srv_call *c)
{
	struct cache *k = srv_ctx(c);
	V2(FindMissingBlobsRequest) *req = ck_request(c, &D(find_missing_blobs_request));
	if (!req)
		return;
	V2(FindMissingBlobsResponse) res = BUILD__BAZEL__REMOTE__EXECUTION__V2__FIND_MISSING_BLOBS_RESPONSE__INIT;
	size_t n = req->n_blob_digests;
	res.missing_blob_digests = xcalloc(n + 1, sizeof *res.missing_blob_digests);
	struct digest *d = xcalloc(n + 1, sizeof *d);
	uint64_t *size = xcalloc(n + 1, sizeof *size);
	size_t per_shard[256] = {0};
	int bad = 0;
	for (size_t i = 0; i < n && !bad; i++) {
		if (ck_digest_of(req->blob_digests[i], &d[i], &size[i]) < 0)
			bad = 1;
		else
			per_shard[d[i].b[0]]++;
	}
	/* a blob the shard's list does not hold is missing without a look on
	 * disk (names.h); the others are looked up */
	names_begin(k->names);
	for (size_t i = 0; i < n && !bad; i++)
		if (!ck_is_empty(&d[i], size[i]) &&
		    (names_absent(k->names, &d[i], per_shard[d[i].b[0]]) || !ck_has_blob(k, &d[i], size[i])))
			res.missing_blob_digests[res.n_missing_blob_digests++] = req->blob_digests[i];
	free(d);
	free(size);
	if (bad) {
		srv_finish(c, GRPC_INVALID_ARGUMENT, "a digest that is not SHA-256");
	} else {
		k->st.find_missing += req->n_blob_digests;
		ck_send_msg(c, &res.base);
		srv_finish(c, GRPC_OK, NULL);
	}
	free(res.missing_blob_digests);
	protobuf_c_message_free_unpacked(&req->base, NULL);
}

static void batch_update(struct srv_call *c)
{
	struct cache *k = srv_ctx(c);
	V2(BatchUpdateBlobsRequest) *req = ck_request(c, &D(batch_update_blobs_request));
	if (!req)
		return;
	size_t n = req->n_requests;
	V2(BatchUpdateBlobsResponse) res = BUILD__BAZEL__REMOTE__EXECUTION__V2__BATCH_UPDATE_BLOBS_RESPONSE__INIT;
	V2(BatchUpdateBlobsResponse__Response) *r = xcalloc(n + 1, sizeof *r);
	V2(BatchUpdateBlobsResponse__Response) **rp = xcalloc(n + 1, sizeof *rp);
	Google__Rpc__Status *st = xcalloc(n + 1, sizeof *st);
	for (size_t i = 0; i < n; i++) {
		V2(BatchUpdateBlobsResponse__Response) x = BUILD__BAZEL__REMOTE__EXECUTION__V2__BATCH_UPDATE_BLOBS_RESPONSE__RESPONSE__INIT;
		Google__Rpc__Status s = GOOGLE__RPC__STATUS__INIT;
		r[i] = x;
		st[i] = s;
		rp[i] = &r[i];
		r[i].digest = req->requests[i]->digest;
		r[i].status = &st[i];
		struct digest want, got;
		uint64_t size;
		const ProtobufCBinaryData *data = &req->requests[i]->data;
		if (ck_digest_of(req->requests[i]->digest, &want, &size) < 0 || size != data->len) {
			st[i].code = GRPC_INVALID_ARGUMENT;
			st[i].message = (char *)"the digest does not name these bytes (size)";
			continue;
		}
		sha_buf(data->data, data->len, &got);
		if (!digest_eq(&got, &want)) {
			st[i].code = GRPC_INVALID_ARGUMENT;
			st[i].message = (char *)"the digest does not name these bytes";
		} else if (!ck_has_blob(k, &want, size) &&
		           ck_put_blob(k, data->data, data->len, &got) < 0) {
			st[i].code = GRPC_INTERNAL;
			st[i].message = (char *)"cannot store the blob";
		} else {
			k->st.bytes_in += size;
		}
	}
	res.n_responses = n;
	res.responses = rp;
	ck_send_msg(c, &res.base);
	srv_finish(c, GRPC_OK, NULL);
	free(r);
	free(rp);
	free(st);
	protobuf_c_message_free_unpacked(&req->base, NULL);
}

/* The blob d (size) into b: 0, or -1 when missing or unreadable. */
int ck_read_blob(struct cache *k, const struct digest *d, uint64_t size, struct buf *b)
{
	uint64_t got;
	if (ck_is_empty(d, size)) {
		buf_reset(b);
		return 0;
	}
	int fd = store_local_blob(k->store, d, &got);
	if (fd < 0)
		return -1;
	int rc = got == size ? 0 : -1;
	buf_reset(b);
	buf_putn(b, NULL, 0);
	if (rc == 0 && b->cap < size + 1) {
		b->s = xreallocarray(b->s, size + 1, 1);
		b->cap = size + 1;
	}
	while (rc == 0 && b->len < size) {
		ssize_t r = read(fd, b->s + b->len, size - b->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			rc = -1;
		else
			b->len += (size_t)r;
	}
	close(fd);
	return rc;
}

static void batch_read(struct srv_call *c)
{
	struct cache *k = srv_ctx(c);
	V2(BatchReadBlobsRequest) *req = ck_request(c, &D(batch_read_blobs_request));
	if (!req)
		return;
	size_t n = req->n_digests;
	V2(BatchReadBlobsResponse) res = BUILD__BAZEL__REMOTE__EXECUTION__V2__BATCH_READ_BLOBS_RESPONSE__INIT;
	V2(BatchReadBlobsResponse__Response) *r = xcalloc(n + 1, sizeof *r);
	V2(BatchReadBlobsResponse__Response) **rp = xcalloc(n + 1, sizeof *rp);
	Google__Rpc__Status *st = xcalloc(n + 1, sizeof *st);
	struct buf *data = xcalloc(n + 1, sizeof *data);
	uint64_t total = 0;
	int over = 0;
	for (size_t i = 0; i < n; i++) {
		V2(BatchReadBlobsResponse__Response) x = BUILD__BAZEL__REMOTE__EXECUTION__V2__BATCH_READ_BLOBS_RESPONSE__RESPONSE__INIT;
		Google__Rpc__Status s = GOOGLE__RPC__STATUS__INIT;
		r[i] = x;
		st[i] = s;
		rp[i] = &r[i];
		r[i].digest = req->digests[i];
		r[i].status = &st[i];
		struct digest d;
		uint64_t size;
		if (ck_digest_of(req->digests[i], &d, &size) < 0) {
			st[i].code = GRPC_INVALID_ARGUMENT;
			st[i].message = (char *)"a digest that is not SHA-256";
		} else if (total + size > MAX_BATCH) {
			over = 1;
		} else if (ck_read_blob(k, &d, size, &data[i]) < 0) {
			st[i].code = GRPC_NOT_FOUND;
			st[i].message = (char *)"no such blob";
			k->st.cas_misses++;
		} else {
			total += size;
			r[i].data.data = (uint8_t *)data[i].s;
			r[i].data.len = data[i].len;
			k->st.cas_hits++;
			k->st.bytes_out += size;
		}
	}
	if (over) {
		srv_finish(c, GRPC_INVALID_ARGUMENT, "the blobs asked for exceed max_batch_total_size_bytes");
	} else {
		res.n_responses = n;
		res.responses = rp;
		ck_send_msg(c, &res.base);
		srv_finish(c, GRPC_OK, NULL);
	}
	for (size_t i = 0; i < n; i++)
		buf_free(&data[i]);
	free(data);
	free(r);
	free(rp);
	free(st);
	protobuf_c_message_free_unpacked(&req->base, NULL);
}

/* GetTree: the root Directory and every one below it, breadth first, in
 * one response (page_size and page_token are not needed then). */
static void get_tree(struct srv_call *c)
{
	struct cache *k = srv_ctx(c);
	V2(GetTreeRequest) *req = ck_request(c, &D(get_tree_request));
	if (!req)
		return;
	V2(Directory) **dirs = NULL;
	size_t n = 0, cap = 0, total = 0;
	const V2(Digest) *first = req->root_digest;
	int code = GRPC_OK;
	const char *msg = NULL;
	/* a queue of digests: the root, then each directory's children */
	const V2(Digest) **q = xcalloc(1, sizeof *q);
	size_t nq = 1, capq = 1;
	q[0] = first;
	for (size_t at = 0; at < nq && code == GRPC_OK; at++) {
		struct digest d;
		uint64_t size;
		struct buf b = {0};
		if (ck_digest_of(q[at], &d, &size) < 0) {
			code = GRPC_INVALID_ARGUMENT, msg = "a digest that is not SHA-256";
		} else if (ck_read_blob(k, &d, size, &b) < 0) {
			code = GRPC_NOT_FOUND, msg = "a directory of the tree is not in the CAS";
		} else if ((total += size) > MAX_BATCH) {
			code = GRPC_RESOURCE_EXHAUSTED, msg = "the tree is larger than one response";
		} else {
			V2(Directory) *dm = ck_unpack(&D(directory), (const uint8_t *)(b.s ? b.s : ""), b.len);
			if (!dm) {
				code = GRPC_INVALID_ARGUMENT, msg = "a directory of the tree is no Directory";
			} else {
				vec_reserve(&dirs, &cap, n + 1, sizeof *dirs);
				dirs[n++] = dm;
				for (size_t i = 0; i < dm->n_directories; i++) {
					vec_reserve(&q, &capq, nq + 1, sizeof *q);
					q[nq++] = dm->directories[i]->digest;
				}
			}
		}
		buf_free(&b);
	}
	if (code == GRPC_OK) {
		V2(GetTreeResponse) res = BUILD__BAZEL__REMOTE__EXECUTION__V2__GET_TREE_RESPONSE__INIT;
		res.n_directories = n;
		res.directories = dirs;
		ck_send_msg(c, &res.base);
	}
	srv_finish(c, code, msg);
	for (size_t i = 0; i < n; i++)
		protobuf_c_message_free_unpacked(&dirs[i]->base, NULL);
	free(dirs);
	free(q);
	protobuf_c_message_free_unpacked(&req->base, NULL);
}

/* ---- ActionCache ---- */

static void ac_get(struct srv_call *c)
{
	struct cache *k = srv_ctx(c);
	V2(GetActionResultRequest) *req = ck_request(c, &D(get_action_result_request));
	if (!req)
		return;
	struct digest key;
	uint64_t key_size;
	struct action_result r = {0};
	if (ck_digest_of(req->action_digest, &key, &key_size) < 0) {
		srv_finish(c, GRPC_INVALID_ARGUMENT, "an action digest that is not SHA-256");
	} else if (k->store->ops->get_result(k->store, &key, key_size, &r) != 1) {
		k->st.ac_misses++;
		srv_finish(c, GRPC_NOT_FOUND, "no result");
	} else {
		/* every blob it names must be there: never a dangling hit */
		int whole = r.log_size == 0 || ck_has_blob(k, &r.log, r.log_size);
		for (size_t i = 0; i < r.noutputs && whole; i++)
			whole = ck_has_blob(k, &r.outputs[i].d, r.outputs[i].size);
		if (!whole) {
			k->st.ac_misses++;
			srv_finish(c, GRPC_NOT_FOUND, "no result (its blobs are gone)");
		} else {
			struct buf b = {0};
			result_encode(&r, &b);
			k->st.ac_hits++;
			srv_send(c, b.s ? b.s : "", b.len);
			srv_finish(c, GRPC_OK, NULL);
			buf_free(&b);
		}
		action_result_free(&r);
	}
	protobuf_c_message_free_unpacked(&req->base, NULL);
}

/* Does the result hold output directories or symlinks (fields 3, 10, 11,
 * 12 of ActionResult, which cairn's subset of the proto leaves unknown)? */
static int has_trees(const ProtobufCMessage *m)
{
	for (unsigned i = 0; i < m->n_unknown_fields; i++) {
		uint32_t t = m->unknown_fields[i].tag;
		if (t == 3 || t == 10 || t == 11 || t == 12)
			return 1;
	}
	return 0;
}

/* Cairn's results keep one log: a separate stderr goes after stdout, as
 * a new blob (so a hit replays both, in one stream). 0, or -1 when a blob
 * is missing. */
static int merge_stderr(struct cache *k, struct action_result *r, const struct result_stderr *err)
{
	struct buf out = {0}, e = {0};
	int rc = -1;
	if ((r->log_size == 0 || ck_read_blob(k, &r->log, r->log_size, &out) == 0) &&
	    ck_read_blob(k, &err->d, err->size, &e) == 0) {
		buf_putn(&out, e.s ? e.s : "", e.len);
		struct digest d;
		if (ck_put_blob(k, out.s ? out.s : "", out.len, &d) == 0) {
			r->log = d;
			r->log_size = out.len;
			rc = 0;
		}
	}
	buf_free(&out);
	buf_free(&e);
	return rc;
}

static void ac_update(struct srv_call *c)
{
	struct cache *k = srv_ctx(c);
	V2(UpdateActionResultRequest) *req = ck_request(c, &D(update_action_result_request));
	if (!req)
		return;
	struct digest key;
	uint64_t key_size;
	struct action_result r = {0};
	struct result_stderr err = {0};
	const char *why = NULL;
	uint8_t *bytes = NULL;
	if (ck_digest_of(req->action_digest, &key, &key_size) < 0 || !req->action_result) {
		srv_finish(c, GRPC_INVALID_ARGUMENT, "an action digest that is not SHA-256, or no result");
		goto out;
	}
	size_t n = protobuf_c_message_get_packed_size(&req->action_result->base);
	bytes = xmalloc(n + 1);
	protobuf_c_message_pack(&req->action_result->base, bytes);
	if (has_trees(&req->action_result->base)) {
		/* cairn's store keeps files: refused, never kept in part */
		srv_finish(c, GRPC_INVALID_ARGUMENT,
		           "this cache keeps output files only (no directories or symlinks)");
		goto out;
	}
	if (result_decode(bytes, n, &r, &err, &why) < 0) {
		srv_finish(c, GRPC_INVALID_ARGUMENT, why);
		goto out;
	}
	if (err.size && merge_stderr(k, &r, &err) < 0) {
		srv_finish(c, GRPC_FAILED_PRECONDITION, "the result's stdout or stderr is not in the CAS");
		action_result_free(&r);
		goto out;
	}
	if (k->store->ops->put_result(k->store, &key, key_size, &r) < 0) {
		srv_finish(c, GRPC_INTERNAL, "cannot store the result");
	} else {
		ck_send_msg(c, &req->action_result->base);
		srv_finish(c, GRPC_OK, NULL);
	}
	action_result_free(&r);
out:
	free(bytes);
	protobuf_c_message_free_unpacked(&req->base, NULL);
}

/* ---- the table ---- */

static const struct srv_method methods[] = {
	{SVC "Capabilities/GetCapabilities", srv_keep_one, get_capabilities, NULL, NULL},
	{SVC "ContentAddressableStorage/FindMissingBlobs", srv_keep_one, find_missing, NULL, NULL},
	{SVC "ContentAddressableStorage/BatchUpdateBlobs", srv_keep_one, batch_update, NULL, NULL},
	{SVC "ContentAddressableStorage/BatchReadBlobs", srv_keep_one, batch_read, NULL, NULL},
	{SVC "ContentAddressableStorage/GetTree", srv_keep_one, get_tree, NULL, NULL},
	{SVC "ActionCache/GetActionResult", srv_keep_one, ac_get, NULL, NULL},
	{SVC "ActionCache/UpdateActionResult", srv_keep_one, ac_update, NULL, NULL},
	{"/google.bytestream.ByteStream/Read", srv_keep_one, bs_read, NULL, NULL},
	{"/google.bytestream.ByteStream/Write", bs_write_msg, bs_write_end, bs_write_drop, NULL},
	{"/google.bytestream.ByteStream/QueryWriteStatus", srv_keep_one, bs_query, NULL, NULL},
};

struct cache *cache_new(const char *dir, char **why)
{
	struct store *st = store_local_open(dir);
	if (!st) {
		*why = xasprintf("cannot open the store %s: %s", dir, strerror(errno));
		return NULL;
	}
	struct cache *k = xcalloc(1, sizeof *k);
	k->store = st;
	k->dir = xstrdup(dir);
	k->names = names_new(dir);
	return k;
}

void cache_free(struct cache *k)
{
	if (!k)
		return;
	for (int i = 0; i < MAX_UPLOADS; i++)
		upload_free(k->up[i]);
	k->store->ops->close(k->store);
	names_free(k->names);
	free(k->dir);
	free(k);
}

const struct srv_method *cache_methods(size_t *n)
{
	*n = sizeof methods / sizeof *methods;
	return methods;
}

void cache_set_exec(struct cache *k, int enabled)
{
	k->exec_enabled = enabled;
}

void cache_stats(const struct cache *k, struct cache_stats *st)
{
	*st = k->st;
}

