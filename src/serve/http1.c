/* serve/http1: GET over HTTP/1.1, one request per connection (http1.h). */
#include "serve/http1.h"
#include "serve/listen.h"
#include "util/util.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { MAX_REQ = 8192, MAX_CONNS = 32, REQ_MS = 5000 };

struct hconn {
	int fd;
	struct buf in, out;
	size_t outpos;
	uint64_t t0;
	int answered;
};

struct http1 {
	int fd, port;
	http1_page page;
	void *ctx;
	struct hconn c[MAX_CONNS];
	size_t n;
};

struct http1 *http1_new(const char *host, int port, http1_page page, void *ctx, char **why)
{
	int bound;
	int fd = serve_listen(host, port, 16, &bound, why);
	if (fd < 0)
		return NULL;
	struct http1 *h = xcalloc(1, sizeof *h);
	h->fd = fd;
	h->port = bound;
	h->page = page;
	h->ctx = ctx;
	return h;
}

int http1_port(const struct http1 *h)
{
	return h->port;
}

static void hclose(struct http1 *h, size_t i)
{
	close(h->c[i].fd);
	buf_free(&h->c[i].in);
	buf_free(&h->c[i].out);
	h->c[i] = h->c[--h->n];
}

void http1_free(struct http1 *h)
{
	if (!h)
		return;
	while (h->n)
		hclose(h, 0);
	close(h->fd);
	free(h);
}

size_t http1_fds(void *ctx, struct pollfd *pf, size_t max)
{
	struct http1 *h = ctx;
	size_t n = 0;
	if (max == 0)
		return 0;
	pf[n++] = (struct pollfd){h->fd, POLLIN, 0};
	for (size_t i = 0; i < h->n && n < max; i++)
		pf[n++] = (struct pollfd){h->c[i].fd, h->c[i].answered ? POLLOUT : POLLIN, 0};
	return n;
}

/* The request is in: make the answer. */
static void answer(struct http1 *h, struct hconn *c)
{
	char method[8] = "", path[1024] = "";
	int code;
	struct buf body = {0};
	const char *type = "text/plain; charset=utf-8";
	if (sscanf(c->in.s, "%7s %1023s HTTP/1.", method, path) != 2) {
		code = 400;
		buf_puts(&body, "bad request\n");
	} else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		code = 405;
		buf_puts(&body, "only GET\n");
	} else {
		code = h->page(h->ctx, path, &body, &type);
	}
	const char *reason = code == 200 ? "OK" : code == 404 ? "Not Found" : code == 405
	                     ? "Method Not Allowed" : code == 503 ? "Service Unavailable" : "Bad Request";
	buf_printf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                    "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
	           code, reason, type, body.len);
	if (strcmp(method, "HEAD") != 0)
		buf_putn(&c->out, body.s ? body.s : "", body.len);
	buf_free(&body);
	c->answered = 1;
}

void http1_handle(void *ctx, const struct pollfd *pf, size_t n)
{
	struct http1 *h = ctx;
	uint64_t now = now_ns();
	/* the connections first (by index, as http1_fds listed them) */
	for (size_t k = n; k-- > 1;) {
		size_t i = k - 1;
		if (i >= h->n)
			continue;
		struct hconn *c = &h->c[i];
		int done = 0;
		if (!c->answered && (pf[k].revents & (POLLIN | POLLHUP | POLLERR))) {
			char b[2048];
			ssize_t r = recv(c->fd, b, sizeof b, 0);
			if (r <= 0 && !(r < 0 && (errno == EAGAIN || errno == EINTR))) {
				done = 1;
			} else if (r > 0) {
				buf_putn(&c->in, b, (size_t)r);
				if (c->in.len > MAX_REQ)
					done = 1;
				else if (strstr(c->in.s, "\r\n\r\n") || strstr(c->in.s, "\n\n"))
					answer(h, c);
			}
		}
		if (!done && c->answered && (pf[k].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = send(c->fd, c->out.s + c->outpos, c->out.len - c->outpos, MSG_NOSIGNAL);
			if (w > 0)
				c->outpos += (size_t)w;
			if (w < 0 && errno != EAGAIN && errno != EINTR)
				done = 1;
			if (c->outpos == c->out.len)
				done = 1;
		}
		if (now > c->t0 && now - c->t0 > (uint64_t)REQ_MS * 1000000)
			done = 1;
		if (done)
			hclose(h, i);
	}
	if (pf[0].revents & POLLIN) {
		for (;;) {
			int fd = accept4(h->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd < 0)
				break;
			if (h->n == MAX_CONNS) {
				close(fd);
				continue;
			}
			h->c[h->n++] = (struct hconn){.fd = fd, .t0 = now_ns()};
		}
	}
}
