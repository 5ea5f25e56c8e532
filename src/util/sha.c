/* sha: SHA-256 through OpenSSL's SHA256_* functions, the same code (and
 * the same SHA extensions of the CPU) as its EVP interface without the
 * EVP's start-up: the first EVP fetch loads openssl.cnf and the
 * providers, 5.3 of the 6.7 million instructions of a no-op build whose
 * graph holds a glob (callgrind). OpenSSL 3 marks them deprecated, in
 * favour of that very interface; OPENSSL_SUPPRESS_DEPRECATED says we
 * know. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "util/sha.h"
#include "util/fs.h"
#include "util/util.h"
#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sha_ctx {
	SHA256_CTX c;
};

struct sha_ctx *sha_new(void)
{
	struct sha_ctx *c = xmalloc(sizeof *c);
	SHA256_Init(&c->c);
	return c;
}

void sha_update(struct sha_ctx *c, const void *p, size_t n)
{
	SHA256_Update(&c->c, p, n);
}

void sha_final(struct sha_ctx *c, struct digest *d)
{
	SHA256_Final(d->b, &c->c);
	free(c);
}

void sha_buf(const void *p, size_t n, struct digest *d)
{
	SHA256_CTX c;
	SHA256_Init(&c);
	SHA256_Update(&c, p, n);
	SHA256_Final(d->b, &c);
}

int sha_file(const char *path, struct digest *d, uint64_t *size)
{
	int fd = fs_open_regular(path, NULL); /* never blocks on a FIFO */
	if (fd < 0)
		return -1;
	struct sha_ctx *c = sha_new();
	static _Thread_local unsigned char buf[1 << 16];
	uint64_t total = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			sha_final(c, d);
			close(fd);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		sha_update(c, buf, (size_t)n);
		total += (uint64_t)n;
	}
	close(fd);
	sha_final(c, d);
	if (size)
		*size = total;
	return 0;
}

void digest_hex(const struct digest *d, char out[65])
{
	static const char hx[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hx[d->b[i] >> 4];
		out[2 * i + 1] = hx[d->b[i] & 15];
	}
	out[64] = 0;
}

int hex_lower(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int digest_parse(const char *hex, struct digest *d)
{
	for (int i = 0; i < 32; i++) {
		int a = hex_lower(hex[2 * i]), b = a < 0 ? -1 : hex_lower(hex[2 * i + 1]);
		if (a < 0 || b < 0)
			return -1;
		d->b[i] = (unsigned char)(a << 4 | b);
	}
	return hex[64] == 0 ? 0 : -1;
}

int digest_eq(const struct digest *a, const struct digest *b)
{
	return memcmp(a->b, b->b, 32) == 0;
}
