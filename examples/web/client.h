#ifndef WEB_CLIENT_H
#define WEB_CLIENT_H

/*
 * A minimal HTTP/1.0 client for 127.0.0.1 only: one GET, one answer, the
 * whole exchange (connect included) bounded by a deadline. Used by the
 * health check and by `server --get`, with which the deploy scripts ask
 * a freshly started server whether it answers.
 */

#include <stddef.h>

enum { HTTP_BODY_MAX = 1024 };

/* An answer. */
struct http_answer {
	int status;                /* status code of the status line */
	char body[HTTP_BODY_MAX];  /* body, NUL-terminated */
};

/* Sends `GET path` to 127.0.0.1:port and reads the answer, all within
 * timeout_ms. Returns 0 with *a filled, or -1 with the reason in err (a
 * refused connection, the deadline, a malformed or oversized answer). */
int http_get(int port, const char *path, int timeout_ms, struct http_answer *a,
             char *err, size_t errlen);

/* Parses a decimal TCP port, 1 to 65535. Returns it, or -1. */
int http_parse_port(const char *s);

#endif
