/* http: a small HTTP/1.1 client for one server, enough for a
 * bazel-remote-style cache: GET, HEAD and PUT of whole bodies, one
 * keep-alive connection, a timeout on every step; plain TCP, or TLS for
 * https. Not thread-safe: one caller at a time. */
#ifndef CAIRN_HTTP_H
#define CAIRN_HTTP_H
#include "util/str.h"
#include <stddef.h>

struct http;

/* A client for host:port, over TLS when tls (the certificate checked
 * against the system's authorities, or SSL_CERT_FILE). headers: "Name: value" lines sent with every
 * request (copied). timeout_ms bounds connecting, and each wait for the
 * socket to become readable or writable. */
struct http *http_new(const char *host, int port, int tls, const char *const *headers,
                      size_t nheaders, int timeout_ms);
void http_free(struct http *h);
/* Close the kept connection: the next request makes a new one. */
void http_close(struct http *h);

/* Send METHOD target (an absolute path, "/cas/..."), with body (n bytes;
 * a Content-Length is sent for PUT), and read the answer: its status into
 * *status, its body appended to resp (nothing for HEAD). 0, or -1 when no
 * whole answer came (refused, timed out, cut, malformed), with *why a
 * fresh string (caller frees). A connection kept from an earlier request
 * that the server closed meanwhile is retried once on a new one. */
int http_request(struct http *h, const char *method, const char *target, const void *body,
                 size_t n, int *status, struct buf *resp, char **why);

#endif
