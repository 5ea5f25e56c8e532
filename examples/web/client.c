/*
 * The client of client.h. Every wait is a poll() against one deadline
 * taken at the start, so neither a listener that never accepts nor a
 * server that never answers can hold the caller past timeout_ms.
 */
#define _POSIX_C_SOURCE 200809L
#include "web/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The whole answer must fit: status line, headers and body. */
enum { ANSWER_MAX = 4096 + HTTP_BODY_MAX };

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline passes. Returns 0,
 * or -1 with errno ETIMEDOUT or poll's error. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		long long left = deadline - now_ms();
		int n;

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

int http_parse_port(const char *s)
{
	char *end;
	long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return -1;
	return (int)v;
}

/* Splits the answer in buf (n bytes, NUL-terminated) into *a. */
static int parse_answer(const char *buf, size_t n, struct http_answer *a, char *err, size_t errlen)
{
	const char *body;
	size_t blen;
	int status;

	if (sscanf(buf, "HTTP/1.%*1[01] %3d", &status) != 1 || status < 100 || status > 599) {
		snprintf(err, errlen, "not an HTTP answer: '%.40s'", buf);
		return -1;
	}
	body = strstr(buf, "\r\n\r\n");
	if (!body) {
		snprintf(err, errlen, "answer without end of headers");
		return -1;
	}
	body += 4;
	blen = n - (size_t)(body - buf);
	if (blen >= sizeof a->body) {
		snprintf(err, errlen, "answer body larger than %d bytes", HTTP_BODY_MAX - 1);
		return -1;
	}
	a->status = status;
	memcpy(a->body, body, blen);
	a->body[blen] = '\0';
	return 0;
}

int http_get(int port, const char *path, int timeout_ms, struct http_answer *a,
             char *err, size_t errlen)
{
	long long deadline = now_ms() + timeout_ms;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
	char req[512], *buf = NULL;
	size_t n = 0, sent = 0, rlen;
	int fd, soerr = 0, rc = -1;
	socklen_t slen = sizeof soerr;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rlen = (size_t)snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n", path, port);
	if (rlen >= sizeof req) {
		snprintf(err, errlen, "path too long");
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		goto fail;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		if (errno != EINPROGRESS) {
			snprintf(err, errlen, "connect to 127.0.0.1:%d: %s", port, strerror(errno));
			goto fail;
		}
		if (wait_fd(fd, POLLOUT, deadline) != 0 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) != 0 || soerr) {
			snprintf(err, errlen, "connect to 127.0.0.1:%d: %s", port,
			         strerror(soerr ? soerr : errno));
			goto fail;
		}
	}
	while (sent < rlen) {
		ssize_t w = send(fd, req + sent, rlen - sent, MSG_NOSIGNAL);
		if (w > 0) {
			sent += (size_t)w;
		} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
			snprintf(err, errlen, "send: %s", strerror(errno));
			goto fail;
		} else if (wait_fd(fd, POLLOUT, deadline) != 0) {
			snprintf(err, errlen, "send: %s", strerror(errno));
			goto fail;
		}
	}
	buf = malloc(ANSWER_MAX + 1);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* HTTP/1.0 without keep-alive: the answer ends where the server closes */
	for (;;) {
		ssize_t r;

		if (n == ANSWER_MAX) {
			snprintf(err, errlen, "answer larger than %d bytes", ANSWER_MAX);
			goto fail;
		}
		r = recv(fd, buf + n, ANSWER_MAX - n, 0);
		if (r > 0) {
			n += (size_t)r;
		} else if (r == 0) {
			break;
		} else if (errno != EAGAIN && errno != EINTR) {
			snprintf(err, errlen, "recv: %s", strerror(errno));
			goto fail;
		} else if (wait_fd(fd, POLLIN, deadline) != 0) {
			snprintf(err, errlen, "no answer from 127.0.0.1:%d within %d ms: %s",
			         port, timeout_ms, strerror(errno));
			goto fail;
		}
	}
	buf[n] = '\0';
	if (memchr(buf, '\0', n)) {
		snprintf(err, errlen, "answer holds a NUL byte");
		goto fail;
	}
	rc = parse_answer(buf, n, a, err, errlen);
fail:
	free(buf);
	close(fd);
	return rc;
}
