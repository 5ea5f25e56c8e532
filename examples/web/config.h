#ifndef WEB_CONFIG_H
#define WEB_CONFIG_H

/*
 * The site configuration of the example web server: a text file of
 *
 *     # a comment
 *     message = hello from cairn
 *     healthy = true
 *
 * one `key = value` per line; blanks around key and value are dropped,
 * blank lines and lines starting with `#` are skipped. Keys: `message`
 * (any text, the answer to GET /) and `healthy` (`true` or `false`; false
 * makes GET /healthz answer 500). An unknown key, a line without `=`, a
 * repeated key or a bad `healthy` value is an error: a typo in a deployed
 * configuration must stop the server, not be ignored.
 */

#include <stddef.h>

enum { CONFIG_MESSAGE_MAX = 512 };

/* A parsed configuration. */
struct web_config {
	char message[CONFIG_MESSAGE_MAX]; /* value of `message`, "" when absent */
	int healthy;                      /* 0 when `healthy = false`, else 1 */
};

/* Parses the len bytes of text (no NUL needed) into c. Returns 0, or -1
 * with "line N: reason" in err (errlen bytes). */
int config_parse(struct web_config *c, const char *text, size_t len, char *err, size_t errlen);

/* Reads the file at path (at most 64 KiB) and parses it. Returns 0, or -1
 * with "PATH: reason" or "PATH:N: reason" in err. */
int config_load(struct web_config *c, const char *path, char *err, size_t errlen);

#endif
