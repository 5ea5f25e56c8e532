/* serve/h2srv: the gRPC server's transport (h2srv.h).
 *
 * The wire is what remote/grpc.c speaks from the other side: a call is
 * one HTTP/2 stream, POST :path=method, content-type application/grpc;
 * each message has a 5-byte prefix (a compressed flag, which this server
 * refuses, and a big-endian length); the answer is headers, messages,
 * then trailers holding grpc-status and grpc-message (%-encoded).
 *
 * A call's answer goes out through nghttp2's data provider: it takes
 * from the call's out buffer, refilled from the file of srv_send_file
 * one chunk at a time, and when all is taken and the call is finished it
 * ends the data and submits the trailers. Bounds: a request message
 * beyond MAX_MSG is RESOURCE_EXHAUSTED, and so is a call whose bytes
 * would take what all calls hold past HELD_MAX; a connection may have
 * MAX_STREAMS calls at once (nghttp2 refuses more); a connection that
 * has sent nothing for IDLE_MS, or keeps a request unfinished for
 * REQUEST_MS, is closed. */
#include "serve/h2srv.h"
#include "serve/h2srv_int.h"
#include "remote/grpc.h"
#include "util/str.h"
#include "serve/listen.h"
#include "util/hook.h"
#include "util/util.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- calls ---- */

static struct srv_call *call_of(nghttp2_session *h2, int32_t stream)
{
	return nghttp2_session_get_stream_user_data(h2, stream);
}

static void call_free(struct srv_call *c)
{
	srv_account(c);
	c->conn->s->held -= c->held;
	if (c->conn->s->log)
		fprintf(stderr, "cairn: serve: %s %s%s%s %.1f ms\n", c->path ? c->path : "?",
		        c->finished ? grpc_code_name(c->code) : "RESET", c->msg ? ": " : "",
		        c->msg ? c->msg : "", (double)(now_ns() - c->t0) / 1e6);
	if (c->m && c->m->drop)
		c->m->drop(c);
	if (c->file >= 0)
		close(c->file);
	buf_free(&c->rx);
	buf_free(&c->req);
	buf_free(&c->out);
	for (size_t i = 0; i < c->nhdr; i++)
		free(c->hdr[i]);
	free(c->hdr);
	free(c->path);
	free(c->msg);
	free(c);
}

int srv_keep_one(struct srv_call *c, const uint8_t *p, size_t n)
{
	if (c->have_req) {
		srv_finish(c, GRPC_INVALID_ARGUMENT, "one request message expected");
		return -1;
	}
	c->have_req = 1;
	buf_putn(&c->req, p, n);
	return 0;
}

const struct buf *srv_request(struct srv_call *c)
{
	return &c->req;
}

void *srv_ctx(struct srv_call *c)
{
	return c->m && c->m->ctx ? c->m->ctx : c->conn->s->ctx;
}

void **srv_state(struct srv_call *c)
{
	return &c->state;
}

const char *srv_header(struct srv_call *c, const char *name)
{
	for (size_t i = 0; i + 1 < c->nhdr; i += 2)
		if (!strcmp(c->hdr[i], name))
			return c->hdr[i + 1];
	return NULL;
}

static void put_prefix(struct buf *b, size_t n)
{
	unsigned char p[5] = {0, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
	                      (unsigned char)(n >> 8), (unsigned char)n};
	buf_putn(b, p, 5);
}

static nghttp2_nv nv(const char *name, const char *value)
{
	return (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, strlen(name), strlen(value),
	                    NGHTTP2_NV_FLAG_NONE};
}

static ssize_t on_read_answer(nghttp2_session *h2, int32_t stream, uint8_t *dst, size_t len,
                              uint32_t *flags, nghttp2_data_source *src, void *ud);

/* Submit the answer's headers once; afterwards, wake its data provider. */
static void kick(struct srv_call *c)
{
	if (!c->responded) {
		nghttp2_nv h[] = {nv(":status", "200"), nv("content-type", "application/grpc")};
		nghttp2_data_provider dp = {.read_callback = on_read_answer};
		c->responded = 1;
		if (nghttp2_submit_response(c->conn->h2, c->stream, h, 2, &dp) != 0)
			c->conn->dead = 1;
		return;
	}
	nghttp2_session_resume_data(c->conn->h2, c->stream);
}

void srv_send(struct srv_call *c, const void *p, size_t n)
{
	if (c->finished)
		return;
	put_prefix(&c->out, n);
	buf_putn(&c->out, p, n);
	c->conn->s->st.bytes_out += n;
	kick(c);
}

void srv_send_file(struct srv_call *c, int fd, uint64_t off, uint64_t len)
{
	if (c->finished || c->file >= 0) {
		close(fd);
		return;
	}
	c->file = fd;
	c->file_off = off;
	c->file_left = len;
	kick(c);
}

void srv_finish(struct srv_call *c, int code, const char *msg)
{
	if (c->finished)
		return;
	c->finished = 1;
	c->code = code;
	c->msg = msg ? xstrdup(msg) : NULL;
	kick(c);
}

/* The next chunk of a streamed file into out, as one ReadResponse
 * (field 10, bytes). 0, or -1 (the file failed: the call ends INTERNAL). */
static int refill(struct srv_call *c)
{
	size_t n = c->file_left < CHUNK ? (size_t)c->file_left : CHUNK;
	unsigned char head[16];
	size_t h = 0;
	head[h++] = (10 << 3) | 2;
	for (uint64_t v = n; ; v >>= 7) {
		head[h++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		if (v <= 0x7f)
			break;
	}
	buf_reset(&c->out);
	c->outpos = 0;
	put_prefix(&c->out, h + n);
	buf_putn(&c->out, head, h);
	size_t at = c->out.len;
	buf_putn(&c->out, NULL, 0);
	if (c->out.cap < at + n + 1) {
		c->out.s = xreallocarray(c->out.s, at + n + 1, 1);
		c->out.cap = at + n + 1;
	}
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(c->file, c->out.s + at + got, n - got, (off_t)(c->file_off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	c->out.len = at + n;
	c->file_off += n;
	c->file_left -= n;
	c->conn->s->st.bytes_out += n;
	if (!c->file_left) {
		close(c->file);
		c->file = -1;
	}
	return 0;
}

/* %-encode what grpc-message may not hold as it is. */
static char *pct(const char *m)
{
	struct buf b = {0};
	for (const unsigned char *p = (const unsigned char *)m; *p; p++) {
		if (*p < 0x20 || *p > 0x7e || *p == '%')
			buf_printf(&b, "%%%02X", *p);
		else
			buf_putc(&b, (char)*p);
	}
	return b.s ? buf_take(&b) : xstrdup("");
}

static ssize_t on_read_answer(nghttp2_session *h2, int32_t stream, uint8_t *dst, size_t len,
                              uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	(void)src;
	(void)ud;
	struct srv_call *c = call_of(h2, stream);
	if (!c)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (c->outpos == c->out.len && c->file >= 0 && refill(c) < 0) {
		close(c->file);
		c->file = -1;
		buf_reset(&c->out);
		c->outpos = 0;
		free(c->msg);
		c->msg = xstrdup("reading the blob failed");
		c->finished = 1;
		c->code = GRPC_INTERNAL;
	}
	size_t n = c->out.len - c->outpos;
	if (n) {
		if (n > len)
			n = len;
		memcpy(dst, c->out.s + c->outpos, n);
		c->outpos += n;
		return (ssize_t)n;
	}
	if (!c->finished || c->file >= 0)
		return NGHTTP2_ERR_DEFERRED;
	*flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
	char code[16];
	snprintf(code, sizeof code, "%d", c->code);
	char *m = pct(c->msg ? c->msg : "");
	nghttp2_nv t[] = {nv("grpc-status", code), nv("grpc-message", m)};
	if (nghttp2_submit_trailer(h2, stream, t, *m ? 2 : 1) != 0)
		c->conn->dead = 1;
	c->trailers_sent = 1;
	free(m);
	return 0;
}

/* ---- the request ---- */

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
	struct conn *cn = ud;
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct srv_call *c = xcalloc(1, sizeof *c);
	c->conn = cn;
	c->stream = f->hd.stream_id;
	c->file = -1;
	c->t0 = now_ns();
	c->next = cn->calls;
	cn->calls = c;
	cn->s->st.calls++;
	nghttp2_session_set_stream_user_data(h2, c->stream, c);
	return 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name,
                     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
	(void)flags;
	(void)ud;
	struct srv_call *c = call_of(h2, f->hd.stream_id);
	if (!c || f->hd.type != NGHTTP2_HEADERS || c->nhdr >= 64)
		return 0;
	if (nlen == 5 && !memcmp(name, ":path", 5)) {
		free(c->path);
		c->path = xstrndup((const char *)value, vlen);
		return 0;
	}
	if (nlen && name[0] == ':')
		return 0;
	char *k = xstrndup((const char *)name, nlen), *v = xstrndup((const char *)value, vlen);
	VEC_PUSH(c->hdr, c->nhdr, c->caphdr, k);
	VEC_PUSH(c->hdr, c->nhdr, c->caphdr, v);
	return 0;
}

/* The request's method, once its headers are in; an unknown path is
 * UNIMPLEMENTED, a message that is not gRPC INVALID_ARGUMENT. */
static void bind_method(struct srv_call *c)
{
	struct srv *s = c->conn->s;
	for (size_t i = 0; i < s->nm && c->path; i++)
		if (!strcmp(s->m[i].path, c->path))
			c->m = &s->m[i];
	const char *ct = srv_header(c, "content-type");
	if (!ct || strncmp(ct, "application/grpc", 16) != 0) {
		srv_finish(c, GRPC_INVALID_ARGUMENT, "content-type is not application/grpc");
	} else if (!c->m) {
		char *m = xasprintf("unknown method %s", c->path ? c->path : "(none)");
		srv_finish(c, GRPC_UNIMPLEMENTED, m);
		free(m);
	} else if (s->auth) {
		const char *why = NULL;
		int code = s->auth(s->auth_ctx, srv_header(c, "authorization"), c->path, &why);
		if (code != GRPC_OK)
			srv_finish(c, code, why);
	}
}

/* Hand over every whole message in c->rx. */
static void take_messages(struct srv_call *c)
{
	size_t at = 0;
	while (!c->finished && c->rx.len - at >= 5) {
		const unsigned char *p = (const unsigned char *)c->rx.s + at;
		uint32_t n = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
		if (p[0] != 0) {
			srv_finish(c, GRPC_UNIMPLEMENTED, "compressed messages are not accepted");
			break;
		}
		if (n > MAX_MSG) {
			srv_finish(c, GRPC_RESOURCE_EXHAUSTED, "request message too large");
			break;
		}
		if (c->rx.len - at - 5 < n)
			break;
		if (c->m->msg(c, p + 5, n) < 0 && !c->finished)
			srv_finish(c, GRPC_INTERNAL, "the method failed");
		at += 5 + n;
	}
	if (c->finished) {
		buf_reset(&c->rx);
		return;
	}
	memmove(c->rx.s, c->rx.s + at, c->rx.len - at);
	c->rx.len -= at;
}

static int on_data(nghttp2_session *h2, uint8_t flags, int32_t stream, const uint8_t *data,
                   size_t len, void *ud)
{
	(void)flags;
	struct conn *cn = ud;
	struct srv_call *c = call_of(h2, stream);
	cn->s->st.bytes_in += len;
	if (!c || c->finished || !c->m)
		return 0;
	/* the bound on what all calls hold: this call is refused, the others
	 * go on */
	struct srv *s = cn->s;
	if (s->held + len > s->held_max) {
		srv_finish(c, GRPC_RESOURCE_EXHAUSTED, "the server holds too many requests: try again");
		buf_reset(&c->rx);
		buf_reset(&c->req);
	} else {
		buf_putn(&c->rx, data, len);
		take_messages(c);
	}
	size_t now = c->rx.len + c->req.len;
	s->held = s->held - c->held + now;
	c->held = now;
	return 0;
}

static int on_frame(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
	(void)ud;
	struct srv_call *c = call_of(h2, f->hd.stream_id);
	if (!c)
		return 0;
	if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
		bind_method(c);
	if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
	    (f->hd.flags & NGHTTP2_FLAG_END_STREAM) && !c->ended) {
		c->ended = 1;
		if (c->finished)
			return 0;
		if (c->rx.len)
			srv_finish(c, GRPC_INVALID_ARGUMENT, "the request ends in the middle of a message");
		else
			c->m->end(c); /* it may answer later (an execution) */
	}
	return 0;
}

static int on_close(nghttp2_session *h2, int32_t stream, uint32_t err, void *ud)
{
	struct conn *cn = ud;
	struct srv_call *c = call_of(h2, stream);
	if (!c)
		return 0;
	if (cn->s->log && (err || !c->finished))
		fprintf(stderr, "cairn: serve: stream %d closed: %s (rx %zu, ended %d)\n", stream,
		        nghttp2_http2_strerror(err), c->rx.len, c->ended);
	nghttp2_session_set_stream_user_data(h2, stream, NULL);
	for (struct srv_call **p = &cn->calls; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	call_free(c);
	return 0;
}

static int on_error(nghttp2_session *h2, int code, const char *msg, size_t len, void *ud)
{
	(void)h2;
	(void)code;
	struct conn *cn = ud;
	if (cn->s->log)
		fprintf(stderr, "cairn: serve: HTTP/2: %.*s\n", (int)len, msg);
	return 0;
}

/* ---- connections ---- */

static void conn_free(struct conn *cn)
{
	while (cn->calls) {
		struct srv_call *c = cn->calls;
		cn->calls = c->next;
		call_free(c);
	}
	if (cn->h2)
		nghttp2_session_del(cn->h2);
	if (cn->ssl)
		SSL_free(cn->ssl);
	if (cn->fd >= 0)
		close(cn->fd);
	buf_free(&cn->out);
	free(cn);
}

static struct conn *conn_new(struct srv *s, int fd)
{
	struct conn *cn = xcalloc(1, sizeof *cn);
	cn->s = s;
	cn->fd = fd;
	cn->last_ns = now_ns();
	nghttp2_session_callbacks *cb;
	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	nghttp2_session_callbacks_set_error_callback2(cb, on_error);
	nghttp2_option *opt;
	nghttp2_option_new(&opt);
	nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
	int rc = nghttp2_session_server_new2(&cn->h2, cb, cn, opt);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	if (rc != 0) {
		cn->h2 = NULL;
		conn_free(cn);
		return NULL;
	}
	nghttp2_settings_entry iv[] = {
		{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MAX_STREAMS},
		{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 4 << 20},
		{NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 64 << 10},
	};
	nghttp2_submit_settings(cn->h2, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof *iv);
	nghttp2_session_set_local_window_size(cn->h2, NGHTTP2_FLAG_NONE, 0, 32 << 20);
	return cn;
}

/* Read what there is: 0, or -1 (the connection is over). */
static int conn_read(struct conn *cn)
{
	uint8_t b[RBUF];
	for (;;) {
		ssize_t n;
		if (cn->ssl) {
			ERR_clear_error();
			int r = SSL_read(cn->ssl, b, sizeof b);
			int err = r > 0 ? SSL_ERROR_NONE : SSL_get_error(cn->ssl, r);
			if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
				return 0;
			n = r > 0 ? r : -1;
			errno = r > 0 ? 0 : ECONNRESET;
		} else {
			n = recv(cn->fd, b, sizeof b, 0);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			if (cn->s->log && cn->calls)
				fprintf(stderr, "cairn: serve: the client closed a connection with calls open\n");
			return -1;
		}
		cn->last_ns = now_ns();
		ssize_t rc = nghttp2_session_mem_recv(cn->h2, b, (size_t)n);
		if (rc < 0) {
			/* garbage, or a protocol error: this connection only */
			if (cn->s->log)
				fprintf(stderr, "cairn: serve: HTTP/2: %s; connection closed\n",
				        nghttp2_strerror((int)rc));
			return -1;
		}
		if (cn->dead) {
			if (cn->s->log)
				fprintf(stderr, "cairn: serve: a connection failed\n");
			return -1;
		}
	}
}

/* Write what nghttp2 has, as far as the socket takes it: 0, or -1. */
static int conn_write(struct conn *cn)
{
	for (;;) {
		if (cn->outpos == cn->out.len) {
			buf_reset(&cn->out);
			cn->outpos = 0;
			const uint8_t *p;
			ssize_t n = 0;
			while (cn->out.len < RBUF * 4 && (n = nghttp2_session_mem_send(cn->h2, &p)) > 0)
				buf_putn(&cn->out, p, (size_t)n);
			if (n < 0 && cn->out.len == 0) {
				if (cn->s->log)
					fprintf(stderr, "cairn: serve: HTTP/2: %s; connection closed\n",
					        nghttp2_strerror((int)n));
				return -1;
			}
			if (cn->out.len == 0)
				return 0;
		}
		ssize_t w;
		if (cn->ssl) {
			ERR_clear_error();
			int r = SSL_write(cn->ssl, cn->out.s + cn->outpos, (int)(cn->out.len - cn->outpos));
			int err = r > 0 ? SSL_ERROR_NONE : SSL_get_error(cn->ssl, r);
			if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
				return 0;
			w = r > 0 ? r : -1;
			errno = r > 0 ? 0 : EPROTO;
		} else {
			w = send(cn->fd, cn->out.s + cn->outpos, cn->out.len - cn->outpos, MSG_NOSIGNAL);
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (w < 0) {
			if (cn->s->log)
				fprintf(stderr, "cairn: serve: send: %s\n", strerror(errno));
			return -1;
		}
		cn->outpos += (size_t)w;
	}
}

/* A request that has taken too long, or a silent connection: close. */
static int conn_stale(struct conn *cn, uint64_t now)
{
	/* times taken after now (during this round's reads) are not late */
	if (now > cn->last_ns && now - cn->last_ns > (uint64_t)IDLE_MS * 1000000 && !cn->calls)
		return 1;
	for (struct srv_call *c = cn->calls; c; c = c->next)
		if (!c->ended && now > c->t0 && now - c->t0 > (uint64_t)REQUEST_MS * 1000000)
			return 1;
	return 0;
}

/* ---- the server ---- */

struct srv *srv_new(const char *host, int port, const struct srv_method *methods, size_t n,
                    void *ctx, char **why)
{
	int bound;
	int fd = serve_listen(host, port, 128, &bound, why);
	if (fd < 0)
		return NULL;
	struct srv *s = xcalloc(1, sizeof *s);
	s->fd = fd;
	s->port = bound;
	s->m = xcalloc(n, sizeof *s->m);
	memcpy(s->m, methods, n * sizeof *methods);
	s->ms = xcalloc(n, sizeof *s->ms);
	s->nm = n;
	s->ctx = ctx;
	/* the fault tests reach the bound with a few messages */
	s->held_max = hook("SERVE_HELD_8M") ? 8 << 20 : HELD_MAX;
	return s;
}

static void accept_all(struct srv *s)
{
	for (;;) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (s->nconns >= MAX_CONNS) {
			close(fd);
			s->st.dropped++;
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct conn *cn = conn_new(s, fd);
		if (!cn)
			continue;
		if (s->tls) {
			cn->ssl = SSL_new(s->tls);
			if (!cn->ssl || SSL_set_fd(cn->ssl, fd) != 1) {
				conn_free(cn);
				continue;
			}
			SSL_set_accept_state(cn->ssl);
		}
		VEC_PUSH(s->conns, s->nconns, s->capconns, cn);
		s->st.connections++;
	}
}

int srv_run(struct srv *s, volatile int *stop, void (*tick)(void *ctx), void *ctx, char **why)
{
	struct pollfd *pf = NULL;
	size_t cap = 0;
	while (!*stop) {
		enum { EXTRA = 64 };
		vec_reserve(&pf, &cap, s->nconns + 1 + EXTRA, sizeof *pf);
		pf[0] = (struct pollfd){s->fd, POLLIN, 0};
		for (size_t i = 0; i < s->nconns; i++) {
			struct conn *cn = s->conns[i];
			short ev = POLLIN;
			if (cn->outpos < cn->out.len || nghttp2_session_want_write(cn->h2))
				ev |= POLLOUT;
			pf[i + 1] = (struct pollfd){cn->fd, ev, 0};
		}
		size_t nextra = s->extra_fds ? s->extra_fds(s->extra_ctx, pf + s->nconns + 1, EXTRA) : 0;
		int r = poll(pf, s->nconns + 1 + nextra, 200);
		if (r > 0 && nextra)
			s->extra_handle(s->extra_ctx, pf + s->nconns + 1, nextra);
		if (r < 0 && errno != EINTR) {
			*why = xasprintf("poll: %s", strerror(errno));
			free(pf);
			return -1;
		}
		uint64_t now = now_ns();
		size_t live = s->nconns;
		for (size_t i = 0; i < live; i++) {
			struct conn *cn = s->conns[i];
			short re = r > 0 ? pf[i + 1].revents : 0;
			if ((re & (POLLIN | POLLHUP | POLLERR)) && conn_read(cn) < 0)
				cn->dead = 1;
			if (!cn->dead && conn_write(cn) < 0)
				cn->dead = 1;
			if (!cn->dead && !nghttp2_session_want_read(cn->h2) &&
			    !nghttp2_session_want_write(cn->h2) && cn->outpos == cn->out.len) {
				if (s->log)
					fprintf(stderr, "cairn: serve: a connection ended\n");
				cn->dead = 1;
			}
			if (!cn->dead && conn_stale(cn, now)) {
				if (s->log)
					fprintf(stderr, "cairn: serve: a connection went stale\n");
				cn->dead = 1;
			}
		}
		for (size_t i = 0; i < s->nconns;) {
			if (s->conns[i]->dead) {
				conn_free(s->conns[i]);
				s->conns[i] = s->conns[--s->nconns];
			} else {
				i++;
			}
		}
		if (r > 0 && (pf[0].revents & POLLIN))
			accept_all(s);
		if (tick)
			tick(ctx);
	}
	free(pf);
	return 0;
}

void srv_feed(struct srv *s, const uint8_t *p, size_t n)
{
	struct conn *cn = conn_new(s, -1);
	if (!cn)
		return;
	if (nghttp2_session_mem_recv(cn->h2, p, n) >= 0) {
		const uint8_t *out;
		while (nghttp2_session_mem_send(cn->h2, &out) > 0) {
			/* the answers, discarded */
		}
	}
	conn_free(cn);
}

void srv_free(struct srv *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nconns; i++)
		conn_free(s->conns[i]);
	free(s->conns);
	free(s->m);
	free(s->ms);
	if (s->tls)
		SSL_CTX_free(s->tls);
	close(s->fd);
	free(s);
}
