/* url: parse a remote's address (the grammar is in url.h). The parse is
 * one pass from left to right: scheme, authority (host, port), path; each
 * part is checked where it ends, so the first thing wrong is the one
 * reported. Nothing here knows about flags: the CLI names the flag. */
#include "remote/url.h"
#include "util/util.h"
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	int port; /* the default; 0: the URL must give one */
} schemes[] = {
	[URL_GRPC] = {"grpc", 0},
	[URL_GRPCS] = {"grpcs", 0},
	[URL_HTTP] = {"http", 80},
	[URL_HTTPS] = {"https", 443},
};

#define ANY_SCHEME "(grpc://, grpcs://, http:// or https://)"

const char *url_scheme_name(enum url_scheme s)
{
	return schemes[s].name;
}

int url_tls(const struct url *u)
{
	return u->scheme == URL_GRPCS || u->scheme == URL_HTTPS;
}

/* A letter, digit, '-', '_' or '.': what a host name is made of. */
static int host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

/* RFC 3986's pchar without '%' (no escapes), and '/'. */
static int path_char(char c)
{
	return host_char(c) || c == '~' || c == '/' || c == ':' || c == '@' ||
	       (c && strchr("!$&'()*+,;=", c));
}

int url_parse(const char *s, struct url *u, const char **why)
{
	if (!*s) {
		*why = "empty URL";
		return -1;
	}
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			*why = "a blank or control character";
			return -1;
		}
	}
	const char *sep = strstr(s, "://");
	if (!sep) {
		*why = "no scheme " ANY_SCHEME;
		return -1;
	}
	int scheme = -1;
	for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++)
		if (strlen(schemes[i].name) == (size_t)(sep - s) &&
		    !strncasecmp(s, schemes[i].name, (size_t)(sep - s)))
			scheme = (int)i;
	if (scheme < 0) {
		*why = "unknown scheme " ANY_SCHEME;
		return -1;
	}
	const char *auth = sep + 3;
	size_t alen = strcspn(auth, "/?#");
	if (memchr(auth, '@', alen)) {
		*why = "a user@ part is not allowed";
		return -1;
	}
	if (strchr(s, '?')) {
		*why = "a ?query is not allowed";
		return -1;
	}
	if (strchr(s, '#')) {
		*why = "a #fragment is not allowed";
		return -1;
	}

	/* the host: [IPv6], or a name or IPv4 address up to ':' or '/' */
	const char *h = auth, *hend;
	char *host;
	if (*h == '[') {
		const char *close = memchr(h, ']', alen);
		if (!close) {
			*why = "unterminated [IPv6 address";
			return -1;
		}
		host = xstrndup(h + 1, (size_t)(close - h - 1));
		struct in6_addr a6;
		if (inet_pton(AF_INET6, host, &a6) != 1) {
			free(host);
			*why = "bad IPv6 address";
			return -1;
		}
		hend = close + 1;
		if (*hend && *hend != ':' && *hend != '/') {
			free(host);
			*why = "junk after the IPv6 address";
			return -1;
		}
	} else {
		hend = h + strcspn(h, ":/");
		if (hend == h) {
			*why = "no host";
			return -1;
		}
		int dotted = 1;
		for (const char *p = h; p < hend; p++) {
			if (!host_char(*p)) {
				*why = *p == '[' || *p == ']' ? "an IPv6 address needs brackets: [::1]"
				                              : "a bad character in the host";
				return -1;
			}
			if (!(*p == '.' || (*p >= '0' && *p <= '9')))
				dotted = 0;
		}
		host = xstrndup(h, (size_t)(hend - h));
		struct in_addr a4;
		if (dotted && inet_pton(AF_INET, host, &a4) != 1) {
			free(host);
			*why = "bad IPv4 address";
			return -1;
		}
	}

	/* the port */
	int port = schemes[scheme].port;
	const char *p = hend;
	if (*p == ':') {
		p++;
		long v = 0;
		const char *digits = p;
		while (*p >= '0' && *p <= '9') {
			if (v <= 65535)
				v = v * 10 + (*p - '0');
			p++;
		}
		if (p == digits) {
			*why = *p && *p != '/' ? "a bad port" : "no port after ':'";
			free(host);
			return -1;
		}
		if (*p && *p != '/') {
			*why = "junk after the port";
			free(host);
			return -1;
		}
		if (v < 1 || v > 65535) {
			*why = "port out of range (1 to 65535)";
			free(host);
			return -1;
		}
		port = (int)v;
	} else if (!port) {
		*why = "no port (grpc:// and grpcs:// need HOST:PORT)";
		free(host);
		return -1;
	}

	/* the path: a prefix for http(s), nothing for grpc(s) */
	while (*p == '/')
		p++;
	size_t plen = strlen(p);
	while (plen && p[plen - 1] == '/')
		plen--;
	for (size_t i = 0; i < plen; i++) {
		if (!path_char(p[i])) {
			*why = "a bad character in the path";
			free(host);
			return -1;
		}
	}
	if (plen && (scheme == URL_GRPC || scheme == URL_GRPCS)) {
		*why = "grpc:// and grpcs:// take no /PREFIX";
		free(host);
		return -1;
	}
	u->scheme = (enum url_scheme)scheme;
	u->host = host;
	u->port = port;
	u->prefix = xstrndup(p, plen);
	return 0;
}

void url_free(struct url *u)
{
	free(u->host);
	free(u->prefix);
	u->host = u->prefix = NULL;
}

char *url_format(const struct url *u)
{
	int v6 = strchr(u->host, ':') != NULL;
	return xasprintf("%s://%s%s%s:%d%s%s", schemes[u->scheme].name, v6 ? "[" : "", u->host,
	                 v6 ? "]" : "", u->port, *u->prefix ? "/" : "", u->prefix);
}
