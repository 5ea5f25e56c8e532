/* http: the HTTP/1.1 client (http.h).
 *
 * What goes out:
 *   METHOD TARGET HTTP/1.1\r\n
 *   Host: HOST[:PORT]\r\n
 *   Content-Length: N\r\n          (PUT)
 *   <each --remote_header>\r\n
 *   \r\n
 *   BODY
 *
 * What comes back is read with a deadline on every wait (poll), never on
 * the whole answer, so a slow large blob is fine and a stalled server is
 * not: status line, headers (8 KiB a line, 100 lines at most), then a body
 * framed by Content-Length, by chunks, or by the end of the connection.
 * An answer to HEAD, a 1xx, 204 or 304 has none. The connection is kept
 * for the next request unless the server said "Connection: close" or
 * framed the body by closing.
 *
 * Sockets are non-blocking and written with MSG_NOSIGNAL: a server that
 * goes away is an error return, never a SIGPIPE. */
#include "remote/http.h"
#include "remote/net.h"
#include <openssl/ssl.h>
#include <stdint.h>
#include "util/util.h"
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

enum { RBUF = 65536, MAX_LINE = 8192, MAX_HEADERS = 100 };

struct http {
	char *host;        /* owned */
	int port;
	struct buf head;   /* "Host: ...\r\n" and the extra headers, preformatted */
	int timeout_ms;    /* for each wait */
	int fd;            /* the kept connection, or -1 */
	int tls;           /* https: speak TLS on it */
	SSL_CTX *ctx;      /* made on the first TLS connection */
	SSL *ssl;          /* the kept connection's TLS session, or NULL */
	char rb[RBUF];     /* bytes read and not yet consumed: rb[rpos..rend) */
	size_t rpos, rend;
	size_t got;        /* bytes received on this request (0: the server
	                      said nothing, so a stale connection is retried) */
};

struct http *http_new(const char *host, int port, int tls, const char *const *headers,
                      size_t nheaders, int timeout_ms)
{
	struct http *h = xcalloc(1, sizeof *h);
	h->host = xstrdup(host);
	h->port = port;
	h->tls = tls;
	int v6 = strchr(host, ':') != NULL;
	buf_printf(&h->head, "Host: %s%s%s", v6 ? "[" : "", host, v6 ? "]" : "");
	if (port != (tls ? 443 : 80))
		buf_printf(&h->head, ":%d", port);
	buf_puts(&h->head, "\r\n");
	for (size_t i = 0; i < nheaders; i++)
		buf_printf(&h->head, "%s\r\n", headers[i]);
	h->timeout_ms = timeout_ms;
	h->fd = -1;
	return h;
}

static void drop_conn(struct http *h)
{
	if (h->ssl)
		SSL_free(h->ssl);
	h->ssl = NULL;
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	h->rpos = h->rend = 0;
}

void http_close(struct http *h)
{
	drop_conn(h);
}

void http_free(struct http *h)
{
	if (!h)
		return;
	drop_conn(h);
	if (h->ctx)
		SSL_CTX_free(h->ctx);
	free(h->host);
	buf_free(&h->head);
	free(h);
}

static int wait_fd(struct http *h, short ev, char **why)
{
	return net_wait(h->fd, ev, h->timeout_ms, why);
}

static int connect_to(struct http *h, char **why)
{
	h->fd = net_connect(h->host, h->port, h->timeout_ms, why);
	if (h->fd < 0)
		return -1;
	if (h->tls && !(h->ssl = net_tls(h->fd, h->host, NULL, h->timeout_ms, &h->ctx, why))) {
		drop_conn(h);
		return -1;
	}
	return 0;
}

/* One TLS read or write of up to n bytes: the count, 0 at the end of the
 * connection (reads), or -1 with *why; waits as the session asks. */
static ssize_t tls_io(struct http *h, int writing, void *p, size_t n, char **why)
{
	int cap = n > INT32_MAX ? INT32_MAX : (int)n;
	for (;;) {
		int r = writing ? SSL_write(h->ssl, p, cap) : SSL_read(h->ssl, p, cap);
		if (r > 0)
			return r;
		int e = SSL_get_error(h->ssl, r);
		if (e == SSL_ERROR_ZERO_RETURN && !writing)
			return 0;
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			*why = net_tls_error(writing ? "write" : "read");
			return -1;
		}
		if (wait_fd(h, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, why) < 0)
			return -1;
	}
}

static int send_all(struct http *h, const void *p, size_t n, char **why)
{
	const char *s = p;
	while (n && h->ssl) {
		ssize_t k = tls_io(h, 1, (void *)s, n, why);
		if (k < 0)
			return -1;
		s += k;
		n -= (size_t)k;
	}
	while (n) {
		ssize_t k = send(h->fd, s, n, MSG_NOSIGNAL);
		if (k > 0) {
			s += k;
			n -= (size_t)k;
		} else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(h, POLLOUT, why) < 0)
				return -1;
		} else if (k < 0 && errno != EINTR) {
			*why = xasprintf("send: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Read more into rb. 1, 0 at the end of the connection, -1 with *why. */
static int fill(struct http *h, char **why)
{
	if (h->rpos == h->rend)
		h->rpos = h->rend = 0;
	if (h->rend == RBUF) {
		memmove(h->rb, h->rb + h->rpos, h->rend - h->rpos);
		h->rend -= h->rpos;
		h->rpos = 0;
	}
	if (h->ssl) {
		ssize_t k = tls_io(h, 0, h->rb + h->rend, RBUF - h->rend, why);
		if (k > 0) {
			h->rend += (size_t)k;
			h->got += (size_t)k;
			return 1;
		}
		return k == 0 ? 0 : -1;
	}
	for (;;) {
		ssize_t k = recv(h->fd, h->rb + h->rend, RBUF - h->rend, 0);
		if (k > 0) {
			h->rend += (size_t)k;
			h->got += (size_t)k;
			return 1;
		}
		if (k == 0)
			return 0;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (wait_fd(h, POLLIN, why) < 0)
				return -1;
		} else if (errno != EINTR) {
			*why = xasprintf("recv: %s", strerror(errno));
			return -1;
		}
	}
}

/* One line without its CRLF (or LF) into line. 0, or -1 with *why. */
static int read_line(struct http *h, struct buf *line, char **why)
{
	buf_reset(line);
	buf_putn(line, "", 0);
	for (;;) {
		char *nl = memchr(h->rb + h->rpos, '\n', h->rend - h->rpos);
		size_t take = nl ? (size_t)(nl - (h->rb + h->rpos)) : h->rend - h->rpos;
		buf_putn(line, h->rb + h->rpos, take);
		h->rpos += take;
		if (line->len > MAX_LINE) {
			*why = xstrdup("malformed answer: a header line too long");
			return -1;
		}
		if (nl) {
			h->rpos++;
			if (line->len && line->s[line->len - 1] == '\r')
				line->s[--line->len] = '\0';
			return 0;
		}
		int k = fill(h, why);
		if (k <= 0) {
			if (k == 0)
				*why = xstrdup(h->got ? "connection closed mid-answer"
				                      : "connection closed before an answer");
			return -1;
		}
	}
}

/* n body bytes (SIZE_MAX: to the end of the connection) onto out. */
static int read_body(struct http *h, size_t n, struct buf *out, char **why)
{
	while (n) {
		if (h->rpos == h->rend) {
			int k = fill(h, why);
			if (k < 0)
				return -1;
			if (k == 0) {
				if (n == SIZE_MAX)
					return 0;
				*why = xstrdup("connection closed mid-body");
				return -1;
			}
		}
		size_t take = h->rend - h->rpos;
		if (take > n)
			take = n;
		if (out)
			buf_putn(out, h->rb + h->rpos, take);
		h->rpos += take;
		if (n != SIZE_MAX)
			n -= take;
	}
	return 0;
}

static int parse_size(const char *s, int base, size_t *n)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, base);
	while (*end == ' ' || *end == '\t' || (base == 16 && *end == ';'))
		if (*end++ == ';')
			end += strlen(end); /* a chunk extension: ignored */
	if (errno || end == s || *end || *s == '-' || v >= SIZE_MAX)
		return -1;
	*n = (size_t)v;
	return 0;
}

static int read_chunked(struct http *h, struct buf *out, struct buf *line, char **why)
{
	for (;;) {
		size_t n;
		if (read_line(h, line, why) < 0)
			return -1;
		if (parse_size(line->s, 16, &n) < 0) {
			*why = xstrdup("malformed answer: a bad chunk size");
			return -1;
		}
		if (n == 0)
			break;
		if (read_body(h, n, out, why) < 0 || read_line(h, line, why) < 0)
			return -1;
	}
	do { /* trailers, up to the empty line */
		if (read_line(h, line, why) < 0)
			return -1;
	} while (line->len);
	return 0;
}

/* Read one answer. 0, or -1 with *why; *keep: the connection may serve
 * the next request. */
static int read_answer(struct http *h, int head, int *status, struct buf *resp, int *keep,
                       char **why)
{
	struct buf line = {0};
	int rc = -1;
	*keep = 0;
	for (;;) {
		if (read_line(h, &line, why) < 0)
			goto out;
		int minor;
		if (sscanf(line.s, "HTTP/1.%d %3d", &minor, status) != 2 || *status < 100 ||
		    *status > 599) {
			*why = xstrdup("malformed answer: not HTTP/1.x");
			goto out;
		}
		*keep = minor >= 1;
		size_t clen = SIZE_MAX;
		int chunked = 0, nh = 0;
		for (;;) {
			if (read_line(h, &line, why) < 0)
				goto out;
			if (!line.len)
				break;
			if (++nh > MAX_HEADERS) {
				*why = xstrdup("malformed answer: too many headers");
				goto out;
			}
			char *colon = strchr(line.s, ':');
			if (!colon)
				continue;
			*colon = '\0';
			char *v = colon + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			if (!strcasecmp(line.s, "content-length")) {
				if (parse_size(v, 10, &clen) < 0) {
					*why = xstrdup("malformed answer: a bad Content-Length");
					goto out;
				}
			} else if (!strcasecmp(line.s, "transfer-encoding")) {
				chunked = strcasestr(v, "chunked") != NULL;
			} else if (!strcasecmp(line.s, "connection")) {
				if (strcasestr(v, "close"))
					*keep = 0;
				else if (strcasestr(v, "keep-alive"))
					*keep = 1;
			}
		}
		if (*status >= 100 && *status < 200)
			continue; /* 100 Continue and the like: the answer follows */
		if (head || *status == 204 || *status == 304)
			rc = 0;
		else if (chunked)
			rc = read_chunked(h, resp, &line, why);
		else if (clen != SIZE_MAX)
			rc = read_body(h, clen, resp, why);
		else {
			*keep = 0;
			rc = read_body(h, SIZE_MAX, resp, why);
		}
		goto out;
	}
out:
	buf_free(&line);
	if (rc < 0)
		*keep = 0;
	return rc;
}

int http_request(struct http *h, const char *method, const char *target, const void *body,
                 size_t n, int *status, struct buf *resp, char **why)
{
	struct buf req = {0};
	buf_printf(&req, "%s %s HTTP/1.1\r\n%s", method, target, h->head.s);
	if (body || !strcmp(method, "PUT"))
		buf_printf(&req, "Content-Length: %zu\r\n", n);
	buf_puts(&req, "\r\n");
	int head = !strcmp(method, "HEAD");
	size_t start = resp ? resp->len : 0;
	int rc = -1;
	*why = NULL;
	for (int attempt = 0; attempt < 2; attempt++) {
		int reused = h->fd >= 0;
		free(*why);
		*why = NULL;
		if (!reused && connect_to(h, why) < 0)
			break;
		h->got = 0;
		int keep = 0;
		if (send_all(h, req.s, req.len, why) == 0 && (!n || send_all(h, body, n, why) == 0) &&
		    read_answer(h, head, status, resp, &keep, why) == 0) {
			if (!keep)
				drop_conn(h);
			rc = 0;
			break;
		}
		drop_conn(h);
		if (resp) { /* nothing half-read survives */
			resp->len = start;
			if (resp->s)
				resp->s[start] = '\0';
		}
		if (!reused || h->got)
			break; /* a fresh connection failed, or the server did answer */
	}
	buf_free(&req);
	return rc;
}
