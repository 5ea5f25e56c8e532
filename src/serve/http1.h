/* serve/http1: a small HTTP/1.1 server for GET requests (metrics, health,
 * the status page), polled from the gRPC server's loop (srv_set_extra).
 * One request per connection; a request line and headers of at most
 * 8 KiB, in at most 5 s; anything else is answered 400 or dropped. */
#ifndef CAIRN_SERVE_HTTP1_H
#define CAIRN_SERVE_HTTP1_H
#include "util/str.h"
#include <poll.h>
#include <stddef.h>

struct http1;

/* The page for path: the status code, the body into body, *type its
 * content type (static). */
typedef int (*http1_page)(void *ctx, const char *path, struct buf *body, const char **type);

/* Listen on host:port (0: any). NULL with *why (fresh). */
struct http1 *http1_new(const char *host, int port, http1_page page, void *ctx, char **why);
int http1_port(const struct http1 *h);
void http1_free(struct http1 *h);
/* For srv_set_extra. */
size_t http1_fds(void *h, struct pollfd *pf, size_t max);
void http1_handle(void *h, const struct pollfd *pf, size_t n);

#endif
