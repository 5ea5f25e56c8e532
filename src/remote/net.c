/* net: connecting to a remote (net.h). */
#include "remote/net.h"
#include "util/util.h"
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
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

static SSL_CTX *tls_context(const char *alpn, char **why)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		*why = xstrdup("TLS: cannot make a context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_default_verify_paths(ctx);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (alpn) {
		unsigned char wire[32];
		size_t n = strlen(alpn);
		if (n < sizeof wire) {
			wire[0] = (unsigned char)n;
			memcpy(wire + 1, alpn, n);
			SSL_CTX_set_alpn_protos(ctx, wire, (unsigned)n + 1);
		}
	}
	return ctx;
}

char *net_tls_error(const char *what)
{
	unsigned long e = ERR_get_error();
	char b[256] = "";
	if (e)
		ERR_error_string_n(e, b, sizeof b);
	ERR_clear_error();
	return xasprintf("TLS %s: %s", what, *b ? b : "failed");
}

struct ssl_st *net_tls(int fd, const char *host, const char *alpn, int timeout_ms,
                       struct ssl_ctx_st **ctx, char **why)
{
	if (!*ctx && !(*ctx = tls_context(alpn, why)))
		return NULL;
	SSL *ssl = SSL_new(*ctx);
	if (!ssl || !SSL_set_fd(ssl, fd)) {
		*why = net_tls_error("setup");
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_tlsext_host_name(ssl, host);
	SSL_set1_host(ssl, host);
	for (;;) {
		int r = SSL_connect(ssl);
		if (r == 1)
			break;
		int e = SSL_get_error(ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (net_wait(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, timeout_ms, why) < 0) {
				SSL_free(ssl);
				return NULL;
			}
			continue;
		}
		long v = SSL_get_verify_result(ssl);
		*why = v != X509_V_OK ? xasprintf("TLS: the server's certificate: %s",
		                                  X509_verify_cert_error_string(v))
		                      : net_tls_error("handshake");
		SSL_free(ssl);
		return NULL;
	}
	if (alpn) {
		const unsigned char *proto;
		unsigned plen;
		SSL_get0_alpn_selected(ssl, &proto, &plen);
		if (plen != strlen(alpn) || memcmp(proto, alpn, plen)) {
			*why = xasprintf("TLS: the server does not speak %s (ALPN)", alpn);
			SSL_free(ssl);
			return NULL;
		}
	}
	return ssl;
}
