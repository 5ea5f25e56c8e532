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

#endif
