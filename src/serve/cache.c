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

#define V2(x) Build__Bazel__Remote__Execution__V2__##x
#define D(x) build__bazel__remote__execution__v2__##x##__descriptor
#define SVC "/build.bazel.remote.execution.v2."

enum { MAX_BATCH = 4 << 20, MAX_UPLOADS = 256 };

/* A ByteStream upload in progress, kept across Write calls for resumption. */
struct upload {
	char *resource;        /* the resource name of its first message */
	char *tmp;             /* where its bytes go */
	int fd;
	struct sha_ctx *sha;
	uint64_t committed;    /* bytes written */
	struct digest want;
	uint64_t size;
	int busy;              /* a Write call holds it */
};

struct cache {
	struct store *store;
	char *dir;             /* the store's directory */
	struct upload *up[MAX_UPLOADS];
	int exec_enabled;      /* Capabilities says so */
	struct cache_stats st;
};

/* ---- helpers ---- */

static void *unpack(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n)
{
	return protobuf_c_message_unpack(d, NULL, n, p);
}

static void send_msg(struct srv_call *c, const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *b = xmalloc(n + 1);
	protobuf_c_message_pack(m, b);
	srv_send(c, b, n);
	free(b);
}

/* A Digest as cairn's: 0, or -1 when it is not a SHA-256 one. */
static int digest_of(const V2(Digest) * m, struct digest *d, uint64_t *size)
{
	if (!m || !m->hash || strlen(m->hash) != 64 || digest_parse(m->hash, d) < 0 ||
	    m->size_bytes < 0)
		return -1;
	*size = (uint64_t)m->size_bytes;
	return 0;
}

/* The empty blob: every client takes it as there, and none uploads it. */
static int is_empty(const struct digest *d, uint64_t size)
{
	static struct digest empty;
	static int made;
	if (!made) {
		sha_buf("", 0, &empty);
		made = 1;
	}
	return size == 0 && digest_eq(d, &empty);
}

static int has_blob(struct cache *k, const struct digest *d, uint64_t size)
{
	uint64_t got;
	return is_empty(d, size) || (store_local_has(k->store, d, &got) && got == size);
}

/* The "one message in, one out" shape: the request kept until the end. */
static int keep_msg(struct srv_call *c, const uint8_t *p, size_t n)
{
	struct buf **b = (struct buf **)srv_state(c);
	if (*b) {
		srv_finish(c, GRPC_INVALID_ARGUMENT, "one request message expected");
		return -1;
	}
	*b = xcalloc(1, sizeof **b);
	buf_putn(*b, p, n);
	return 0;
}

static void drop_msg(struct srv_call *c)
{
	struct buf **b = (struct buf **)srv_state(c);
	if (*b)
		buf_free(*b);
	free(*b);
	*b = NULL;
}

/* The kept request decoded with d, or NULL (said: INVALID_ARGUMENT). */
static void *request(struct srv_call *c, const ProtobufCMessageDescriptor *d)
{
	struct buf *b = *(struct buf **)srv_state(c);
	void *m = unpack(d, b ? (const uint8_t *)b->s : (const uint8_t *)"", b ? b->len : 0);
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
	send_msg(c, &sc.base);
	srv_finish(c, GRPC_OK, NULL);
}

/* ---- CAS ---- */

static void find_missing(struct srv_call *c)
{
	struct cache *k = srv_ctx(c);
	V2(FindMissingBlobsRequest) *req = request(c, &D(find_missing_blobs_request));
	if (!req)
		return;
	V2(FindMissingBlobsResponse) res = BUILD__BAZEL__REMOTE__EXECUTION__V2__FIND_MISSING_BLOBS_RESPONSE__INIT;
	res.missing_blob_digests = xcalloc(req->n_blob_digests + 1, sizeof *res.missing_blob_digests);
	int bad = 0;
	for (size_t i = 0; i < req->n_blob_digests && !bad; i++) {
		struct digest d;
		uint64_t size;
		if (digest_of(req->blob_digests[i], &d, &size) < 0)
			bad = 1;
		else if (!has_blob(k, &d, size))
			res.missing_blob_digests[res.n_missing_blob_digests++] = req->blob_digests[i];
	}
	if (bad) {
		srv_finish(c, GRPC_INVALID_ARGUMENT, "a digest that is not SHA-256");
	} else {
		k->st.find_missing += req->n_blob_digests;
		send_msg(c, &res.base);
		srv_finish(c, GRPC_OK, NULL);
	}
	free(res.missing_blob_digests);
	protobuf_c_message_free_unpacked(&req->base, NULL);
}

static void batch_update(struct srv_call *c)
{
	struct cache *k = srv_ctx(c);
	V2(BatchUpdateBlobsRequest) *req = request(c, &D(batch_update_blobs_request));
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
		if (digest_of(req->requests[i]->digest, &want, &size) < 0 || size != data->len) {
			st[i].code = GRPC_INVALID_ARGUMENT;
			st[i].message = (char *)"the digest does not name these bytes (size)";
			continue;
		}
		sha_buf(data->data, data->len, &got);
		if (!digest_eq(&got, &want)) {
			st[i].code = GRPC_INVALID_ARGUMENT;
			st[i].message = (char *)"the digest does not name these bytes";
		} else if (!has_blob(k, &want, size) &&
		           k->store->ops->put_blob(k->store, data->data, data->len, &got) < 0) {
			st[i].code = GRPC_INTERNAL;
			st[i].message = (char *)"cannot store the blob";
		} else {
			k->st.bytes_in += size;
		}
	}
	res.n_responses = n;
	res.responses = rp;
	send_msg(c, &res.base);
	srv_finish(c, GRPC_OK, NULL);
	free(r);
	free(rp);
	free(st);
	protobuf_c_message_free_unpacked(&req->base, NULL);
}

/* The blob d (size) into b: 0, or -1 when missing or unreadable. */
static int read_blob(struct cache *k, const struct digest *d, uint64_t size, struct buf *b)
{
	uint64_t got;
	if (is_empty(d, size)) {
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
	V2(BatchReadBlobsRequest) *req = request(c, &D(batch_read_blobs_request));
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
		if (digest_of(req->digests[i], &d, &size) < 0) {
			st[i].code = GRPC_INVALID_ARGUMENT;
			st[i].message = (char *)"a digest that is not SHA-256";
		} else if (total + size > MAX_BATCH) {
			over = 1;
		} else if (read_blob(k, &d, size, &data[i]) < 0) {
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
		send_msg(c, &res.base);
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
	V2(GetTreeRequest) *req = request(c, &D(get_tree_request));
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
		if (digest_of(q[at], &d, &size) < 0) {
			code = GRPC_INVALID_ARGUMENT, msg = "a digest that is not SHA-256";
		} else if (read_blob(k, &d, size, &b) < 0) {
			code = GRPC_NOT_FOUND, msg = "a directory of the tree is not in the CAS";
		} else if ((total += size) > MAX_BATCH) {
			code = GRPC_RESOURCE_EXHAUSTED, msg = "the tree is larger than one response";
		} else {
			V2(Directory) *dm = unpack(&D(directory), (const uint8_t *)(b.s ? b.s : ""), b.len);
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
		send_msg(c, &res.base);
	}
	srv_finish(c, code, msg);
	for (size_t i = 0; i < n; i++)
		protobuf_c_message_free_unpacked(&dirs[i]->base, NULL);
	free(dirs);
	free(q);
	protobuf_c_message_free_unpacked(&req->base, NULL);
}

/* ---- ByteStream ---- */

/* "[{instance}/]blobs/{hash}/{size}[/...]" or, with uploads,
 * "[{instance}/]uploads/{uuid}/blobs/{hash}/{size}[/...]": the digest.
 * An instance name may itself hold "blobs" or "uploads": each place the
 * word starts a path segment is tried, until one parses. */
static int parse_at(const char *p, struct digest *d, uint64_t *size)
{
	char hex[65];
	if (strlen(p) < 66 || p[64] != '/')
		return -1;
	memcpy(hex, p, 64);
	hex[64] = 0;
	char *end;
	const char *num = p + 65;
	if (*num < '0' || *num > '9')
		return -1;
	unsigned long long n = strtoull(num, &end, 10);
	if (digest_parse(hex, d) < 0 || (*end && *end != '/'))
		return -1;
	*size = n;
	return 0;
}

static int parse_resource(const char *r, int upload, struct digest *d, uint64_t *size)
{
	const char *word = upload ? "uploads/" : "blobs/";
	for (const char *p = r; (p = strstr(p, word)); p++) {
		if (p != r && p[-1] != '/')
			continue;
		const char *q = p + strlen(word);
		if (upload) {
			/* uploads/{uuid}/blobs/ */
			const char *slash = strchr(q, '/');
			if (!slash || slash == q || strncmp(slash + 1, "blobs/", 6) != 0)
				continue;
			q = slash + 7;
		}
		if (parse_at(q, d, size) == 0)
			return 0;
	}
	return -1;
}

static void bs_read(struct srv_call *c)
{
	struct cache *k = srv_ctx(c);
	Google__Bytestream__ReadRequest *req = request(c, &google__bytestream__read_request__descriptor);
	if (!req)
		return;
	struct digest d;
	uint64_t size, got;
	int fd = -1;
	if (!req->resource_name || parse_resource(req->resource_name, 0, &d, &size) < 0) {
		srv_finish(c, GRPC_INVALID_ARGUMENT, "a resource name that is not blobs/HASH/SIZE");
	} else if (req->read_offset < 0 || req->read_limit < 0 || (uint64_t)req->read_offset > size) {
		srv_finish(c, GRPC_OUT_OF_RANGE, "read_offset or read_limit out of range");
	} else if (is_empty(&d, size)) {
		k->st.cas_hits++;
		srv_finish(c, GRPC_OK, NULL); /* no bytes: no message */
	} else if ((fd = store_local_blob(k->store, &d, &got)) < 0 || got != size) {
		if (fd >= 0)
			close(fd);
		k->st.cas_misses++;
		srv_finish(c, GRPC_NOT_FOUND, "no such blob");
	} else {
		uint64_t off = (uint64_t)req->read_offset, len = size - off;
		if (req->read_limit && (uint64_t)req->read_limit < len)
			len = (uint64_t)req->read_limit;
		k->st.cas_hits++;
		k->st.bytes_out += len;
		if (len)
			srv_send_file(c, fd, off, len);
		else
			close(fd);
		srv_finish(c, GRPC_OK, NULL);
	}
	protobuf_c_message_free_unpacked(&req->base, NULL);
}

static void upload_free(struct upload *u)
{
	if (!u)
		return;
	if (u->fd >= 0)
		close(u->fd);
	if (u->tmp)
		unlink(u->tmp);
	if (u->sha) {
		struct digest d;
		sha_final(u->sha, &d);
	}
	free(u->tmp);
	free(u->resource);
	free(u);
}

static struct upload **find_upload(struct cache *k, const char *resource)
{
	for (int i = 0; i < MAX_UPLOADS; i++)
		if (k->up[i] && !strcmp(k->up[i]->resource, resource))
			return &k->up[i];
	return NULL;
}

/* The upload a Write's first message names: the one in progress at
 * offset (resumed), or a new one at 0. NULL (said) otherwise. */
static struct upload *upload_for(struct srv_call *c, const char *resource, int64_t offset)
{
	struct cache *k = srv_ctx(c);
	struct digest d;
	uint64_t size;
	if (parse_resource(resource, 1, &d, &size) < 0) {
		srv_finish(c, GRPC_INVALID_ARGUMENT, "a resource name that is not uploads/UUID/blobs/HASH/SIZE");
		return NULL;
	}
	struct upload **slot = find_upload(k, resource);
	if (slot && (*slot)->busy) {
		srv_finish(c, GRPC_ABORTED, "another Write holds this upload");
		return NULL;
	}
	if (slot && (uint64_t)offset == (*slot)->committed)
		return *slot;
	if (offset != 0) {
		srv_finish(c, GRPC_OUT_OF_RANGE, "write_offset is not where the upload stands");
		return NULL;
	}
	if (slot) {
		upload_free(*slot);
		*slot = NULL;
	}
	int i = 0;
	while (i < MAX_UPLOADS && k->up[i])
		i++;
	if (i == MAX_UPLOADS) {
		/* the oldest idle upload makes room */
		for (i = 0; i < MAX_UPLOADS && k->up[i]->busy; i++) {
		}
		if (i == MAX_UPLOADS) {
			srv_finish(c, GRPC_RESOURCE_EXHAUSTED, "too many uploads at once");
			return NULL;
		}
		upload_free(k->up[i]);
	}
	struct upload *u = xcalloc(1, sizeof *u);
	u->resource = xstrdup(resource);
	u->tmp = xasprintf("%s/tmp/upload.%ld.%d.%llu", k->dir, (long)getpid(), i,
	                   (unsigned long long)now_ns());
	u->fd = open(u->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (u->fd < 0) {
		free(u->tmp);
		u->tmp = NULL;
		upload_free(u);
		srv_finish(c, GRPC_INTERNAL, "cannot make a temp file in the store");
		return NULL;
	}
	u->sha = sha_new();
	u->want = d;
	u->size = size;
	k->up[i] = u;
	return u;
}

struct write_state {
	struct upload *u;      /* held while the call lasts */
	int done;              /* finish_write came, the blob is in */
	uint64_t size;         /* then: its size */
};

static int bs_write_msg(struct srv_call *c, const uint8_t *p, size_t n)
{
	struct cache *k = srv_ctx(c);
	struct write_state **wp = (struct write_state **)srv_state(c);
	Google__Bytestream__WriteRequest *req = unpack(&google__bytestream__write_request__descriptor, p, n);
	if (!req) {
		srv_finish(c, GRPC_INVALID_ARGUMENT, "a malformed WriteRequest");
		return -1;
	}
	int rc = 0;
	if (!*wp) {
		*wp = xcalloc(1, sizeof **wp);
		struct digest d;
		uint64_t size;
		/* already there: say so at once, as the protocol allows */
		if (req->resource_name && parse_resource(req->resource_name, 1, &d, &size) == 0 &&
		    has_blob(k, &d, size)) {
			Google__Bytestream__WriteResponse res = GOOGLE__BYTESTREAM__WRITE_RESPONSE__INIT;
			res.committed_size = (int64_t)size;
			send_msg(c, &res.base);
			srv_finish(c, GRPC_OK, NULL);
			protobuf_c_message_free_unpacked(&req->base, NULL);
			return -1;
		}
		(*wp)->u = req->resource_name ? upload_for(c, req->resource_name, req->write_offset) : NULL;
		if (!(*wp)->u) {
			if (!req->resource_name)
				srv_finish(c, GRPC_INVALID_ARGUMENT, "the first WriteRequest names no resource");
			protobuf_c_message_free_unpacked(&req->base, NULL);
			return -1;
		}
		(*wp)->u->busy = 1;
	}
	struct upload *u = (*wp)->u;
	if ((*wp)->done || (uint64_t)req->write_offset != u->committed ||
	    u->committed + req->data.len > u->size) {
		srv_finish(c, GRPC_INVALID_ARGUMENT, (*wp)->done ? "a WriteRequest after finish_write"
		                                                 : "write_offset or the data's length is wrong");
		rc = -1;
	} else {
		size_t at = 0;
		while (at < req->data.len) {
			ssize_t w = write(u->fd, req->data.data + at, req->data.len - at);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				break;
			at += (size_t)w;
		}
		if (at < req->data.len) {
			srv_finish(c, GRPC_INTERNAL, "cannot write to the store");
			rc = -1;
		} else {
			sha_update(u->sha, req->data.data, req->data.len);
			u->committed += req->data.len;
			k->st.bytes_in += req->data.len;
		}
	}
	if (rc == 0 && req->finish_write) {
		struct digest got;
		sha_final(u->sha, &got);
		u->sha = NULL;
		uint64_t size;
		if (u->committed != u->size || !digest_eq(&got, &u->want)) {
			srv_finish(c, GRPC_INVALID_ARGUMENT, "the bytes written do not hash to the digest named");
		} else if (fsync(u->fd) < 0 ||
		           k->store->ops->put_file(k->store, u->tmp, &got, &size) < 0) {
			srv_finish(c, GRPC_INTERNAL, "cannot store the blob");
		} else {
			(*wp)->done = 1;
			(*wp)->size = u->size;
		}
		/* a finished upload, stored or refused, is over */
		struct upload **slot = find_upload(k, u->resource);
		upload_free(u);
		if (slot)
			*slot = NULL;
		(*wp)->u = NULL;
		rc = (*wp)->done ? 0 : -1;
	}
	protobuf_c_message_free_unpacked(&req->base, NULL);
	return rc;
}

static void bs_write_end(struct srv_call *c)
{
	struct write_state *w = *(struct write_state **)srv_state(c);
	if (!w || !w->done) {
		srv_finish(c, GRPC_INVALID_ARGUMENT, "the Write ended before finish_write");
		return;
	}
	Google__Bytestream__WriteResponse res = GOOGLE__BYTESTREAM__WRITE_RESPONSE__INIT;
	res.committed_size = (int64_t)w->size;
	send_msg(c, &res.base);
	srv_finish(c, GRPC_OK, NULL);
}

static void bs_write_drop(struct srv_call *c)
{
	struct write_state **wp = (struct write_state **)srv_state(c);
	if (*wp && (*wp)->u)
		(*wp)->u->busy = 0; /* kept: QueryWriteStatus, then a Write at its offset */
	free(*wp);
	*wp = NULL;
}

static void bs_query(struct srv_call *c)
{
	struct cache *k = srv_ctx(c);
	Google__Bytestream__QueryWriteStatusRequest *req =
		request(c, &google__bytestream__query_write_status_request__descriptor);
	if (!req)
		return;
	struct digest d;
	uint64_t size;
	Google__Bytestream__QueryWriteStatusResponse res = GOOGLE__BYTESTREAM__QUERY_WRITE_STATUS_RESPONSE__INIT;
	if (!req->resource_name || parse_resource(req->resource_name, 1, &d, &size) < 0) {
		srv_finish(c, GRPC_INVALID_ARGUMENT, "a resource name that is not uploads/UUID/blobs/HASH/SIZE");
	} else {
		struct upload **u = find_upload(k, req->resource_name);
		if (has_blob(k, &d, size)) {
			res.committed_size = (int64_t)size;
			res.complete = 1;
		} else if (u) {
			res.committed_size = (int64_t)(*u)->committed;
		}
		if (!u && !res.complete) {
			srv_finish(c, GRPC_NOT_FOUND, "no such upload");
		} else {
			send_msg(c, &res.base);
			srv_finish(c, GRPC_OK, NULL);
		}
	}
	protobuf_c_message_free_unpacked(&req->base, NULL);
}

/* ---- ActionCache ---- */

static void ac_get(struct srv_call *c)
{
	struct cache *k = srv_ctx(c);
	V2(GetActionResultRequest) *req = request(c, &D(get_action_result_request));
	if (!req)
		return;
	struct digest key;
	uint64_t key_size;
	struct action_result r = {0};
	if (digest_of(req->action_digest, &key, &key_size) < 0) {
		srv_finish(c, GRPC_INVALID_ARGUMENT, "an action digest that is not SHA-256");
	} else if (k->store->ops->get_result(k->store, &key, key_size, &r) != 1) {
		k->st.ac_misses++;
		srv_finish(c, GRPC_NOT_FOUND, "no result");
	} else {
		/* every blob it names must be there: never a dangling hit */
		int whole = r.log_size == 0 || has_blob(k, &r.log, r.log_size);
		for (size_t i = 0; i < r.noutputs && whole; i++)
			whole = has_blob(k, &r.outputs[i].d, r.outputs[i].size);
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
	if ((r->log_size == 0 || read_blob(k, &r->log, r->log_size, &out) == 0) &&
	    read_blob(k, &err->d, err->size, &e) == 0) {
		buf_putn(&out, e.s ? e.s : "", e.len);
		struct digest d;
		if (k->store->ops->put_blob(k->store, out.s ? out.s : "", out.len, &d) == 0) {
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
	V2(UpdateActionResultRequest) *req = request(c, &D(update_action_result_request));
	if (!req)
		return;
	struct digest key;
	uint64_t key_size;
	struct action_result r = {0};
	struct result_stderr err = {0};
	const char *why = NULL;
	uint8_t *bytes = NULL;
	if (digest_of(req->action_digest, &key, &key_size) < 0 || !req->action_result) {
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
		send_msg(c, &req->action_result->base);
		srv_finish(c, GRPC_OK, NULL);
	}
	action_result_free(&r);
out:
	free(bytes);
	protobuf_c_message_free_unpacked(&req->base, NULL);
}

/* ---- the table ---- */

static const struct srv_method methods[] = {
	{SVC "Capabilities/GetCapabilities", keep_msg, get_capabilities, drop_msg, NULL},
	{SVC "ContentAddressableStorage/FindMissingBlobs", keep_msg, find_missing, drop_msg, NULL},
	{SVC "ContentAddressableStorage/BatchUpdateBlobs", keep_msg, batch_update, drop_msg, NULL},
	{SVC "ContentAddressableStorage/BatchReadBlobs", keep_msg, batch_read, drop_msg, NULL},
	{SVC "ContentAddressableStorage/GetTree", keep_msg, get_tree, drop_msg, NULL},
	{SVC "ActionCache/GetActionResult", keep_msg, ac_get, drop_msg, NULL},
	{SVC "ActionCache/UpdateActionResult", keep_msg, ac_update, drop_msg, NULL},
	{"/google.bytestream.ByteStream/Read", keep_msg, bs_read, drop_msg, NULL},
	{"/google.bytestream.ByteStream/Write", bs_write_msg, bs_write_end, bs_write_drop, NULL},
	{"/google.bytestream.ByteStream/QueryWriteStatus", keep_msg, bs_query, drop_msg, NULL},
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
	return k;
}

void cache_free(struct cache *k)
{
	if (!k)
		return;
	for (int i = 0; i < MAX_UPLOADS; i++)
		upload_free(k->up[i]);
	k->store->ops->close(k->store);
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
