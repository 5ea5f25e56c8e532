/* json: string escaping per RFC 8259, and reading back a flat object
 * (the audit log's lines). */
#include "util/json.h"
#include "util/util.h"
#include <stdlib.h>
#include <string.h>

void json_str(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': buf_puts(b, "\\\""); break;
		case '\\': buf_puts(b, "\\\\"); break;
		case '\n': buf_puts(b, "\\n"); break;
		case '\r': buf_puts(b, "\\r"); break;
		case '\t': buf_puts(b, "\\t"); break;
		default:
			if (*p < 0x20)
				buf_printf(b, "\\u%04x", *p);
			else
				buf_putc(b, (char)*p);
		}
	}
	buf_putc(b, '"');
}

/* ---- reading ---- */

static void skip_ws(const char **p, const char *end)
{
	while (*p < end && (**p == ' ' || **p == '\t' || **p == '\r' || **p == '\n'))
		(*p)++;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void put_utf8(struct buf *b, unsigned c)
{
	if (c < 0x80) {
		buf_putc(b, (char)c);
	} else if (c < 0x800) {
		buf_putc(b, (char)(0xc0 | c >> 6));
		buf_putc(b, (char)(0x80 | (c & 0x3f)));
	} else if (c < 0x10000) {
		buf_putc(b, (char)(0xe0 | c >> 12));
		buf_putc(b, (char)(0x80 | (c >> 6 & 0x3f)));
		buf_putc(b, (char)(0x80 | (c & 0x3f)));
	} else {
		buf_putc(b, (char)(0xf0 | c >> 18));
		buf_putc(b, (char)(0x80 | (c >> 12 & 0x3f)));
		buf_putc(b, (char)(0x80 | (c >> 6 & 0x3f)));
		buf_putc(b, (char)(0x80 | (c & 0x3f)));
	}
}

static int hex4(const char *p, const char *end, unsigned *v)
{
	if (end - p < 4)
		return -1;
	*v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval(p[i]);
		if (h < 0)
			return -1;
		*v = *v << 4 | (unsigned)h;
	}
	return 0;
}

/* A JSON string at *p (at its '"') into a fresh *out. 0 or -1. */
static int parse_str(const char **p, const char *end, char **out)
{
	struct buf b = {0};
	const char *s = *p + 1;
	for (;;) {
		if (s >= end)
			goto bad;
		unsigned char c = (unsigned char)*s++;
		if (c == '"')
			break;
		if (c < 0x20)
			goto bad;
		if (c != '\\') {
			buf_putc(&b, (char)c);
			continue;
		}
		if (s >= end)
			goto bad;
		switch (*s++) {
		case '"': buf_putc(&b, '"'); break;
		case '\\': buf_putc(&b, '\\'); break;
		case '/': buf_putc(&b, '/'); break;
		case 'b': buf_putc(&b, '\b'); break;
		case 'f': buf_putc(&b, '\f'); break;
		case 'n': buf_putc(&b, '\n'); break;
		case 'r': buf_putc(&b, '\r'); break;
		case 't': buf_putc(&b, '\t'); break;
		case 'u': {
			unsigned u, lo;
			if (hex4(s, end, &u) < 0)
				goto bad;
			s += 4;
			if (u >= 0xd800 && u < 0xdc00 && end - s >= 6 && s[0] == '\\' && s[1] == 'u' &&
			    hex4(s + 2, end, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
				u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
				s += 6;
			}
			put_utf8(&b, u);
			break;
		}
		default:
			goto bad;
		}
	}
	*p = s;
	*out = buf_take(&b);
	return 0;
bad:
	buf_free(&b);
	return -1;
}

/* A number, true, false or null at *p, as written, into a fresh *out. */
static int parse_scalar(const char **p, const char *end, char **out)
{
	const char *s = *p;
	static const char *const lit[] = {"true", "false", "null"};
	for (int i = 0; i < 3; i++) {
		size_t k = strlen(lit[i]);
		if ((size_t)(end - s) >= k && !memcmp(s, lit[i], k)) {
			*out = xstrdup(lit[i]);
			*p = s + k;
			return 0;
		}
	}
	if (s < end && *s == '-')
		s++;
	if (s >= end || *s < '0' || *s > '9')
		return -1;
	if (*s == '0')
		s++;
	else
		while (s < end && *s >= '0' && *s <= '9')
			s++;
	if (s < end && *s == '.') {
		if (++s >= end || *s < '0' || *s > '9')
			return -1;
		while (s < end && *s >= '0' && *s <= '9')
			s++;
	}
	if (s < end && (*s == 'e' || *s == 'E')) {
		s++;
		if (s < end && (*s == '+' || *s == '-'))
			s++;
		if (s >= end || *s < '0' || *s > '9')
			return -1;
		while (s < end && *s >= '0' && *s <= '9')
			s++;
	}
	*out = xstrndup(*p, (size_t)(s - *p));
	*p = s;
	return 0;
}

void json_members_free(struct json_member *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].key);
		free(m[i].val);
	}
	free(m);
}

int json_flat_parse(const char *s, size_t len, struct json_member **out, size_t *nout)
{
	const char *p = s, *end = s + len;
	struct json_member *m = NULL;
	size_t n = 0, cap = 0;
	*out = NULL;
	*nout = 0;
	skip_ws(&p, end);
	if (p >= end || *p++ != '{')
		return -1;
	skip_ws(&p, end);
	if (p < end && *p == '}')
		p++;
	else
		for (;;) {
			struct json_member f = {0};
			skip_ws(&p, end);
			if (p >= end || *p != '"' || parse_str(&p, end, &f.key) < 0)
				goto bad;
			VEC_PUSH(m, n, cap, f);
			skip_ws(&p, end);
			if (p >= end || *p++ != ':')
				goto bad;
			skip_ws(&p, end);
			struct json_member *last = &m[n - 1];
			last->str = p < end && *p == '"';
			if ((last->str ? parse_str(&p, end, &last->val) : parse_scalar(&p, end, &last->val)) < 0)
				goto bad;
			for (size_t i = 0; i + 1 < n; i++)
				if (!strcmp(m[i].key, last->key))
					goto bad;
			skip_ws(&p, end);
			if (p < end && *p == ',') {
				p++;
				continue;
			}
			if (p < end && *p == '}') {
				p++;
				break;
			}
			goto bad;
		}
	skip_ws(&p, end);
	if (p != end)
		goto bad;
	*out = m;
	*nout = n;
	return 0;
bad:
	json_members_free(m, n);
	return -1;
}
