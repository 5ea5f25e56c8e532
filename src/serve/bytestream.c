/* serve/bytestream: ByteStream for `cairn serve` (Read streamed from the
 * blob's file; Write streamed to a temp file, hashed on the way and
 * renamed in only when whole; QueryWriteStatus for a Write broken off:
 * its upload is kept, and a Write at its committed offset goes on). */
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

void bs_read(struct srv_call *c)
{
	struct cache *k = srv_ctx(c);
	Google__Bytestream__ReadRequest *req = ck_request(c, &google__bytestream__read_request__descriptor);
	if (!req)
		return;
	struct digest d;
	uint64_t size, got;
	int fd = -1;
	if (!req->resource_name || parse_resource(req->resource_name, 0, &d, &size) < 0) {
		srv_finish(c, GRPC_INVALID_ARGUMENT, "a resource name that is not blobs/HASH/SIZE");
	} else if (req->read_offset < 0 || req->read_limit < 0 || (uint64_t)req->read_offset > size) {
		srv_finish(c, GRPC_OUT_OF_RANGE, "read_offset or read_limit out of range");
	} else if (ck_is_empty(&d, size)) {
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

void upload_free(struct upload *u)
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

int bs_write_msg(struct srv_call *c, const uint8_t *p, size_t n)
{
	struct cache *k = srv_ctx(c);
	struct write_state **wp = (struct write_state **)srv_state(c);
	Google__Bytestream__WriteRequest *req = ck_unpack(&google__bytestream__write_request__descriptor, p, n);
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
		    ck_has_blob(k, &d, size)) {
			Google__Bytestream__WriteResponse res = GOOGLE__BYTESTREAM__WRITE_RESPONSE__INIT;
			res.committed_size = (int64_t)size;
			ck_send_msg(c, &res.base);
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
		} else if (fsync(u->fd) < 0 || ck_put_file(k, u->tmp, &got, &size) < 0) {
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

void bs_write_end(struct srv_call *c)
{
	struct write_state *w = *(struct write_state **)srv_state(c);
	if (!w || !w->done) {
		srv_finish(c, GRPC_INVALID_ARGUMENT, "the Write ended before finish_write");
		return;
	}
	Google__Bytestream__WriteResponse res = GOOGLE__BYTESTREAM__WRITE_RESPONSE__INIT;
	res.committed_size = (int64_t)w->size;
	ck_send_msg(c, &res.base);
	srv_finish(c, GRPC_OK, NULL);
}

void bs_write_drop(struct srv_call *c)
{
	struct write_state **wp = (struct write_state **)srv_state(c);
	if (*wp && (*wp)->u)
		(*wp)->u->busy = 0; /* kept: QueryWriteStatus, then a Write at its offset */
	free(*wp);
	*wp = NULL;
}

void bs_query(struct srv_call *c)
{
	struct cache *k = srv_ctx(c);
	Google__Bytestream__QueryWriteStatusRequest *req =
		ck_request(c, &google__bytestream__query_write_status_request__descriptor);
	if (!req)
		return;
	struct digest d;
	uint64_t size;
	Google__Bytestream__QueryWriteStatusResponse res = GOOGLE__BYTESTREAM__QUERY_WRITE_STATUS_RESPONSE__INIT;
	if (!req->resource_name || parse_resource(req->resource_name, 1, &d, &size) < 0) {
		srv_finish(c, GRPC_INVALID_ARGUMENT, "a resource name that is not uploads/UUID/blobs/HASH/SIZE");
	} else {
		struct upload **u = find_upload(k, req->resource_name);
		if (ck_has_blob(k, &d, size)) {
			res.committed_size = (int64_t)size;
			res.complete = 1;
		} else if (u) {
			res.committed_size = (int64_t)(*u)->committed;
		}
		if (!u && !res.complete) {
			srv_finish(c, GRPC_NOT_FOUND, "no such upload");
		} else {
			ck_send_msg(c, &res.base);
			srv_finish(c, GRPC_OK, NULL);
		}
	}
	protobuf_c_message_free_unpacked(&req->base, NULL);
}

