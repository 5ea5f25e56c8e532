/* net: a TCP connection to a remote, shared by the HTTP and gRPC clients. */
#ifndef CAIRN_NET_H
#define CAIRN_NET_H

/* Connect to host:port (a name or an address, any family), waiting at
 * most timeout_ms for each address tried. The socket is non-blocking,
 * close-on-exec, with TCP_NODELAY. The fd, or -1 with *why (a fresh
 * string, caller frees). */
int net_connect(const char *host, int port, int timeout_ms, char **why);
/* Wait until fd is ready for ev (POLLIN, POLLOUT), at most timeout_ms
 * (EINTR retried). 0, or -1 with *why (fresh). */
int net_wait(int fd, short ev, int timeout_ms, char **why);

struct ssl_st;
struct ssl_ctx_st;
/* A TLS session over the connected fd to host: TLS 1.2 or later, the
 * server's certificate checked against the system's authorities (or
 * SSL_CERT_FILE) and host, and with alpn (NULL: none asked) agreed. *ctx
 * is made on first use and kept by the caller (SSL_CTX_free). The session
 * (SSL_free), or NULL with *why (fresh). */
struct ssl_st *net_tls(int fd, const char *host, const char *alpn, int timeout_ms,
                       struct ssl_ctx_st **ctx, char **why);
/* "TLS WHAT: OpenSSL's reason" (fresh), clearing OpenSSL's error queue. */
char *net_tls_error(const char *what);

#endif
