/* url: the address of a remote cache or executor, as --remote_cache and
 * --remote_executor give it:
 *
 *   SCHEME://HOST[:PORT][/PREFIX]
 *
 *   SCHEME  grpc, grpcs, http or https (grpcs and https speak TLS); any case
 *   HOST    a name (letters, digits, '-', '_', '.'), an IPv4 address, or an
 *           IPv6 address in brackets: [::1]
 *   PORT    1 to 65535; grpc and grpcs need it, http and https default to
 *           80 and 443
 *   PREFIX  http and https only: the path the cache lives under
 *           (http://h/cache/ -> "cache"); grpc takes none ("/" at most)
 *
 * Refused rather than guessed: a missing scheme (cairn does not pick TLS
 * for the user), user@ (credentials go in headers), ?query and #fragment
 * (no protocol here has a use for them), %-escapes, blanks and control
 * characters anywhere. */
#ifndef CAIRN_URL_H
#define CAIRN_URL_H

enum url_scheme { URL_GRPC, URL_GRPCS, URL_HTTP, URL_HTTPS };

struct url {
	enum url_scheme scheme;
	char *host;   /* owned; without brackets ("::1"); NULL: no URL */
	int port;     /* 1..65535, the scheme's default filled in */
	char *prefix; /* owned; "" or "a/b": no leading or trailing '/' */
};

/* Parse s into *u. 0, or -1 with *why saying what is wrong (a static
 * string) and *u untouched. */
int url_parse(const char *s, struct url *u, const char **why);
/* Free u's strings and mark it empty (host NULL). */
void url_free(struct url *u);
/* "grpc", "grpcs", "http", "https". */
const char *url_scheme_name(enum url_scheme s);
/* Does the scheme speak TLS (grpcs, https)? */
int url_tls(const struct url *u);
/* u in its canonical form, port always written: "grpcs://[::1]:8980",
 * "http://cache:80/prefix" (a fresh string; caller frees). */
char *url_format(const struct url *u);

#endif
