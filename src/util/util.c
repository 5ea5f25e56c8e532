/* util: checked allocation, the can't-happen aborts, and the CLI's fatal
 * errors. */
#include "util/util.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

void die_internal(const char *what)
{
	fprintf(stderr, "cairn: %s\n", what);
	abort();
}

static _Noreturn void oom(void)
{
	die_internal("out of memory");
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *xreallocarray(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		oom();
	p = realloc(p, (n && size) ? n * size : 1);
	if (!p)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	char *s = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

void vec_reserve(void *vecp, size_t *cap, size_t n, size_t size)
{
	void **v = vecp;
	if (n <= *cap)
		return;
	size_t c = *cap ? *cap * 2 : 8;
	while (c < n)
		c *= 2;
	*v = xreallocarray(*v, c, size);
	*cap = c;
}

static void vmsg(const char *kind, const char *fmt, va_list ap)
{
	int e = errno;
	fprintf(stderr, "cairn: %s: ", kind);
	vfprintf(stderr, fmt, ap);
	size_t n = strlen(fmt);
	if (n && fmt[n - 1] == ':')
		fprintf(stderr, " %s", strerror(e));
	fputc('\n', stderr);
}

void fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("error", fmt, ap);
	va_end(ap);
	exit(2);
}

void warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("warning", fmt, ap);
	va_end(ap);
}

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/* One 32-byte block into the four lanes. */
static void check64_block(uint64_t l[4], const unsigned char *b)
{
	for (int k = 0; k < 4; k++) {
		uint64_t w;
		memcpy(&w, b + 8 * k, 8);
		l[k] ^= w * 0xff51afd7ed558ccdull;
		l[k] = (l[k] << 31 | l[k] >> 33) * 0xc4ceb9fe1a85ec53ull;
	}
}

void check64_begin(struct check64_state *c, size_t n)
{
	/* four independent lanes over 32-byte blocks: the multiplies of one
	 * lane need not wait for another's, so megabytes go four times faster */
	*c = (struct check64_state){{0x9e3779b97f4a7c15ull ^ n, 0xbf58476d1ce4e5b9ull,
	                             0x94d049bb133111ebull, 0x2545f4914f6cdd1dull},
	                            {0}, 0};
}

void check64_add(struct check64_state *c, const void *p, size_t len)
{
	const unsigned char *b = p;
	if (c->npart) {
		size_t take = 32 - c->npart < len ? 32 - c->npart : len;
		memcpy(c->part + c->npart, b, take);
		c->npart += take;
		b += take;
		len -= take;
		if (c->npart < 32)
			return;
		check64_block(c->l, c->part);
		c->npart = 0;
	}
	for (; len >= 32; b += 32, len -= 32)
		check64_block(c->l, b);
	memcpy(c->part, b, len);
	c->npart = len;
}

uint64_t check64_end(struct check64_state *c)
{
	uint64_t h = c->l[0];
	for (int k = 1; k < 4; k++) {
		h ^= c->l[k] * 0xff51afd7ed558ccdull;
		h = (h << 31 | h >> 33) * 0xc4ceb9fe1a85ec53ull;
	}
	size_t i = 0;
	for (; i + 8 <= c->npart; i += 8) {
		uint64_t w;
		memcpy(&w, c->part + i, 8);
		h ^= w * 0xff51afd7ed558ccdull;
		h = (h << 31 | h >> 33) * 0xc4ceb9fe1a85ec53ull;
	}
	for (; i < c->npart; i++) {
		h ^= c->part[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	return h ^ h >> 29;
}

uint64_t check64(const void *p, size_t n)
{
	struct check64_state c;
	check64_begin(&c, n);
	check64_add(&c, p, n);
	return check64_end(&c);
}

uint64_t hash_bytes(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ull;
	}
	return h;
}

void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

char **strv_dup(const char *const *v, size_t n)
{
	char **c = xcalloc(n + 1, sizeof *c);
	for (size_t i = 0; i < n; i++)
		c[i] = xstrdup(v[i]);
	return c;
}

size_t strv_len(const char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

void xqsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

int path_components_ok(const char *p)
{
	for (;;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (!e)
			return 1;
		p = e + 1;
	}
}
