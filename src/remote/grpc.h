/* grpc: gRPC calls to one server over one HTTP/2 connection (nghttp2),
 * plain TCP for grpc://, TLS with ALPN h2 (OpenSSL) for grpcs://.
 *
 * A channel owns a thread that does all the network I/O, so any number of
 * calls are in flight at once and any thread may start or wait for one.
 * Calls are unary or server-streaming (every response message is kept) and
 * may stream their request (a generator supplies the messages). A call
 * that cannot reach the server ends with UNAVAILABLE; one past its
 * deadline with DEADLINE_EXCEEDED: never a hang. A lost connection fails
 * the calls on it; the next call makes a new one. */
#ifndef CAIRN_GRPC_H
#define CAIRN_GRPC_H
#include "remote/url.h"
#include "util/str.h"
#include <stddef.h>

/* The gRPC status codes cairn looks at. */
enum grpc_code {
	GRPC_OK = 0,
	GRPC_CANCELLED = 1,
	GRPC_UNKNOWN = 2,
	GRPC_INVALID_ARGUMENT = 3,
	GRPC_DEADLINE_EXCEEDED = 4,
	GRPC_NOT_FOUND = 5,
	GRPC_PERMISSION_DENIED = 7,
	GRPC_RESOURCE_EXHAUSTED = 8,
	GRPC_FAILED_PRECONDITION = 9,
	GRPC_ABORTED = 10,
	GRPC_OUT_OF_RANGE = 11,
	GRPC_UNIMPLEMENTED = 12,
	GRPC_INTERNAL = 13,
	GRPC_UNAVAILABLE = 14,
	GRPC_UNAUTHENTICATED = 16,
};

struct grpc_opts {
	const struct url *url;       /* grpc:// or grpcs:// (not owned) */
	const char *const *headers;  /* "name: value" sent with every call; a
	                              * name ending in -bin takes raw bytes,
	                              * sent base64-encoded (copied) */
	const size_t *header_lens;   /* value lengths for -bin headers, or NULL */
	size_t nheaders;
	int timeout_ms;              /* connecting, and the default deadline */
};

struct grpc;
struct grpc_call;

/* A channel; it connects on its first call. NULL with *why (fresh) when
 * its thread cannot start. */
struct grpc *grpc_new(const struct grpc_opts *o, char **why);
/* Cancel what is in flight, stop the thread, free. Calls must be freed first. */
void grpc_free(struct grpc *g);

/* Appends the next request message of a streaming call to msg: 1 when more
 * follow, 0 when it was the last, -1 to abort the call (INTERNAL). Runs on
 * the channel's thread. */
typedef int (*grpc_gen)(void *arg, struct buf *msg);

/* Start method ("/package.Service/Method") with the one request message
 * req (n bytes), or with the messages gen makes (req NULL). deadline_ms:
 * 0 for the channel's timeout. Never NULL: a call that cannot start ends
 * at once with its status. */
struct grpc_call *grpc_start(struct grpc *g, const char *method, const void *req, size_t n,
                             grpc_gen gen, void *arg, int deadline_ms);
/* Has it ended? Never blocks. */
int grpc_done(struct grpc_call *c);
/* Block until it ends; its status code. */
int grpc_wait(struct grpc_call *c);
/* Once ended: its status code and message ("" when none). */
int grpc_status(const struct grpc_call *c, const char **message);
/* Once ended: the response messages received (also for a failed call). */
size_t grpc_nmsgs(const struct grpc_call *c);
const struct buf *grpc_msg(const struct grpc_call *c, size_t i);
/* Free it; one still running is cancelled first. */
void grpc_call_free(struct grpc_call *c);

/* A descriptor that becomes readable whenever a call of g ends (an
 * eventfd: read 8 bytes to clear it), for poll loops. */
int grpc_event_fd(struct grpc *g);
/* Make grpc_event_fd readable, as a call's end would (for a caller's
 * own threads that want its poll loop to look again). */
void grpc_notify(struct grpc *g);
/* How many calls g started, and bytes it received (for the summary). */
void grpc_counts(struct grpc *g, size_t *calls, unsigned long long *bytes_in);

/* A unary call, waited for: the status code; the one response message in
 * resp (appended); on failure *why (fresh: "Method: CODE: message"). */
int grpc_unary(struct grpc *g, const char *method, const void *req, size_t n, struct buf *resp,
               char **why);
/* "UNAVAILABLE", "NOT_FOUND", ... */
const char *grpc_code_name(int code);

#endif
