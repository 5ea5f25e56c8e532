/*
 * The example web server that //web:web deploys: single-threaded,
 * HTTP/1.0, on 127.0.0.1 only.
 *
 *   server --port N --config FILE [--release FILE]   serve
 *   server --port N --get PATH                       ask a server at N:
 *                                                    print the body, exit 0 on 200
 *
 *   GET /         200, the configuration's message and a newline
 *   GET /healthz  200 "ok\n"; 500 when the configuration says healthy = false
 *   GET /release  200, the first line of the --release file, read on each
 *                 request (the deploy script writes it); 500 when it cannot
 *                 be read, 404 when the server was started without one
 *   other paths   404; another method 405; a malformed request 400
 *
 * `--get` is how deploy/apply.sh asks the server it started whether it
 * answers, with nothing but the release itself (no curl on the host).
 *
 * One connection at a time, each closed after its answer. A request must
 * arrive whole within REQUEST_MS or the connection is dropped, so a client
 * that says nothing holds the server no longer than that. The server never
 * exits because of what a client sends; it stops on a signal.
 */
#define _POSIX_C_SOURCE 200809L
#include "web/client.h"
#include "web/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum {
	REQUEST_MAX = 4096, /* a request (line and headers) must fit */
	REQUEST_MS = 2000,  /* and arrive within this time */
	GET_MS = 2000,      /* deadline of --get */
	RELEASE_MAX = 128,  /* bytes of the release file read */
};

/* What the server was started with. */
struct server {
	int port;                 /* port on 127.0.0.1 */
	const char *release_path; /* --release FILE, or NULL */
	struct web_config config; /* the parsed --config FILE */
};

static void usage(void)
{
	fprintf(stderr, "usage: server --port N --config FILE [--release FILE]\n"
	                "       server --port N --get PATH\n");
	exit(2);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends n bytes of p. Returns 0, or -1 when the client is gone. */
static int send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Sends an answer; a client that went away is not the server's problem. */
static void answer(int fd, int status, const char *reason, const char *body)
{
	char head[256];
	size_t blen = strlen(body);
	int hlen = snprintf(head, sizeof head,
	                    "HTTP/1.0 %d %s\r\nContent-Type: text/plain\r\n"
	                    "Content-Length: %zu\r\nConnection: close\r\n\r\n",
	                    status, reason, blen);

	if (send_all(fd, head, (size_t)hlen) == 0)
		send_all(fd, body, blen);
}

/* Reads a request into buf (cap bytes, NUL-terminated) up to the blank
 * line that ends its headers. Returns its length; READ_GONE when the
 * client closed or was too slow; READ_BAD when it sent a NUL byte or more
 * than fits. */
enum { READ_GONE = -1, READ_BAD = -2 };
static long read_request(int fd, char *buf, size_t cap)
{
	long long deadline = now_ms() + REQUEST_MS;
	size_t n = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline - now_ms();
		ssize_t r;
		int ready;

		if (left <= 0)
			return READ_GONE;
		if (n + 1 >= cap)
			return READ_BAD;
		ready = poll(&p, 1, (int)left);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0)
			return READ_GONE;
		r = recv(fd, buf + n, cap - 1 - n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return READ_GONE;
		if (memchr(buf + n, '\0', (size_t)r))
			return READ_BAD; /* strstr below could not see past it */
		n += (size_t)r;
		buf[n] = '\0';
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			return (long)n;
	}
}

/* Reads the first line of the release file into out (RELEASE_MAX bytes).
 * Returns 0, or -1 when it cannot be read or is empty. */
static int read_release(const char *path, char *out)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return -1;
	n = fread(out, 1, RELEASE_MAX - 1, f);
	fclose(f);
	out[n] = '\0';
	out[strcspn(out, "\r\n")] = '\0';
	return out[0] ? 0 : -1;
}

/* Answers one connection. */
static void serve_one(const struct server *s, int fd)
{
	char req[REQUEST_MAX], method[16], path[256], version[16];
	char body[CONFIG_MESSAGE_MAX + 8], release[RELEASE_MAX];
	int status = 200;
	long got = read_request(fd, req, sizeof req);

	if (got == READ_GONE)
		return; /* nobody to answer */
	/* request line: METHOD SP PATH SP HTTP/1.x; the headers are not needed */
	if (got == READ_BAD || sscanf(req, "%15s %255s %15s", method, path, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) != 0 || path[0] != '/') {
		answer(fd, status = 400, "Bad Request", "bad request\n");
		fprintf(stderr, "server: bad request\n");
		return;
	}
	path[strcspn(path, "?#")] = '\0'; /* a query changes nothing here */
	if (strcmp(method, "GET") != 0) {
		answer(fd, status = 405, "Method Not Allowed", "only GET\n");
	} else if (strcmp(path, "/") == 0) {
		snprintf(body, sizeof body, "%s\n", s->config.message);
		answer(fd, status, "OK", body);
	} else if (strcmp(path, "/healthz") == 0) {
		if (s->config.healthy)
			answer(fd, status, "OK", "ok\n");
		else
			answer(fd, status = 500, "Internal Server Error", "unhealthy\n");
	} else if (strcmp(path, "/release") == 0) {
		if (!s->release_path) {
			answer(fd, status = 404, "Not Found", "started without --release\n");
		} else if (read_release(s->release_path, release) != 0) {
			answer(fd, status = 500, "Internal Server Error", "release file unreadable\n");
		} else {
			snprintf(body, sizeof body, "%s\n", release);
			answer(fd, status, "OK", body);
		}
	} else {
		answer(fd, status = 404, "Not Found", "not found\n");
	}
	fprintf(stderr, "server: %s %s %d\n", method, path, status);
}

/* Binds 127.0.0.1:port. Returns the listening socket, or -1 (reported). */
static int listen_on(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0) {
		fprintf(stderr, "server: socket: %s\n", strerror(errno));
		return -1;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	/* a restart must not wait for the old server's connections in TIME_WAIT */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0) {
		fprintf(stderr, "server: 127.0.0.1:%d: %s\n", port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* server --get PATH: one request, the body on stdout. */
static int get(int port, const char *path)
{
	struct http_answer a;
	char err[256];

	if (http_get(port, path, GET_MS, &a, err, sizeof err) != 0) {
		fprintf(stderr, "server: %s\n", err);
		return 1;
	}
	fputs(a.body, stdout);
	if (a.status != 200) {
		fprintf(stderr, "server: GET %s: HTTP %d\n", path, a.status);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct server s = { 0 };
	const char *config_path = NULL, *get_path = NULL;
	struct timeval send_timeout = { .tv_sec = REQUEST_MS / 1000 };
	char err[512];
	int lfd;

	for (int i = 1; i < argc; i++) {
		if (i + 1 == argc)
			usage();
		if (strcmp(argv[i], "--port") == 0) {
			if ((s.port = http_parse_port(argv[++i])) < 0) {
				fprintf(stderr, "server: bad port '%s'\n", argv[i]);
				return 2;
			}
		} else if (strcmp(argv[i], "--config") == 0) {
			config_path = argv[++i];
		} else if (strcmp(argv[i], "--release") == 0) {
			s.release_path = argv[++i];
		} else if (strcmp(argv[i], "--get") == 0) {
			get_path = argv[++i];
		} else {
			usage();
		}
	}
	if (!s.port)
		usage();
	if (get_path)
		return get(s.port, get_path);
	if (!config_path)
		usage();
	if (config_load(&s.config, config_path, err, sizeof err) != 0) {
		fprintf(stderr, "server: %s\n", err);
		return 1;
	}
	if ((lfd = listen_on(s.port)) < 0)
		return 1;
	fprintf(stderr, "server: listening on 127.0.0.1:%d (pid %ld)\n", s.port, (long)getpid());
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			/* EINTR, or a connection reset before it was accepted, or
			 * out of descriptors for a moment: none stops the server */
			if (errno != EINTR && errno != ECONNABORTED)
				fprintf(stderr, "server: accept: %s\n", strerror(errno));
			if (errno == EMFILE || errno == ENFILE)
				sleep(1);
			continue;
		}
		/* bounds a client that stops reading its answer */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
		serve_one(&s, fd);
		close(fd);
	}
}
