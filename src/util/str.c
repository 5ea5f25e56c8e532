/* str: growable buffers and little-endian encoding helpers. */
#include "util/str.h"
#include "util/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void grow(struct buf *b, size_t extra)
{
	if (b->len + extra + 1 > b->cap) {
		size_t c = b->cap ? b->cap * 2 : 64;
		while (c < b->len + extra + 1)
			c *= 2;
		b->s = xreallocarray(b->s, c, 1);
		b->cap = c;
	}
}

void buf_putn(struct buf *b, const void *p, size_t n)
{
	grow(b, n);
	if (n)
		memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = 0;
}

void buf_puts(struct buf *b, const char *s)
{
	buf_putn(b, s, strlen(s));
}

void buf_putc(struct buf *b, char c)
{
	buf_putn(b, &c, 1);
}

void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n <= 0)
		return;
	grow(b, (size_t)n);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void buf_put_u32(struct buf *b, unsigned v)
{
	unsigned char x[4] = {v & 255, (v >> 8) & 255, (v >> 16) & 255, (v >> 24) & 255};
	buf_putn(b, x, 4);
}

void buf_put_u64(struct buf *b, unsigned long long v)
{
	buf_put_u32(b, (unsigned)(v & 0xffffffffu));
	buf_put_u32(b, (unsigned)(v >> 32));
}

void buf_put_lstr(struct buf *b, const char *s, size_t n)
{
	buf_put_u32(b, (unsigned)n);
	buf_putn(b, s, n);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->s)
		b->s[0] = 0;
}

char *buf_take(struct buf *b)
{
	char *s = b->s ? b->s : xstrdup("");
	b->s = NULL;
	b->len = b->cap = 0;
	return s;
}

void buf_free(struct buf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

const void *rd_bytes(struct reader *r, size_t n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = 1;
		return NULL;
	}
	const void *p = r->p;
	r->p += n;
	return p;
}

unsigned rd_u32(struct reader *r)
{
	const unsigned char *p = rd_bytes(r, 4);
	if (!p)
		return 0;
	return p[0] | (unsigned)p[1] << 8 | (unsigned)p[2] << 16 | (unsigned)p[3] << 24;
}

unsigned long long rd_u64(struct reader *r)
{
	unsigned long long lo = rd_u32(r);
	unsigned long long hi = rd_u32(r);
	return lo | hi << 32;
}

const char *rd_lstr(struct reader *r, size_t *n)
{
	*n = rd_u32(r);
	return rd_bytes(r, *n);
}

void frame_begin(struct buf *b, const char magic[8], unsigned version)
{
	buf_putn(b, magic, 8);
	buf_put_u32(b, version);
}

void frame_seal(struct buf *b)
{
	buf_put_u64(b, check64(b->s, b->len));
}

int frame_open(const struct buf *b, const char magic[8], unsigned version, struct reader *rd)
{
	if (!b->s || b->len < 8 + 4 + 8 || memcmp(b->s, magic, 8) != 0)
		return -1;
	struct reader tr = {(const unsigned char *)b->s + b->len - 8,
	                    (const unsigned char *)b->s + b->len, 0};
	if (rd_u64(&tr) != check64(b->s, b->len - 8))
		return -1;
	*rd = (struct reader){(const unsigned char *)b->s + 8,
	                      (const unsigned char *)b->s + b->len - 8, 0};
	return rd_u32(rd) == version ? 0 : -1;
}
