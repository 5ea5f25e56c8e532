/* serve_test: serve/cache.c over serve/h2srv.c, in-process: the server
 * runs srv_run on a thread over a temp store, cairn's own gRPC client
 * (remote/grpc.h) calls it with crafted requests. */
#include "test.h"
#include "remote/grpc.h"
#include "remote/url.h"
#include "serve/cache.h"
#include "serve/h2srv.h"
#include "util/fs.h"
#include "util/sha.h"
#include "util/str.h"
#include "util/util.h"
#include "bytestream.pb-c.h"
#include "remote_execution.pb-c.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define V2(x) Build__Bazel__Remote__Execution__V2__##x
#define SVC "/build.bazel.remote.execution.v2."

struct fixture {
	char *dir;
	struct cache *k;
	struct srv *s;
	volatile int stop;
	pthread_t th;
	struct url url;
	struct grpc *g;
};

static void *serve_thread(void *arg)
{
	struct fixture *f = arg;
	char *why = NULL;
	if (srv_run(f->s, &f->stop, NULL, NULL, &why) < 0) {
		fprintf(stderr, "  srv_run: %s\n", why);
		free(why);
	}
	return NULL;
}

static int fixture_up(struct fixture *f)
{
	memset(f, 0, sizeof *f);
	f->dir = test_tmpdir();
	char *why = NULL;
	f->k = cache_new(f->dir, &why);
	size_t nm;
	const struct srv_method *m = cache_methods(&nm);
	f->s = f->k ? srv_new("127.0.0.1", 0, m, nm, f->k, &why) : NULL;
	if (!f->s) {
		fprintf(stderr, "  serve: %s\n", why ? why : "?");
		free(why);
		return -1;
	}
	pthread_create(&f->th, NULL, serve_thread, f);
	char *u = xasprintf("grpc://127.0.0.1:%d", srv_port(f->s));
	const char *uwhy;
	int rc = url_parse(u, &f->url, &uwhy);
	free(u);
	if (rc < 0)
		return -1;
	struct grpc_opts o = {.url = &f->url, .timeout_ms = 10000};
	f->g = grpc_new(&o, &why);
	if (!f->g) {
		free(why);
		return -1;
	}
	return 0;
}

static void fixture_down(struct fixture *f)
{
	if (f->g)
		grpc_free(f->g);
	url_free(&f->url);
	if (f->s) {
		f->stop = 1;
		pthread_join(f->th, NULL);
		srv_free(f->s);
	}
	cache_free(f->k);
	if (f->dir)
		fs_rm_rf(f->dir);
	free(f->dir);
}

/* Declare and start fixture f for a test, or fail the test and leave it. */
#define FIXTURE_UP(f)                                                     \
	struct fixture f;                                                     \
	if (fixture_up(&f) < 0) {                                             \
		CHECK(0);                                                         \
		fixture_down(&f);                                                 \
		return;                                                           \
	}

/* A unary call with a packed message; the status, the answer in resp. */
static int call(struct fixture *f, const char *method, const ProtobufCMessage *req, struct buf *resp)
{
	size_t n = protobuf_c_message_get_packed_size(req);
	uint8_t *b = xmalloc(n + 1);
	protobuf_c_message_pack(req, b);
	char *why = NULL;
	buf_reset(resp);
	int code = grpc_unary(f->g, method, b, n, resp, &why);
	free(b);
	free(why);
	return code;
}

static void hex_of(const void *p, size_t n, char hex[65])
{
	struct digest d;
	sha_buf(p, n, &d);
	digest_hex(&d, hex);
}

static int put_blob(struct fixture *f, const void *p, size_t n)
{
	char hex[65];
	hex_of(p, n, hex);
	V2(Digest) d = BUILD__BAZEL__REMOTE__EXECUTION__V2__DIGEST__INIT;
	d.hash = hex;
	d.size_bytes = (int64_t)n;
	V2(BatchUpdateBlobsRequest__Request) r = BUILD__BAZEL__REMOTE__EXECUTION__V2__BATCH_UPDATE_BLOBS_REQUEST__REQUEST__INIT;
	r.digest = &d;
	r.data.data = (uint8_t *)p;
	r.data.len = n;
	V2(BatchUpdateBlobsRequest__Request) *rp = &r;
	V2(BatchUpdateBlobsRequest) req = BUILD__BAZEL__REMOTE__EXECUTION__V2__BATCH_UPDATE_BLOBS_REQUEST__INIT;
	req.n_requests = 1;
	req.requests = &rp;
	struct buf resp = {0};
	int code = call(f, SVC "ContentAddressableStorage/BatchUpdateBlobs", &req.base, &resp);
	buf_free(&resp);
	return code;
}

TEST(serve_capabilities_say_sha256)
{
	FIXTURE_UP(f);
	V2(GetCapabilitiesRequest) req = BUILD__BAZEL__REMOTE__EXECUTION__V2__GET_CAPABILITIES_REQUEST__INIT;
	struct buf resp = {0};
	CHECK(call(&f, SVC "Capabilities/GetCapabilities", &req.base, &resp) == GRPC_OK);
	V2(ServerCapabilities) *sc = build__bazel__remote__execution__v2__server_capabilities__unpack(
		NULL, resp.len, (const uint8_t *)resp.s);
	CHECK(sc && sc->cache_capabilities);
	if (sc && sc->cache_capabilities) {
		CHECK(sc->cache_capabilities->n_digest_functions == 1);
		CHECK(sc->cache_capabilities->digest_functions[0] ==
		      BUILD__BAZEL__REMOTE__EXECUTION__V2__DIGEST_FUNCTION__VALUE__SHA256);
		CHECK(sc->cache_capabilities->action_cache_update_capabilities &&
		      sc->cache_capabilities->action_cache_update_capabilities->update_enabled);
		CHECK(sc->cache_capabilities->max_batch_total_size_bytes > 0);
	}
	if (sc)
		build__bazel__remote__execution__v2__server_capabilities__free_unpacked(sc, NULL);
	buf_free(&resp);
	fixture_down(&f);
}

TEST(serve_find_missing_and_read_with_offset_and_limit)
{
	FIXTURE_UP(f);
	const char *present = "0123456789abcdefghij", *absent = "not there";
	CHECK(put_blob(&f, present, strlen(present)) == GRPC_OK);
	char hp[65], ha[65];
	hex_of(present, strlen(present), hp);
	hex_of(absent, strlen(absent), ha);
	V2(Digest) d[2] = {BUILD__BAZEL__REMOTE__EXECUTION__V2__DIGEST__INIT,
	                   BUILD__BAZEL__REMOTE__EXECUTION__V2__DIGEST__INIT};
	d[0].hash = hp;
	d[0].size_bytes = (int64_t)strlen(present);
	d[1].hash = ha;
	d[1].size_bytes = (int64_t)strlen(absent);
	V2(Digest) *dp[2] = {&d[0], &d[1]};
	V2(FindMissingBlobsRequest) fm = BUILD__BAZEL__REMOTE__EXECUTION__V2__FIND_MISSING_BLOBS_REQUEST__INIT;
	fm.n_blob_digests = 2;
	fm.blob_digests = dp;
	struct buf resp = {0};
	CHECK(call(&f, SVC "ContentAddressableStorage/FindMissingBlobs", &fm.base, &resp) == GRPC_OK);
	V2(FindMissingBlobsResponse) *fr = build__bazel__remote__execution__v2__find_missing_blobs_response__unpack(
		NULL, resp.len, (const uint8_t *)resp.s);
	CHECK(fr && fr->n_missing_blob_digests == 1);
	if (fr && fr->n_missing_blob_digests == 1)
		CHECK_STR(fr->missing_blob_digests[0]->hash, ha);
	if (fr)
		build__bazel__remote__execution__v2__find_missing_blobs_response__free_unpacked(fr, NULL);

	/* Read [5, 5 + 7) through ByteStream */
	char *res = xasprintf("inst/blobs/%s/%zu", hp, strlen(present));
	Google__Bytestream__ReadRequest rr = GOOGLE__BYTESTREAM__READ_REQUEST__INIT;
	rr.resource_name = res;
	rr.read_offset = 5;
	rr.read_limit = 7;
	CHECK(call(&f, "/google.bytestream.ByteStream/Read", &rr.base, &resp) == GRPC_OK);
	Google__Bytestream__ReadResponse *rd = google__bytestream__read_response__unpack(
		NULL, resp.len, (const uint8_t *)resp.s);
	CHECK(rd && rd->data.len == 7 && !memcmp(rd->data.data, present + 5, 7));
	if (rd)
		google__bytestream__read_response__free_unpacked(rd, NULL);
	/* past the end: OUT_OF_RANGE; a missing blob: NOT_FOUND */
	rr.read_offset = 21;
	rr.read_limit = 0;
	CHECK(call(&f, "/google.bytestream.ByteStream/Read", &rr.base, &resp) == GRPC_OUT_OF_RANGE);
	free(res);
	res = xasprintf("blobs/%s/%zu", ha, strlen(absent));
	rr.resource_name = res;
	rr.read_offset = 0;
	CHECK(call(&f, "/google.bytestream.ByteStream/Read", &rr.base, &resp) == GRPC_NOT_FOUND);
	free(res);
	buf_free(&resp);
	fixture_down(&f);
}

/* A Write that sends `count` chunks of 64 KiB from `from`, then aborts
 * (abort set) or finishes. */
struct writer {
	const uint8_t *data;
	size_t size, at, stop_at;
	const char *resource;
	int first, abort;
};

enum { WCHUNK = 64 << 10 };

static int write_gen(void *arg, struct buf *msg)
{
	struct writer *w = arg;
	if (w->abort && w->at >= w->stop_at)
		return -1;
	Google__Bytestream__WriteRequest r = GOOGLE__BYTESTREAM__WRITE_REQUEST__INIT;
	size_t n = w->size - w->at < WCHUNK ? w->size - w->at : WCHUNK;
	if (w->first)
		r.resource_name = (char *)w->resource;
	w->first = 0;
	r.write_offset = (int64_t)w->at;
	r.data.data = (uint8_t *)w->data + w->at;
	r.data.len = n;
	w->at += n;
	r.finish_write = w->at == w->size;
	size_t len = google__bytestream__write_request__get_packed_size(&r);
	uint8_t *b = xmalloc(len + 1);
	google__bytestream__write_request__pack(&r, b);
	buf_putn(msg, b, len);
	free(b);
	return r.finish_write ? 0 : 1;
}

static int64_t query(struct fixture *f, const char *resource, int *complete, int *code)
{
	Google__Bytestream__QueryWriteStatusRequest q = GOOGLE__BYTESTREAM__QUERY_WRITE_STATUS_REQUEST__INIT;
	q.resource_name = (char *)resource;
	struct buf resp = {0};
	*code = call(f, "/google.bytestream.ByteStream/QueryWriteStatus", &q.base, &resp);
	int64_t committed = -1;
	Google__Bytestream__QueryWriteStatusResponse *r =
		*code == GRPC_OK ? google__bytestream__query_write_status_response__unpack(
			NULL, resp.len, (const uint8_t *)resp.s) : NULL;
	if (r) {
		committed = r->committed_size;
		*complete = r->complete;
		google__bytestream__query_write_status_response__free_unpacked(r, NULL);
	}
	buf_free(&resp);
	return committed;
}

TEST(serve_write_resumes_after_query_write_status)
{
	FIXTURE_UP(f);
	size_t size = 10 * WCHUNK + 123;
	uint8_t *data = xmalloc(size);
	for (size_t i = 0; i < size; i++)
		data[i] = (uint8_t)(i * 7 + i / 251);
	char hex[65];
	hex_of(data, size, hex);
	char *res = xasprintf("uploads/6c1f2a5e-0000-4000-8000-00000000abcd/blobs/%s/%zu", hex, size);
	/* four chunks, then the client gives up on the call */
	struct writer w = {data, size, 0, 4 * WCHUNK, res, 1, 1};
	struct grpc_call *c = grpc_start(f.g, "/google.bytestream.ByteStream/Write", NULL, 0, write_gen, &w, 0);
	CHECK(grpc_wait(c) != GRPC_OK);
	grpc_call_free(c);
	/* where it stands: some whole chunks, not complete */
	int complete = 0, code;
	int64_t committed = -1;
	for (int i = 0; i < 50; i++) {
		committed = query(&f, res, &complete, &code);
		if (code == GRPC_OK && committed == 4 * WCHUNK)
			break;
		usleep(20000);
	}
	CHECK(code == GRPC_OK);
	CHECK(!complete);
	CHECK(committed > 0 && committed <= 4 * WCHUNK && committed % WCHUNK == 0);
	/* a Write from elsewhere is refused; from there, it completes */
	if (committed > 0) {
		struct writer bad = {data, size, (size_t)committed - WCHUNK, 0, res, 1, 0};
		c = grpc_start(f.g, "/google.bytestream.ByteStream/Write", NULL, 0, write_gen, &bad, 0);
		CHECK(grpc_wait(c) == GRPC_OUT_OF_RANGE);
		grpc_call_free(c);
	}
	struct writer rest = {data, size, committed > 0 ? (size_t)committed : 0, 0, res, 1, 0};
	c = grpc_start(f.g, "/google.bytestream.ByteStream/Write", NULL, 0, write_gen, &rest, 0);
	CHECK(grpc_wait(c) == GRPC_OK);
	if (grpc_nmsgs(c) == 1) {
		Google__Bytestream__WriteResponse *wr = google__bytestream__write_response__unpack(
			NULL, grpc_msg(c, 0)->len, (const uint8_t *)grpc_msg(c, 0)->s);
		CHECK(wr && wr->committed_size == (int64_t)size);
		if (wr)
			google__bytestream__write_response__free_unpacked(wr, NULL);
	} else {
		CHECK(grpc_nmsgs(c) == 1);
	}
	grpc_call_free(c);
	committed = query(&f, res, &complete, &code);
	CHECK(code == GRPC_OK && complete && committed == (int64_t)size);
	/* the blob reads back whole */
	char *rn = xasprintf("blobs/%s/%zu", hex, size);
	Google__Bytestream__ReadRequest rr = GOOGLE__BYTESTREAM__READ_REQUEST__INIT;
	rr.resource_name = rn;
	size_t n = protobuf_c_message_get_packed_size(&rr.base);
	uint8_t *b = xmalloc(n + 1);
	protobuf_c_message_pack(&rr.base, b);
	c = grpc_start(f.g, "/google.bytestream.ByteStream/Read", b, n, NULL, NULL, 0);
	CHECK(grpc_wait(c) == GRPC_OK);
	struct buf all = {0};
	for (size_t i = 0; i < grpc_nmsgs(c); i++) {
		Google__Bytestream__ReadResponse *rd = google__bytestream__read_response__unpack(
			NULL, grpc_msg(c, i)->len, (const uint8_t *)grpc_msg(c, i)->s);
		if (rd) {
			buf_putn(&all, rd->data.data, rd->data.len);
			google__bytestream__read_response__free_unpacked(rd, NULL);
		}
	}
	CHECK(all.len == size && !memcmp(all.s, data, size));
	grpc_call_free(c);
	buf_free(&all);
	free(b);
	free(rn);
	free(res);
	free(data);
	fixture_down(&f);
}

/* Pack m into a fresh buffer (*n its length). */
static uint8_t *packed(const ProtobufCMessage *m, size_t *n)
{
	*n = protobuf_c_message_get_packed_size(m);
	uint8_t *b = xmalloc(*n + 1);
	protobuf_c_message_pack(m, b);
	return b;
}

TEST(serve_get_tree_gives_every_directory)
{
	FIXTURE_UP(f);
	/* leaf: an empty Directory; root: a directory node "sub" naming it */
	V2(Directory) leaf = BUILD__BAZEL__REMOTE__EXECUTION__V2__DIRECTORY__INIT;
	size_t nl;
	uint8_t *lb = packed(&leaf.base, &nl);
	char lhex[65];
	hex_of(lb, nl, lhex);
	V2(Digest) ld = BUILD__BAZEL__REMOTE__EXECUTION__V2__DIGEST__INIT;
	ld.hash = lhex;
	ld.size_bytes = (int64_t)nl;
	V2(DirectoryNode) dn = BUILD__BAZEL__REMOTE__EXECUTION__V2__DIRECTORY_NODE__INIT;
	dn.name = (char *)"sub";
	dn.digest = &ld;
	V2(DirectoryNode) *dnp = &dn;
	V2(Directory) root = BUILD__BAZEL__REMOTE__EXECUTION__V2__DIRECTORY__INIT;
	root.n_directories = 1;
	root.directories = &dnp;
	size_t nr;
	uint8_t *rb = packed(&root.base, &nr);
	char rhex[65];
	hex_of(rb, nr, rhex);
	CHECK(put_blob(&f, rb, nr) == GRPC_OK);
	V2(Digest) rd = BUILD__BAZEL__REMOTE__EXECUTION__V2__DIGEST__INIT;
	rd.hash = rhex;
	rd.size_bytes = (int64_t)nr;
	V2(GetTreeRequest) req = BUILD__BAZEL__REMOTE__EXECUTION__V2__GET_TREE_REQUEST__INIT;
	req.root_digest = &rd;
	struct buf resp = {0};
	/* the empty leaf is the empty blob: always there, so the tree is whole */
	CHECK(call(&f, SVC "ContentAddressableStorage/GetTree", &req.base, &resp) == GRPC_OK);
	V2(GetTreeResponse) *t = build__bazel__remote__execution__v2__get_tree_response__unpack(
		NULL, resp.len, (const uint8_t *)(resp.s ? resp.s : ""));
	CHECK(t && t->n_directories == 2);
	if (t) {
		CHECK(t->directories[0]->n_directories == 1 &&
		      !strcmp(t->directories[0]->directories[0]->name, "sub"));
		build__bazel__remote__execution__v2__get_tree_response__free_unpacked(t, NULL);
	}
	/* a root that is not there */
	char zero[65];
	memset(zero, 'a', 64);
	zero[64] = 0;
	rd.hash = zero;
	CHECK(call(&f, SVC "ContentAddressableStorage/GetTree", &req.base, &resp) == GRPC_NOT_FOUND);
	buf_free(&resp);
	free(lb);
	free(rb);
	fixture_down(&f);
}

/* FindMissingBlobs answers from each shard's list of names (serve/names.h)
 * and still sees the store change behind its back: blobs another process
 * adds (its directories' mtimes moved) are found, and blobs removed are
 * missing even where the list still names them. */
static void blob_text(int i, char *text, size_t n)
{
	snprintf(text, n, "blob %d behind the server's back", i);
}

static void blob_path(const char *dir, int i, char *path, size_t n)
{
	char text[64], hex[65];
	blob_text(i, text, sizeof text);
	hex_of(text, strlen(text), hex);
	snprintf(path, n, "%s/cas/%.2s/%s", dir, hex, hex);
}

/* Blob i written straight into the store, its directory's mtime moved
 * to a time of its own (as another process's write moves it). */
static void plant(const char *dir, int i, time_t when)
{
	char text[64], path[4096];
	blob_text(i, text, sizeof text);
	blob_path(dir, i, path, sizeof path);
	CHECK(fs_mkdir_parent(path) == 0);
	CHECK(fs_write_atomic(path, text, strlen(text), 0444) == 0);
	*strrchr(path, '/') = 0;
	struct timespec t[2] = {{when, 0}, {when, 0}};
	CHECK(utimensat(AT_FDCWD, path, t, 0) == 0);
}

/* FindMissingBlobs of blobs 0..n-1: which are missing, in missing[]. */
static int find_missing_of(struct fixture *f, int n, char *missing)
{
	char(*hex)[65] = xcalloc((size_t)n, sizeof *hex);
	V2(Digest) *d = xcalloc((size_t)n, sizeof *d);
	V2(Digest) **dp = xcalloc((size_t)n, sizeof *dp);
	for (int i = 0; i < n; i++) {
		char text[64];
		blob_text(i, text, sizeof text);
		hex_of(text, strlen(text), hex[i]);
		build__bazel__remote__execution__v2__digest__init(&d[i]);
		d[i].hash = hex[i];
		d[i].size_bytes = (int64_t)strlen(text);
		dp[i] = &d[i];
	}
	V2(FindMissingBlobsRequest) fm = BUILD__BAZEL__REMOTE__EXECUTION__V2__FIND_MISSING_BLOBS_REQUEST__INIT;
	fm.n_blob_digests = (size_t)n;
	fm.blob_digests = dp;
	struct buf resp = {0};
	int count = -1;
	if (call(f, SVC "ContentAddressableStorage/FindMissingBlobs", &fm.base, &resp) == GRPC_OK) {
		V2(FindMissingBlobsResponse) *fr =
			build__bazel__remote__execution__v2__find_missing_blobs_response__unpack(
				NULL, resp.len, (const uint8_t *)resp.s);
		memset(missing, 0, (size_t)n);
		for (size_t k = 0; fr && k < fr->n_missing_blob_digests; k++)
			for (int i = 0; i < n; i++)
				if (!strcmp(fr->missing_blob_digests[k]->hash, hex[i]))
					missing[i] = 1;
		count = fr ? (int)fr->n_missing_blob_digests : -1;
		if (fr)
			build__bazel__remote__execution__v2__find_missing_blobs_response__free_unpacked(fr, NULL);
	}
	buf_free(&resp);
	free(dp);
	free(d);
	free(hex);
	return count;
}

TEST(serve_find_missing_sees_the_store_change_behind_its_back)
{
	FIXTURE_UP(f);
	enum { N = 4000 }; /* about 16 a shard: each shard's list is read */
	char *missing = xcalloc(N, 1);
	for (int i = 0; i < N / 2; i++)
		plant(f.dir, i, 1000000000);
	CHECK(find_missing_of(&f, N, missing) == N / 2);
	int right = 1;
	for (int i = 0; i < N; i++)
		right &= missing[i] == (i >= N / 2);
	CHECK(right);
	/* behind its back: 100 added, 100 removed (their directories'
	 * mtimes left alone: the lists still name them) */
	for (int i = N / 2; i < N / 2 + 100; i++)
		plant(f.dir, i, 1000000000 + i);
	for (int i = 0; i < 100; i++) {
		char path[4096], dir[4096];
		blob_path(f.dir, i, path, sizeof path);
		snprintf(dir, sizeof dir, "%s", path);
		*strrchr(dir, '/') = 0;
		struct stat st;
		CHECK(stat(dir, &st) == 0);
		CHECK(unlink(path) == 0);
		struct timespec t[2] = {st.st_atim, st.st_mtim};
		CHECK(utimensat(AT_FDCWD, dir, t, 0) == 0);
	}
	CHECK(find_missing_of(&f, N, missing) == N / 2);
	right = 1;
	for (int i = 0; i < N; i++)
		right &= missing[i] == (i < 100 || i >= N / 2 + 100);
	CHECK(right);
	free(missing);
	fixture_down(&f);
}
