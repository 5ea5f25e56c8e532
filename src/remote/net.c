/* net: connecting to a remote (net.h). */
#include "remote/net.h"
#include "util/util.h"
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int net_wait(int fd, short ev, int timeout_ms, char **why)
{
	struct pollfd p = {.fd = fd, .events = ev};
	for (;;) {
		int n = poll(&p, 1, timeout_ms);
		if (n > 0)
			return 0;
		if (n == 0) {
			*why = xasprintf("timed out after %d ms", timeout_ms);
			return -1;
		}
		if (errno != EINTR) {
			*why = xasprintf("poll: %s", strerror(errno));
			return -1;
		}
	}
}

int net_connect(const char *host, int port, int timeout_ms, char **why)
{
	char portstr[8];
	snprintf(portstr, sizeof portstr, "%d", port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
	int rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		*why = xasprintf("cannot resolve %s: %s", host, gai_strerror(rc));
		return -1;
	}
	int fd = -1, err = 0;
	char *twhy = NULL;
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		free(twhy);
		twhy = NULL;
		socklen_t len = sizeof err;
		if ((connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS && (err = errno)) ||
		    net_wait(fd, POLLOUT, timeout_ms, &twhy) < 0 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
			close(fd);
			fd = -1;
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	freeaddrinfo(res);
	if (fd >= 0) {
		free(twhy);
		return fd;
	}
	*why = twhy ? twhy : xasprintf("cannot connect: %s", strerror(err ? err : ECONNREFUSED));
	return -1;
}
