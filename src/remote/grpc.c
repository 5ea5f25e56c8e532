/* grpc: the channel (grpc.h).
 *
 * Threads: callers put new calls on `pending` and wake the channel's
 * thread (an eventfd); the thread alone touches the connection, the
 * nghttp2 session and the calls on `active`. A call's end is published
 * under the mutex (done, code, message) with a broadcast, and the caller
 * may free it from then on: the thread never touches a call after
 * finishing it, and detaches it from its stream first, so nghttp2's
 * later callbacks for that stream find nothing.
 *
 * The wire: each call is one HTTP/2 stream, POST :path=method, with
 * content-type application/grpc and te: trailers. Every message, both
 * ways, has gRPC's 5-byte prefix: a compressed flag (cairn offers no
 * compression and refuses a compressed message) and a big-endian length.
 * The status is grpc-status (and grpc-message, %-encoded) in the trailers,
 * or in the headers of a trailers-only answer. */
#include "remote/grpc.h"
#include "remote/net.h"
#include "util/util.h"
#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum {
	MAX_MSG = 256 << 20,        /* larger response messages are refused */
	STREAM_WINDOW = 8 << 20,    /* what the server may send per stream */
	CONN_WINDOW = 64 << 20,     /* and in all */
	RBUF = 1 << 16,
};

struct grpc_call {
	struct grpc *g;
	char *method;
	struct buf tx;            /* framed request bytes; tx[txpos..] unsent */
	size_t txpos;
	grpc_gen gen;             /* or NULL: tx is the whole request */
	void *arg;
	int gen_done;             /* gen returned its last message */
	int gen_failed;
	uint64_t deadline_ns;
	int32_t stream;           /* 0 until submitted */
	struct buf rx;            /* response bytes not yet a whole message */
	struct buf *msgs;
	size_t nmsgs, cap;
	int http_status;
	int have_status;          /* grpc-status seen */
	int status;
	char *status_msg;
	const char *bad;          /* a protocol fault in the response (static) */
	/* under the channel's mutex: */
	pthread_cond_t cv;        /* signalled when it ends */
	int done, cancel;
	int code;                 /* once done */
	char *message;            /* once done; owned */
	struct grpc_call *next;   /* on pending or active */
};

struct grpc {
	char *host, *authority;
	int port, tls, timeout_ms;
	nghttp2_nv *extra;        /* the caller's headers, -bin ones encoded */
	size_t nextra;
	pthread_t th;
	pthread_mutex_t mu;
	int wake_fd, event_fd;
	struct grpc_call *pending; /* under mu */
	int stop;                 /* under mu */
	size_t calls;             /* under mu */
	unsigned long long bytes_in;
	/* the thread's own: */
	struct grpc_call *active;
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	nghttp2_session *h2;
	struct buf out;           /* bytes for the socket; out[outpos..] unsent */
	size_t outpos;
};

const char *grpc_code_name(int code)
{
	static const char *const names[] = {
		"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
		"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
		"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
		"UNAUTHENTICATED",
	};
	return code >= 0 && code < (int)(sizeof names / sizeof *names) ? names[code] : "UNKNOWN";
}

/* ---- ending calls ---- */

static void publish(struct grpc *g, struct grpc_call *c, int code, char *message)
{
	pthread_mutex_lock(&g->mu);
	c->done = 1;
	c->code = code;
	c->message = message ? message : xstrdup("");
	pthread_cond_broadcast(&c->cv); /* its waiters only: no herd */
	pthread_mutex_unlock(&g->mu);
	uint64_t one = 1;
	if (write(g->event_fd, &one, sizeof one) < 0) {
		/* the counter is only a wake-up: a full one still wakes */
	}
}

/* End active call c: off the list, off its stream, published. */
static void finish(struct grpc *g, struct grpc_call *c, int code, char *message)
{
	for (struct grpc_call **p = &g->active; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	if (c->stream && g->h2)
		nghttp2_session_set_stream_user_data(g->h2, c->stream, NULL);
	publish(g, c, code, message);
}

/* ---- the connection ---- */

static void conn_close(struct grpc *g)
{
	if (g->h2)
		nghttp2_session_del(g->h2);
	g->h2 = NULL;
	if (g->ssl)
		SSL_free(g->ssl);
	g->ssl = NULL;
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
	buf_reset(&g->out);
	g->outpos = 0;
}

/* The connection is gone: every call on it ends UNAVAILABLE. */
static void conn_fail(struct grpc *g, char *why)
{
	while (g->active)
		finish(g, g->active, GRPC_UNAVAILABLE, xasprintf("connection lost: %s", why));
	free(why);
	conn_close(g);
}

static struct grpc_call *call_of(nghttp2_session *s, int32_t stream)
{
	return nghttp2_session_get_stream_user_data(s, stream);
}

static void take_messages(struct grpc_call *c)
{
	size_t pos = 0;
	while (!c->bad && c->rx.len - pos >= 5) {
		const unsigned char *p = (const unsigned char *)c->rx.s + pos;
		uint32_t n = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
		if (p[0] != 0) {
			c->bad = "a compressed message (none was offered)";
			break;
		}
		if (n > MAX_MSG) {
			c->bad = "a response message over 256 MiB";
			break;
		}
		if (c->rx.len - pos - 5 < n)
			break;
		vec_reserve(&c->msgs, &c->cap, c->nmsgs + 1, sizeof *c->msgs);
		struct buf *m = &c->msgs[c->nmsgs++];
		memset(m, 0, sizeof *m);
		buf_putn(m, p + 5, n);
		pos += 5 + n;
	}
	if (pos) {
		memmove(c->rx.s, c->rx.s + pos, c->rx.len - pos);
		c->rx.len -= pos;
	}
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t stream, const uint8_t *data,
                   size_t len, void *ud)
{
	struct grpc *g = ud;
	__atomic_add_fetch(&g->bytes_in, len, __ATOMIC_RELAXED);
	struct grpc_call *c = call_of(s, stream);
	if (!c || c->bad)
		return 0;
	buf_putn(&c->rx, data, len);
	take_messages(c);
	if (c->bad)
		nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, stream, NGHTTP2_CANCEL);
	return 0;
}

static int hexval(int ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0'
	       : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
	       : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* grpc-message is percent-encoded; control bytes become '?'. */
static char *percent_decode(const uint8_t *v, size_t n)
{
	struct buf b = {0};
	buf_puts(&b, "");
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (v[i] == '%' && i + 2 < n && (hi = hexval(v[i + 1])) >= 0 && (lo = hexval(v[i + 2])) >= 0) {
			int ch = hi * 16 + lo;
			buf_putc(&b, ch < 0x20 || ch == 0x7f ? '?' : (char)ch);
			i += 2;
		} else {
			buf_putc(&b, v[i] < 0x20 || v[i] == 0x7f ? '?' : (char)v[i]);
		}
	}
	return buf_take(&b);
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
	struct grpc_call *c = call_of(s, f->hd.stream_id);
	if (!c)
		return 0;
	if (nlen == 7 && !memcmp(name, ":status", 7)) {
		c->http_status = 0;
		for (size_t i = 0; i < vlen && i < 4 && value[i] >= '0' && value[i] <= '9'; i++)
			c->http_status = c->http_status * 10 + (value[i] - '0');
	} else if (nlen == 11 && !memcmp(name, "grpc-status", 11)) {
		int v = 0;
		size_t i = 0;
		for (; i < vlen && i < 3 && value[i] >= '0' && value[i] <= '9'; i++)
			v = v * 10 + (value[i] - '0');
		c->have_status = 1;
		c->status = i == vlen && vlen > 0 ? v : GRPC_UNKNOWN;
	} else if (nlen == 12 && !memcmp(name, "grpc-message", 12)) {
		free(c->status_msg);
		c->status_msg = percent_decode(value, vlen < 1024 ? vlen : 1024);
	}
	return 0;
}

/* The gRPC code for a stream that ended without one. */
static int code_of_http(int http)
{
	switch (http) {
	case 400: return GRPC_INTERNAL;
	case 401: return GRPC_UNAUTHENTICATED;
	case 403: return GRPC_PERMISSION_DENIED;
	case 404: return GRPC_UNIMPLEMENTED;
	case 429: case 502: case 503: case 504: return GRPC_UNAVAILABLE;
	default: return GRPC_UNKNOWN;
	}
}

static int on_close(nghttp2_session *s, int32_t stream, uint32_t err, void *ud)
{
	struct grpc *g = ud;
	struct grpc_call *c = call_of(s, stream);
	if (!c)
		return 0;
	if (c->bad)
		finish(g, c, GRPC_INTERNAL, xasprintf("bad response: %s", c->bad));
	else if (c->gen_failed)
		finish(g, c, GRPC_INTERNAL, xstrdup("the request could not be made"));
	else if (c->have_status && c->rx.len && c->status == GRPC_OK)
		finish(g, c, GRPC_INTERNAL, xstrdup("bad response: a message cut short"));
	else if (c->have_status)
		finish(g, c, c->status, c->status_msg ? xstrdup(c->status_msg) : NULL);
	else if (err == NGHTTP2_REFUSED_STREAM)
		finish(g, c, GRPC_UNAVAILABLE, xstrdup("the server refused the stream"));
	else if (err == NGHTTP2_ENHANCE_YOUR_CALM)
		finish(g, c, GRPC_RESOURCE_EXHAUSTED, xstrdup("the server asked to calm down"));
	else if (err != NGHTTP2_NO_ERROR)
		finish(g, c, GRPC_INTERNAL, xasprintf("stream reset (%s)", nghttp2_http2_strerror(err)));
	else if (c->http_status != 200)
		finish(g, c, code_of_http(c->http_status), xasprintf("HTTP status %d", c->http_status));
	else
		finish(g, c, GRPC_UNKNOWN, xstrdup("the stream ended without a grpc-status"));
	return 0;
}

static void frame(struct buf *b, const void *p, size_t n)
{
	unsigned char h[5] = {0, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
	                      (unsigned char)(n >> 8), (unsigned char)n};
	buf_putn(b, h, 5);
	if (n)
		buf_putn(b, p, n);
}

static ssize_t on_read_body(nghttp2_session *s, int32_t stream, uint8_t *dst, size_t len,
                            uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct grpc_call *c = call_of(s, stream);
	if (!c)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	while (c->txpos == c->tx.len && c->gen && !c->gen_done) {
		struct buf m = {0};
		int r = c->gen(c->arg, &m);
		if (r < 0) {
			buf_free(&m);
			c->gen_failed = 1;
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		}
		buf_reset(&c->tx);
		c->txpos = 0;
		frame(&c->tx, m.s, m.len);
		buf_free(&m);
		c->gen_done = r == 0;
	}
	size_t k = c->tx.len - c->txpos < len ? c->tx.len - c->txpos : len;
	if (k)
		memcpy(dst, c->tx.s + c->txpos, k);
	c->txpos += k;
	if (c->txpos == c->tx.len && (!c->gen || c->gen_done))
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)k;
}

/* The TLS handshake on g->fd, ALPN h2. 0, or -1 with *why. */
static int tls_start(struct grpc *g, char **why)
{
	g->ssl = net_tls(g->fd, g->host, "h2", g->timeout_ms, &g->ctx, why);
	return g->ssl ? 0 : -1;
}

static int conn_open(struct grpc *g, char **why)
{
	g->fd = net_connect(g->host, g->port, g->timeout_ms, why);
	if (g->fd < 0)
		return -1;
	if (g->tls && tls_start(g, why) < 0) {
		conn_close(g);
		return -1;
	}
	nghttp2_session_callbacks *cb;
	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	int rc = nghttp2_session_client_new(&g->h2, cb, g);
	nghttp2_session_callbacks_del(cb);
	if (rc != 0) {
		*why = xasprintf("HTTP/2: %s", nghttp2_strerror(rc));
		g->h2 = NULL;
		conn_close(g);
		return -1;
	}
	nghttp2_settings_entry iv[] = {
		{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
		{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
	};
	nghttp2_submit_settings(g->h2, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof *iv);
	nghttp2_session_set_local_window_size(g->h2, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW);
	return 0;
}

static nghttp2_nv nv(const char *name, const char *value)
{
	return (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, strlen(name), strlen(value),
	                    NGHTTP2_NV_FLAG_NONE};
}

/* Put c on the wire: 0, or -1 (c ended). */
static int submit(struct grpc *g, struct grpc_call *c)
{
	char timeout[32];
	uint64_t now = now_ns();
	uint64_t left_ms = c->deadline_ns > now ? (c->deadline_ns - now) / 1000000 + 1 : 1;
	snprintf(timeout, sizeof timeout, "%llum", (unsigned long long)left_ms);
	size_t n = 0;
	nghttp2_nv *h = xcalloc(8 + g->nextra, sizeof *h);
	h[n++] = nv(":method", "POST");
	h[n++] = nv(":scheme", g->tls ? "https" : "http");
	h[n++] = nv(":path", c->method);
	h[n++] = nv(":authority", g->authority);
	h[n++] = nv("content-type", "application/grpc");
	h[n++] = nv("te", "trailers");
	h[n++] = nv("grpc-timeout", timeout);
	h[n++] = nv("user-agent", "cairn-grpc/1");
	for (size_t i = 0; i < g->nextra; i++)
		h[n++] = g->extra[i];
	nghttp2_data_provider dp = {.read_callback = on_read_body};
	c->next = g->active;
	g->active = c;
	int32_t id = nghttp2_submit_request(g->h2, NULL, h, n, &dp, c);
	free(h);
	if (id < 0) {
		finish(g, c, GRPC_UNAVAILABLE, xasprintf("HTTP/2: %s", nghttp2_strerror(id)));
		return -1;
	}
	c->stream = id;
	return 0;
}

/* Everything nghttp2 has to send into out, then out to the socket as far
 * as it takes it. 0, or -1 with *why. */
static int flush(struct grpc *g, char **why)
{
	for (;;) {
		if (g->outpos == g->out.len) {
			buf_reset(&g->out);
			g->outpos = 0;
			const uint8_t *p;
			ssize_t n;
			while ((n = nghttp2_session_mem_send(g->h2, &p)) > 0 && g->out.len < RBUF * 4)
				buf_putn(&g->out, p, (size_t)n);
			if (n < 0) {
				*why = xasprintf("HTTP/2: %s", nghttp2_strerror((int)n));
				return -1;
			}
			if (n > 0)
				buf_putn(&g->out, p, (size_t)n);
			if (!g->out.len)
				return 0;
		}
		const char *p = g->out.s + g->outpos;
		size_t left = g->out.len - g->outpos;
		ssize_t k;
		if (g->ssl) {
			int r = SSL_write(g->ssl, p, (int)(left > INT32_MAX ? INT32_MAX : left));
			if (r <= 0) {
				int e = SSL_get_error(g->ssl, r);
				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
					return 0;
				*why = net_tls_error("write");
				return -1;
			}
			k = r;
		} else {
			k = send(g->fd, p, left, MSG_NOSIGNAL);
			if (k < 0) {
				if (errno == EAGAIN || errno == EINTR)
					return 0;
				*why = xasprintf("send: %s", strerror(errno));
				return -1;
			}
		}
		g->outpos += (size_t)k;
	}
}

/* Read what the socket has and feed it to nghttp2. 0, or -1 with *why
 * (including the server closing the connection). */
static int pump_in(struct grpc *g, char **why)
{
	uint8_t b[RBUF];
	for (;;) {
		ssize_t n;
		if (g->ssl) {
			int r = SSL_read(g->ssl, b, sizeof b);
			if (r <= 0) {
				int e = SSL_get_error(g->ssl, r);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
					return 0;
				*why = e == SSL_ERROR_ZERO_RETURN ? xstrdup("the server closed it")
				                                  : net_tls_error("read");
				return -1;
			}
			n = r;
		} else {
			n = recv(g->fd, b, sizeof b, 0);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return 0;
			if (n < 0) {
				*why = xasprintf("recv: %s", strerror(errno));
				return -1;
			}
			if (n == 0) {
				*why = xstrdup("the server closed it");
				return -1;
			}
		}
		ssize_t rc = nghttp2_session_mem_recv(g->h2, b, (size_t)n);
		if (rc < 0) {
			*why = xasprintf("HTTP/2: %s", nghttp2_strerror((int)rc));
			return -1;
		}
		if (!g->h2 || g->fd < 0)
			return 0;
	}
}

/* ---- the thread ---- */

static void *run(void *arg)
{
	struct grpc *g = arg;
	sigset_t pipe;
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE); /* TLS writes cannot say MSG_NOSIGNAL */
	pthread_sigmask(SIG_BLOCK, &pipe, NULL);
	for (;;) {
		pthread_mutex_lock(&g->mu);
		if (g->stop) {
			pthread_mutex_unlock(&g->mu);
			break;
		}
		struct grpc_call *fresh = g->pending;
		g->pending = NULL;
		pthread_mutex_unlock(&g->mu);

		/* oldest first */
		struct grpc_call *rev = NULL;
		while (fresh) {
			struct grpc_call *c = fresh;
			fresh = c->next;
			c->next = rev;
			rev = c;
		}
		if (rev && !g->h2) {
			char *why = NULL;
			if (conn_open(g, &why) < 0) {
				while (rev) {
					struct grpc_call *c = rev;
					rev = c->next;
					publish(g, c, GRPC_UNAVAILABLE, xstrdup(why));
				}
				free(why);
			}
		}
		while (rev) {
			struct grpc_call *c = rev;
			rev = c->next;
			int cancelled;
			pthread_mutex_lock(&g->mu);
			cancelled = c->cancel;
			pthread_mutex_unlock(&g->mu);
			if (cancelled)
				publish(g, c, GRPC_CANCELLED, xstrdup("cancelled"));
			else
				submit(g, c);
		}
		/* cancellations and deadlines */
		uint64_t now = now_ns(), next = now + 1000000000ull;
		for (struct grpc_call *c = g->active, *nx; c; c = nx) {
			nx = c->next;
			pthread_mutex_lock(&g->mu);
			int cancelled = c->cancel;
			pthread_mutex_unlock(&g->mu);
			if (cancelled || c->deadline_ns <= now) {
				nghttp2_submit_rst_stream(g->h2, NGHTTP2_FLAG_NONE, c->stream, NGHTTP2_CANCEL);
				finish(g, c, cancelled ? GRPC_CANCELLED : GRPC_DEADLINE_EXCEEDED,
				       xstrdup(cancelled ? "cancelled" : "deadline exceeded"));
			} else if (c->deadline_ns < next) {
				next = c->deadline_ns;
			}
		}
		char *why = NULL;
		if (g->h2 && flush(g, &why) < 0)
			conn_fail(g, why);
		if (g->h2 && !g->active && !nghttp2_session_want_read(g->h2) &&
		    !nghttp2_session_want_write(g->h2))
			conn_close(g); /* GOAWAY or the like: the next call reconnects */

		struct pollfd p[2] = {{.fd = g->wake_fd, .events = POLLIN}, {.fd = g->fd}};
		if (g->h2)
			p[1].events = POLLIN | (g->outpos < g->out.len ? POLLOUT : 0);
		int ms = (int)((next - now) / 1000000) + 1;
		int n = poll(p, g->h2 ? 2 : 1, ms);
		if (n < 0)
			continue;
		if (p[0].revents & POLLIN) {
			uint64_t v;
			if (read(g->wake_fd, &v, sizeof v) < 0) {
				/* nothing to clear */
			}
		}
		if (g->h2 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)) && pump_in(g, &why) < 0)
			conn_fail(g, why);
	}
	while (g->active)
		finish(g, g->active, GRPC_CANCELLED, xstrdup("the channel closed"));
	conn_close(g);
	return NULL;
}

/* ---- the caller's side ---- */

static char *base64(const void *p, size_t n)
{
	char *s = xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)s, p, (int)n);
	return s;
}

struct grpc *grpc_new(const struct grpc_opts *o, char **why)
{
	struct grpc *g = xcalloc(1, sizeof *g);
	g->host = xstrdup(o->url->host);
	g->port = o->url->port;
	g->tls = url_tls(o->url);
	int v6 = strchr(g->host, ':') != NULL;
	g->authority = xasprintf("%s%s%s:%d", v6 ? "[" : "", g->host, v6 ? "]" : "", g->port);
	g->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 60000;
	g->fd = -1;
	g->extra = xcalloc(o->nheaders + 1, sizeof *g->extra);
	for (size_t i = 0; i < o->nheaders; i++) {
		const char *h = o->headers[i], *colon = strchr(h, ':');
		if (!colon)
			continue;
		char *name = xstrndup(h, (size_t)(colon - h));
		const char *v = colon + 1;
		while (*v == ' ')
			v++;
		size_t nl = strlen(name);
		char *value = nl > 4 && !strcmp(name + nl - 4, "-bin")
		                  ? base64(v, o->header_lens ? o->header_lens[i] : strlen(v))
		                  : xstrdup(v);
		g->extra[g->nextra++] = nv(name, value);
	}
	pthread_mutex_init(&g->mu, NULL);
	g->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	g->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g->wake_fd < 0 || g->event_fd < 0 || pthread_create(&g->th, NULL, run, g) != 0) {
		*why = xasprintf("cannot start the gRPC channel: %s", strerror(errno));
		g->stop = -1;
		grpc_free(g);
		return NULL;
	}
	return g;
}

static void wake(struct grpc *g)
{
	uint64_t one = 1;
	if (write(g->wake_fd, &one, sizeof one) < 0) {
		/* a full counter wakes the thread all the same */
	}
}

void grpc_free(struct grpc *g)
{
	if (!g)
		return;
	if (g->stop != -1) {
		pthread_mutex_lock(&g->mu);
		g->stop = 1;
		pthread_mutex_unlock(&g->mu);
		wake(g);
		pthread_join(g->th, NULL);
	}
	if (g->ctx)
		SSL_CTX_free(g->ctx);
	for (size_t i = 0; i < g->nextra; i++) {
		free(g->extra[i].name);
		free(g->extra[i].value);
	}
	free(g->extra);
	if (g->wake_fd >= 0)
		close(g->wake_fd);
	if (g->event_fd >= 0)
		close(g->event_fd);
	buf_free(&g->out);
	pthread_mutex_destroy(&g->mu);
	free(g->host);
	free(g->authority);
	free(g);
}

struct grpc_call *grpc_start(struct grpc *g, const char *method, const void *req, size_t n,
                             grpc_gen gen, void *arg, int deadline_ms)
{
	struct grpc_call *c = xcalloc(1, sizeof *c);
	c->g = g;
	pthread_cond_init(&c->cv, NULL);
	c->method = xstrdup(method);
	c->gen = req ? NULL : gen;
	c->arg = arg;
	if (req || !gen)
		frame(&c->tx, req, req ? n : 0);
	c->deadline_ns = now_ns() + (uint64_t)(deadline_ms > 0 ? deadline_ms : g->timeout_ms) * 1000000ull;
	pthread_mutex_lock(&g->mu);
	c->next = g->pending;
	g->pending = c;
	g->calls++;
	pthread_mutex_unlock(&g->mu);
	wake(g);
	return c;
}

int grpc_done(struct grpc_call *c)
{
	pthread_mutex_lock(&c->g->mu);
	int d = c->done;
	pthread_mutex_unlock(&c->g->mu);
	return d;
}

int grpc_wait(struct grpc_call *c)
{
	pthread_mutex_lock(&c->g->mu);
	while (!c->done)
		pthread_cond_wait(&c->cv, &c->g->mu);
	int code = c->code;
	pthread_mutex_unlock(&c->g->mu);
	return code;
}

int grpc_status(const struct grpc_call *c, const char **message)
{
	if (message)
		*message = c->message ? c->message : "";
	return c->code;
}

size_t grpc_nmsgs(const struct grpc_call *c)
{
	return c->nmsgs;
}

const struct buf *grpc_msg(const struct grpc_call *c, size_t i)
{
	return &c->msgs[i];
}

void grpc_call_free(struct grpc_call *c)
{
	if (!c)
		return;
	struct grpc *g = c->g;
	pthread_mutex_lock(&g->mu);
	if (!c->done) {
		c->cancel = 1;
		pthread_mutex_unlock(&g->mu);
		wake(g);
		pthread_mutex_lock(&g->mu);
		while (!c->done)
			pthread_cond_wait(&c->cv, &g->mu);
	}
	pthread_mutex_unlock(&g->mu);
	pthread_cond_destroy(&c->cv);
	free(c->method);
	buf_free(&c->tx);
	buf_free(&c->rx);
	for (size_t i = 0; i < c->nmsgs; i++)
		buf_free(&c->msgs[i]);
	free(c->msgs);
	free(c->status_msg);
	free(c->message);
	free(c);
}

void grpc_notify(struct grpc *g)
{
	uint64_t one = 1;
	if (write(g->event_fd, &one, sizeof one) < 0) {
		/* a full counter is readable all the same */
	}
}

int grpc_event_fd(struct grpc *g)
{
	return g->event_fd;
}

void grpc_counts(struct grpc *g, size_t *calls, unsigned long long *bytes_in)
{
	pthread_mutex_lock(&g->mu);
	*calls = g->calls;
	*bytes_in = g->bytes_in;
	pthread_mutex_unlock(&g->mu);
}

int grpc_unary(struct grpc *g, const char *method, const void *req, size_t n, struct buf *resp,
               char **why)
{
	struct grpc_call *c = grpc_start(g, method, req ? req : "", n, NULL, NULL, 0);
	int code = grpc_wait(c);
	if (code == GRPC_OK && c->nmsgs != 1) {
		code = GRPC_INTERNAL;
		free(c->message);
		c->message = xasprintf("%zu response messages to a unary call", c->nmsgs);
	}
	if (code == GRPC_OK) {
		buf_putn(resp, c->msgs[0].s ? c->msgs[0].s : "", c->msgs[0].len);
	} else if (why) {
		const char *m = strrchr(method, '/');
		*why = xasprintf("%s: %s%s%s", m ? m + 1 : method, grpc_code_name(code),
		                 *c->message ? ": " : "", c->message);
	}
	grpc_call_free(c);
	return code;
}
