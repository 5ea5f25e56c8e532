/* sha: SHA-256 through OpenSSL. OpenSSL fails here only for want of
 * memory or when built without SHA-256: die_internal, not an error a
 * caller could handle. */
#include "util/sha.h"
#include "util/fs.h"
#include "util/util.h"
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

struct sha_ctx *sha_new(void)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL))
		die_internal("OpenSSL: cannot start SHA-256");
	return (struct sha_ctx *)c;
}

void sha_update(struct sha_ctx *c, const void *p, size_t n)
{
	EVP_DigestUpdate((EVP_MD_CTX *)c, p, n);
}

void sha_final(struct sha_ctx *c, struct digest *d)
{
	unsigned n = 32;
	EVP_DigestFinal_ex((EVP_MD_CTX *)c, d->b, &n);
	EVP_MD_CTX_free((EVP_MD_CTX *)c);
}

/* EVP_Digest looks the algorithm up on every call, which costs more than
 * hashing a key's few hundred bytes: fetch it once, and keep a context per
 * thread (freed when the thread ends: remote caches start threads). */
static EVP_MD *sha_md;
static pthread_key_t sha_key;
static pthread_once_t sha_once = PTHREAD_ONCE_INIT;

static void free_ctx(void *c)
{
	EVP_MD_CTX_free(c);
}

static void sha_init(void)
{
	if (!(sha_md = EVP_MD_fetch(NULL, "SHA256", NULL)))
		die_internal("OpenSSL: no SHA-256");
	if (pthread_key_create(&sha_key, free_ctx) != 0)
		die_internal("cannot make a thread key");
}

void sha_buf(const void *p, size_t n, struct digest *d)
{
	static _Thread_local EVP_MD_CTX *ctx;
	pthread_once(&sha_once, sha_init);
	if (!ctx) {
		if (!(ctx = EVP_MD_CTX_new()))
			die_internal("OpenSSL: out of memory");
		pthread_setspecific(sha_key, ctx);
	}
	unsigned len = 32;
	if (!EVP_DigestInit_ex2(ctx, sha_md, NULL) || !EVP_DigestUpdate(ctx, p, n) ||
	    !EVP_DigestFinal_ex(ctx, d->b, &len))
		die_internal("OpenSSL: SHA-256 failed");
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

static int hexval(char c)
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
		int a = hexval(hex[2 * i]), b = a < 0 ? -1 : hexval(hex[2 * i + 1]);
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
