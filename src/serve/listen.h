/* serve/listen: a listening TCP socket, for the gRPC server and the HTTP
 * one beside it. */
#ifndef CAIRN_SERVE_LISTEN_H
#define CAIRN_SERVE_LISTEN_H

/* Listen on host:port (port 0: any free one; *bound gets the port). The
 * socket is non-blocking and close-on-exec, with SO_REUSEADDR. The fd, or
 * -1 with *why (fresh). */
int serve_listen(const char *host, int port, int backlog, int *bound, char **why);

#endif
