/* serve/h2srv: gRPC's server side over HTTP/2 (cleartext, prior
 * knowledge), on one thread: a poll() loop over the listening socket and
 * every connection. A method sees each request message as it arrives (so
 * a client stream of any length needs no more memory than one message),
 * then the end of the request, and answers with messages (or a file,
 * streamed as ByteStream ReadResponses as the client takes them) and a
 * status. A client that sends garbage, an oversized or compressed
 * message, or a truncated one gets a status or loses its connection;
 * the others are served on. */
#ifndef CAIRN_SERVE_H2SRV_H
#define CAIRN_SERVE_H2SRV_H
#include "util/str.h"
#include <poll.h>
#include <stddef.h>
#include <stdint.h>

struct srv;
struct srv_call;

/* One method: its handlers run on the server's thread. */
struct srv_method {
	const char *path;  /* "/package.Service/Method" */
	/* A request message. 0; or -1 when the handler has finished the call
	 * (srv_finish): the rest of the request is dropped. */
	int (*msg)(struct srv_call *c, const uint8_t *p, size_t n);
	/* The client has sent all: answer (srv_send*) and srv_finish. */
	void (*end)(struct srv_call *c);
	/* The call is over (finished and sent, or reset by the client or a
	 * lost connection): free what *srv_state holds. May be NULL. */
	void (*drop)(struct srv_call *c);
	void *ctx;         /* what srv_ctx answers (NULL: the server's ctx) */
};

/* Listen on host:port (port 0: any; srv_port says which), serving
 * methods (copied) with ctx for them. NULL with *why (fresh). */
struct srv *srv_new(const char *host, int port, const struct srv_method *methods, size_t n,
                    void *ctx, char **why);
int srv_port(const struct srv *s);
/* Serve over TLS (1.2 or later, ALPN h2) with the certificate chain and
 * key of these PEM files. 0, or -1 with *why (fresh). */
int srv_set_tls(struct srv *s, const char *cert, const char *key, char **why);
/* A line per call on stderr (method, status, time). */
void srv_set_log(struct srv *s, int on);
/* Serve until *stop is set (checked at least every 200 ms, when tick,
 * if not NULL, is called too). 0, or -1 with *why (fresh) when the loop
 * itself fails. */
int srv_run(struct srv *s, volatile int *stop, void (*tick)(void *ctx), void *ctx, char **why);
void srv_free(struct srv *s);
/* For the fuzzer (tests/fuzz): bytes a client sent, from its preface on,
 * through one connection of their own: parsed, the methods run, the
 * answers made and dropped. */
void srv_feed(struct srv *s, const uint8_t *p, size_t n);

/* A msg handler for methods of one request message: it is kept with the
 * call (a second is INVALID_ARGUMENT); srv_request gives it back. */
int srv_keep_one(struct srv_call *c, const uint8_t *p, size_t n);
/* The kept request message (empty when none came). */
const struct buf *srv_request(struct srv_call *c);
/* The method's ctx, else the server's. */
void *srv_ctx(struct srv_call *c);
/* The method's own pointer for the call (NULL at first). */
void **srv_state(struct srv_call *c);
/* A request header (lowercase name), or NULL. */
const char *srv_header(struct srv_call *c, const char *name);
/* Answer with a message (copied). */
void srv_send(struct srv_call *c, const void *p, size_t n);
/* Answer with fd's bytes [off, off + len) as ByteStream ReadResponse
 * messages, read as the client takes them; fd is closed after. */
void srv_send_file(struct srv_call *c, int fd, uint64_t off, uint64_t len);
/* The status (GRPC_* of remote/grpc.h) and message, sent after what was
 * answered. The call is over for its method. */
void srv_finish(struct srv_call *c, int code, const char *msg);

/* Ask check, before each call, whether it may go on: 0 (GRPC_OK) or
 * the status that refuses it, with *msg (static). authorization is the
 * request's header (NULL when absent), path the method's. */
void srv_set_auth(struct srv *s,
                  int (*check)(void *ctx, const char *authorization, const char *path,
                               const char **msg),
                  void *ctx);

/* Counts, for /metrics. */
struct srv_stats {
	uint64_t connections, calls, bytes_in, bytes_out, dropped;
	uint64_t open_connections, open_calls;
};
void srv_stats(const struct srv *s, struct srv_stats *st);

/* Per method: calls by outcome and latency, for /metrics and the status
 * page. bucket[i] counts calls that took at most srv_bucket_ms[i]. */
enum { SRV_BUCKETS = 14 };
extern const double srv_bucket_ms[SRV_BUCKETS];
struct srv_mstat {
	uint64_t calls, failed;       /* failed: reset, or neither OK nor NOT_FOUND */
	uint64_t bucket[SRV_BUCKETS];
	double sum_ms;
};
/* Method i (0 .. n-1 of srv_new's), or NULL past the end. */
const char *srv_method_stat(const struct srv *s, size_t i, struct srv_mstat *st);

/* The last calls, newest first. */
struct srv_recent {
	const char *method;  /* the method's path (static for the server's life) */
	int code;            /* -1: reset */
	double ms;
	int64_t when;        /* Unix seconds */
};
size_t srv_recent(const struct srv *s, struct srv_recent *out, size_t max);

/* More descriptors for the loop (a second listener): fds fills up to max
 * pollfds and returns how many; handle gets them back after poll. */
void srv_set_extra(struct srv *s, size_t (*fds)(void *ctx, struct pollfd *pf, size_t max),
                   void (*handle)(void *ctx, const struct pollfd *pf, size_t n), void *ctx);

#endif
