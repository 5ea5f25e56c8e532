/* str: the growable buffer (length + bytes, NUL-terminated once anything
 * is appended), the reader over bytes, and the framing every cairn file
 * shares. */
#ifndef CAIRN_STR_H
#define CAIRN_STR_H
#include <stddef.h>
#include <stdarg.h>

/* A growable buffer; buf.s is NULL until the first append. */
struct buf {
	size_t len; /* bytes used, not counting the NUL */
	size_t cap; /* bytes allocated */
	char *s;    /* NUL-terminated once anything is appended */
};

void buf_putn(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Little-endian fixed-width integers (for on-disk formats). */
void buf_put_u32(struct buf *b, unsigned v);
void buf_put_u64(struct buf *b, unsigned long long v);
/* A u32 length followed by the bytes. */
void buf_put_lstr(struct buf *b, const char *s, size_t n);
/* Empty the buffer, keep its memory. */
void buf_reset(struct buf *b);
/* Return the contents (a fresh string, never NULL) and empty the buffer. */
char *buf_take(struct buf *b);
void buf_free(struct buf *b);

/* A reader over bytes for decoding on-disk formats; fails softly. */
struct reader {
	const unsigned char *p; /* next byte */
	const unsigned char *end;
	int bad; /* set once a read ran past the end */
};
unsigned rd_u32(struct reader *r);
unsigned long long rd_u64(struct reader *r);
/* Points into the input; *n gets the length. NULL when bad. */
const char *rd_lstr(struct reader *r, size_t *n);
const void *rd_bytes(struct reader *r, size_t n);

/* The framing every cairn file shares:
 *   magic 8 bytes, version u32, body, trailer u64 = check64 of all before.
 * A file with another magic or version, or a bad trailer, does not open:
 * its reader treats it as absent (and the file is rebuilt). */
void frame_begin(struct buf *b, const char magic[8], unsigned version);
void frame_seal(struct buf *b);
/* 0 and *rd over the body, or -1. */
int frame_open(const struct buf *b, const char magic[8], unsigned version, struct reader *rd);

#endif
