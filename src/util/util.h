/* util: checked allocation, the can't-happen aborts, fatal errors for the
 * CLI, small helpers. */
#ifndef CAIRN_UTIL_H
#define CAIRN_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Allocation wrappers: abort with a message on failure or overflow. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a fresh heap string (caller frees). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Grow *vec (of *cap elements of size `size`) so it holds at least n. */
void vec_reserve(void *vecp, size_t *cap, size_t n, size_t size);
#define VEC_PUSH(v, len, cap, x) \
	(vec_reserve(&(v), &(cap), (len) + 1, sizeof(*(v))), (v)[(len)++] = (x))

/* Print "cairn: WHAT" and abort: for what cannot happen unless the process
 * itself is broken (out of memory, a library that fails its contract), in
 * any layer. Not for errors a request or the OS can cause. */
_Noreturn void die_internal(const char *what);
/* Print "cairn: error: MSG" (plus strerror(errno) when MSG ends in ':')
 * and exit 2. Only the CLI layer may call it. */
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Like fatal but does not exit. */
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* qsort that accepts an empty (NULL) array. */
void xqsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));

/* Free a NULL-terminated array of strings and the strings. */
void strv_free(char **v);
/* A fresh NULL-terminated copy of the first n strings of v (strv_free
 * frees it). */
char **strv_dup(const char *const *v, size_t n);
/* The number of strings before v's NULL; 0 when v is NULL. */
size_t strv_len(const char *const *v);

/* Is p a relative path whose '/'-separated components are all non-empty
 * and neither "." nor ".."? ("" is not.) */
int path_components_ok(const char *p);

/* Monotonic clock in nanoseconds. */
uint64_t now_ns(void);
/* Processors online, at least 1. */
int cpu_count(void);
/* FNV-1a 64-bit hash of n bytes (short keys: the hash map). */
uint64_t hash_bytes(const void *p, size_t n);
/* A fast 64-bit checksum of n bytes, 8 at a time: the trailer of large
 * local files (state, snapshot). It catches torn and damaged files, not
 * tampering; those files are never shared. */
uint64_t check64(const void *p, size_t n);
/* check64 of n bytes given in pieces: begin with n, add them all, end. */
struct check64_state {
	uint64_t l[4];           /* the lanes */
	unsigned char part[32];  /* a block not yet whole */
	size_t npart;            /* its bytes */
};
void check64_begin(struct check64_state *c, size_t n);
void check64_add(struct check64_state *c, const void *p, size_t len);
uint64_t check64_end(struct check64_state *c);

#endif
