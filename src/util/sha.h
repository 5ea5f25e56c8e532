/* sha: SHA-256 digests (OpenSSL's) and their hex form. */
#ifndef CAIRN_SHA_H
#define CAIRN_SHA_H
#include <stddef.h>
#include <stdint.h>

struct digest {
	unsigned char b[32];
};

struct sha_ctx; /* opaque */

struct sha_ctx *sha_new(void);
void sha_update(struct sha_ctx *c, const void *p, size_t n);
/* Finish into *d and free the context. */
void sha_final(struct sha_ctx *c, struct digest *d);
void sha_buf(const void *p, size_t n, struct digest *d);
/* Hash a regular file's contents (opened with fs_open_regular: anything
 * else fails at once); 0 or -1 with errno. *size gets its length. */
int sha_file(const char *path, struct digest *d, uint64_t *size);
/* 64 lowercase hex characters plus NUL into out[65]. */
void digest_hex(const struct digest *d, char out[65]);
/* The value of a lowercase hex digit, or -1. */
int hex_lower(char c);
/* Parse 64 hex characters; 0 or -1. */
int digest_parse(const char *hex, struct digest *d);
int digest_eq(const struct digest *a, const struct digest *b);

#endif
