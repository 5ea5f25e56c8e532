/* serve/h2srv_int: the server's structures, for h2srv.c (the transport)
 * and h2srv_more.c (TLS, statistics, settings). */
#ifndef CAIRN_SERVE_H2SRV_INT_H
#define CAIRN_SERVE_H2SRV_INT_H
#include "serve/h2srv.h"
#include "util/str.h"
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <stdint.h>

enum {
	MAX_MSG = 8 << 20,      /* a request message */
	HELD_MAX = 512 << 20,   /* request bytes held by all calls at once */
	MAX_STREAMS = 128,      /* calls at once per connection */
	MAX_CONNS = 1000,
	CHUNK = 256 << 10,      /* a ReadResponse of a streamed file */
	RECENT = 32,            /* calls the status page shows */
	IDLE_MS = 120000,
	REQUEST_MS = 300000,
	RBUF = 1 << 16,
};

struct conn;

struct srv_call {
	struct conn *conn;
	int32_t stream;
	const struct srv_method *m;
	void *state;
	char *path;
	struct buf rx;          /* request bytes not yet a whole message */
	struct buf req;         /* srv_keep_one: the one request message */
	int have_req;
	char **hdr;             /* name, value, name, value, ... */
	size_t nhdr, caphdr;
	int responded;          /* headers submitted */
	struct buf out;         /* framed answer; out[outpos..] not yet taken */
	size_t outpos;
	int file;               /* srv_send_file: fd, or -1 */
	uint64_t file_off, file_left;
	int finished;           /* srv_finish called */
	int code;
	char *msg;
	int trailers_sent;
	int ended;              /* the method has seen the end of the request */
	size_t held;            /* rx and req: its share of srv.held */
	uint64_t t0;            /* when it began (ns) */
	struct srv_call *next;  /* the connection's calls */
};

struct conn {
	struct srv *s;
	int fd;
	SSL *ssl;               /* with --tls-cert, else NULL */
	nghttp2_session *h2;
	struct buf out;         /* bytes for the socket; out[outpos..] unsent */
	size_t outpos;
	struct srv_call *calls;
	uint64_t last_ns;       /* last bytes received */
	int dead;
};

struct srv {
	int fd;
	int port;
	struct srv_method *m;
	size_t nm;
	void *ctx;
	struct conn **conns;
	size_t nconns, capconns;
	struct srv_stats st;
	int log;                /* a line per call on stderr */
	int (*auth)(void *ctx, const char *authorization, const char *path, const char **msg);
	void *auth_ctx;
	struct srv_mstat *ms;   /* per method */
	struct srv_recent recent[RECENT];
	size_t nrecent, next_recent;
	size_t (*extra_fds)(void *ctx, struct pollfd *pf, size_t max);
	void (*extra_handle)(void *ctx, const struct pollfd *pf, size_t n);
	void *extra_ctx;
	SSL_CTX *tls;           /* srv_set_tls, or NULL: cleartext */
	size_t held, held_max;  /* request bytes all calls hold, and the bound */
};

/* A call is over: its method's counts and the recent list. */
void srv_account(struct srv_call *c);

#endif
