/* serve/cache_int: what cache.c and bytestream.c share. */
#ifndef CAIRN_SERVE_CACHE_INT_H
#define CAIRN_SERVE_CACHE_INT_H
#include "serve/cache.h"
#include "serve/names.h"
#include "store/store.h"
#include "util/sha.h"
#include "util/str.h"
#include "remote_execution.pb-c.h"

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
	struct names *names;   /* which blobs each shard holds, for FindMissingBlobs */
	struct upload *up[MAX_UPLOADS];
	int exec_enabled;      /* Capabilities says so */
	struct cache_stats st;
};

/* A request message decoded with d (NULL when it is not one). */
void *ck_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n);
/* Answer with m, packed. */
void ck_send_msg(struct srv_call *c, const ProtobufCMessage *m);
/* A Digest as cairn's: 0, or -1 when it is not a SHA-256 one. */
int ck_digest_of(const V2(Digest) * m, struct digest *d, uint64_t *size);
/* Is this the empty blob (always there: no client uploads it)? */
int ck_is_empty(const struct digest *d, uint64_t size);
/* Is blob d, of size, in the store (or the empty one)? */
int ck_has_blob(struct cache *k, const struct digest *d, uint64_t size);
/* The store's put_blob and put_file, which also tell k->names that the
 * blob's shard changed. */
int ck_put_blob(struct cache *k, const void *p, size_t n, struct digest *d);
int ck_put_file(struct cache *k, const char *path, struct digest *d, uint64_t *size);
/* The kept request decoded with d, or NULL (said: INVALID_ARGUMENT). */
void *ck_request(struct srv_call *c, const ProtobufCMessageDescriptor *d);
/* The blob d (size) into b: 0, or -1 when missing or unreadable. */
int ck_read_blob(struct cache *k, const struct digest *d, uint64_t size, struct buf *b);

/* bytestream.c: ByteStream's methods, and an upload's end. */
void bs_read(struct srv_call *c);
int bs_write_msg(struct srv_call *c, const uint8_t *p, size_t n);
void bs_write_end(struct srv_call *c);
void bs_write_drop(struct srv_call *c);
void bs_query(struct srv_call *c);
void upload_free(struct upload *u);

#endif
