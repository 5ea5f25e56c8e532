/* Unit tests of the remote URL parser: what each accepted form becomes,
 * and the reason each malformed one is refused. */
#include "remote/url.h"
#include "test.h"
#include <stdlib.h>

/* s parses, and url_format gives canon back. */
static void ok(const char *s, const char *canon)
{
	struct url u;
	const char *why = NULL;
	if (url_parse(s, &u, &why) < 0) {
		fprintf(stderr, "  refused %s: %s\n", s, why);
		test_failures++;
		return;
	}
	char *f = url_format(&u);
	CHECK_STR(f, canon);
	free(f);
	url_free(&u);
	CHECK(u.host == NULL);
}

/* s is refused, and why says so. */
static void refused(const char *s, const char *want)
{
	struct url u = {0};
	const char *why = NULL;
	if (url_parse(s, &u, &why) == 0) {
		fprintf(stderr, "  accepted %s\n", s);
		test_failures++;
		url_free(&u);
		return;
	}
	CHECK(u.host == NULL && u.prefix == NULL);
	CHECK_STR(why, want);
}

TEST(url_valid)
{
	ok("grpc://localhost:8980", "grpc://localhost:8980");
	ok("grpcs://cache.example.com:443", "grpcs://cache.example.com:443");
	ok("GRPCS://remote.buildbuddy.io:443/", "grpcs://remote.buildbuddy.io:443");
	ok("http://127.0.0.1:8080/cache", "http://127.0.0.1:8080/cache");
	ok("http://bazel-remote", "http://bazel-remote:80");
	ok("https://cache.local/team/ci/", "https://cache.local:443/team/ci");
	ok("https://cache_1.local:65535", "https://cache_1.local:65535");
	ok("grpc://[::1]:8980", "grpc://[::1]:8980");
	ok("http://[2001:db8::7]/p", "http://[2001:db8::7]:80/p");
	ok("grpc://10.0.0.1:1", "grpc://10.0.0.1:1");
	ok("http://h:8080/a/b@c/d~e", "http://h:8080/a/b@c/d~e");
}

TEST(url_fields)
{
	struct url u;
	const char *why;
	CHECK(url_parse("grpcs://[fe80::1]:9092", &u, &why) == 0);
	CHECK(u.scheme == URL_GRPCS && url_tls(&u));
	CHECK_STR(u.host, "fe80::1");
	CHECK(u.port == 9092);
	CHECK_STR(u.prefix, "");
	url_free(&u);
	CHECK(url_parse("https://c//x/y//", &u, &why) == 0);
	CHECK(u.scheme == URL_HTTPS && u.port == 443);
	CHECK_STR(u.host, "c");
	CHECK_STR(u.prefix, "x/y");
	url_free(&u);
	CHECK(url_parse("http://c:81", &u, &why) == 0);
	CHECK(u.scheme == URL_HTTP && !url_tls(&u) && u.port == 81);
	CHECK_STR(url_scheme_name(u.scheme), "http");
	url_free(&u);
	url_free(&u); /* twice is harmless */
}

TEST(url_malformed)
{
	refused("", "empty URL");
	refused("localhost:8980", "no scheme (grpc://, grpcs://, http:// or https://)");
	refused("cache/prefix", "no scheme (grpc://, grpcs://, http:// or https://)");
	refused("ftp://h:21", "unknown scheme (grpc://, grpcs://, http:// or https://)");
	refused("://h:1", "unknown scheme (grpc://, grpcs://, http:// or https://)");
	refused("unix:///tmp/sock", "unknown scheme (grpc://, grpcs://, http:// or https://)");
	refused("grpc://:8980", "no host");
	refused("http://", "no host");
	refused("http:///prefix", "no host");
	refused("grpc://h", "no port (grpc:// and grpcs:// need HOST:PORT)");
	refused("grpcs://h/", "no port (grpc:// and grpcs:// need HOST:PORT)");
	refused("grpc://h:", "no port after ':'");
	refused("http://h:/p", "no port after ':'");
	refused("grpc://h:port", "a bad port");
	refused("grpc://h:-1", "a bad port");
	refused("grpc://h:0", "port out of range (1 to 65535)");
	refused("grpc://h:65536", "port out of range (1 to 65535)");
	refused("grpc://h:99999999999999999999", "port out of range (1 to 65535)");
	refused("grpc://h:80x", "junk after the port");
	refused("grpc://h:80:81", "junk after the port");
	refused("grpc://[::1:8980", "unterminated [IPv6 address");
	refused("grpc://[::1", "unterminated [IPv6 address");
	refused("grpc://[::g]:1", "bad IPv6 address");
	refused("grpc://[]:1", "bad IPv6 address");
	refused("grpc://[::1]x:1", "junk after the IPv6 address");
	refused("grpc://::1:8980", "no host");
	refused("http://fe80]:1", "an IPv6 address needs brackets: [::1]");
	refused("grpc://1.2.3:1", "bad IPv4 address");
	refused("grpc://256.1.1.1:1", "bad IPv4 address");
	refused("grpc://user@h:1", "a user@ part is not allowed");
	refused("https://user:pw@h/p", "a user@ part is not allowed");
	refused("http://h:80/p?x=1", "a ?query is not allowed");
	refused("http://h?x", "a ?query is not allowed");
	refused("http://h/p#frag", "a #fragment is not allowed");
	refused("http://h a:1", "a blank or control character");
	refused("http://h:1/a\tb", "a blank or control character");
	refused("http://h%41:1", "a bad character in the host");
	refused("http://h:1/a%20b", "a bad character in the path");
	refused("grpc://h:1/instance", "grpc:// and grpcs:// take no /PREFIX");
}
