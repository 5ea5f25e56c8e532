/* cas: retries, verification and giving up, over any backend (cas.h). */
#include "remote/cas.h"
#include "util/util.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { TRIES = 3, BACKOFF_MS = 50 };

struct cas {
	struct cas_backend *b;
	char *name;
	pthread_mutex_t mu; /* over absent, why, seed */
	int absent;
	char *why;
	unsigned seed;
};

struct cas *cas_new(struct cas_backend *b, const char *name)
{
	struct cas *c = xcalloc(1, sizeof *c);
	c->b = b;
	c->name = xstrdup(name);
	c->seed = (unsigned)now_ns();
	pthread_mutex_init(&c->mu, NULL);
	return c;
}

void cas_free(struct cas *c)
{
	if (!c)
		return;
	c->b->ops->free(c->b);
	pthread_mutex_destroy(&c->mu);
	free(c->name);
	free(c->why);
	free(c);
}

void cas_give_up(struct cas *c, char *why)
{
	pthread_mutex_lock(&c->mu);
	if (!c->absent) {
		c->absent = 1;
		c->why = why;
		why = NULL;
	}
	pthread_mutex_unlock(&c->mu);
	free(why);
}

int cas_absent(struct cas *c)
{
	pthread_mutex_lock(&c->mu);
	int a = c->absent;
	pthread_mutex_unlock(&c->mu);
	return a;
}

char *cas_why(struct cas *c)
{
	pthread_mutex_lock(&c->mu);
	char *w = c->absent ? xasprintf("%s: %s", c->name, c->why) : NULL;
	pthread_mutex_unlock(&c->mu);
	return w;
}

void cas_counts(struct cas *c, size_t *calls, unsigned long long *bytes_in)
{
	*calls = 0;
	*bytes_in = 0;
	if (c->b->ops->counts)
		c->b->ops->counts(c->b, calls, bytes_in);
}

/* Sleep before try number `attempt` + 1: BACKOFF_MS * 2^(attempt-1),
 * times a random factor in [0.5, 1.5). */
static void backoff(struct cas *c, int attempt)
{
	pthread_mutex_lock(&c->mu);
	double r = (double)rand_r(&c->seed) / ((double)RAND_MAX + 1.0);
	pthread_mutex_unlock(&c->mu);
	double ms = BACKOFF_MS * (double)(1u << (attempt - 1)) * (0.5 + r);
	struct timespec ts = {(time_t)(ms / 1000), (long)((ms - 1000 * (double)(time_t)(ms / 1000)) * 1e6)};
	while (nanosleep(&ts, &ts) < 0)
		;
}

/* One op on the backend, by kind, with its arguments. */
enum op { GET_RESULT, PUT_RESULTS, GET_BLOBS, FIND_MISSING, PUT_BLOBS };
struct call {
	enum op op;
	const struct digest *key;
	uint64_t key_size;
	struct buf *out;
	size_t n;
	struct cas_blob *v;
	const struct digest *keys;
	const uint64_t *key_sizes;
	const struct buf *vals;
};

/* The fetched blobs all match their digests? (*why fresh when not.) */
static int verified(struct cas_blob *v, size_t n, char **why)
{
	for (size_t i = 0; i < n; i++) {
		struct digest got;
		sha_buf(v[i].data.s ? v[i].data.s : "", v[i].data.len, &got);
		if (v[i].data.len != v[i].size || !digest_eq(&got, &v[i].d)) {
			char hex[65];
			digest_hex(&v[i].d, hex);
			*why = xasprintf("blob %s/%llu does not match its digest", hex,
			                 (unsigned long long)v[i].size);
			return 0;
		}
	}
	return 1;
}

static int attempt(struct cas *c, struct call *k, char **why)
{
	struct cas_backend *b = c->b;
	switch (k->op) {
	case GET_RESULT: {
		size_t was = k->out->len;
		int rc = b->ops->get_result(b, k->key, k->key_size, k->out, why);
		if (rc != CAS_OK)
			k->out->len = was;
		return rc;
	}
	case PUT_RESULTS:
		if (b->ops->put_results)
			return b->ops->put_results(b, k->keys, k->key_sizes, k->vals, k->n, why);
		for (size_t i = 0; i < k->n; i++) {
			int rc = b->ops->put_result(b, &k->keys[i], k->key_sizes[i],
			                            k->vals[i].s ? k->vals[i].s : "", k->vals[i].len, why);
			if (rc != CAS_OK)
				return rc;
		}
		return CAS_OK;
	case GET_BLOBS: {
		for (size_t i = 0; i < k->n; i++)
			buf_reset(&k->v[i].data);
		int rc = b->ops->get_blobs(b, k->v, k->n, why);
		if (rc == CAS_OK && !verified(k->v, k->n, why)) {
			rc = CAS_RETRY;
			if (b->ops->reset)
				b->ops->reset(b); /* the next try on a new connection */
		}
		return rc;
	}
	case FIND_MISSING:
		for (size_t i = 0; i < k->n; i++)
			k->v[i].missing = 1;
		return b->ops->find_missing ? b->ops->find_missing(b, k->v, k->n, why) : CAS_OK;
	case PUT_BLOBS:
		return b->ops->put_blobs(b, k->v, k->n, why);
	}
	return CAS_FATAL;
}

static int run(struct cas *c, struct call *k)
{
	char *why = NULL;
	for (int a = 1; a <= TRIES; a++) {
		if (cas_absent(c))
			break;
		if (a > 1)
			backoff(c, a - 1);
		free(why);
		why = NULL;
		int rc = attempt(c, k, &why);
		if (rc == CAS_OK || rc == CAS_MISS) {
			free(why);
			return rc;
		}
		if (rc == CAS_FATAL)
			break;
	}
	if (why)
		cas_give_up(c, why);
	return CAS_FATAL;
}

int cas_get_result(struct cas *c, const struct digest *key, uint64_t key_size, struct buf *out)
{
	struct call k = {.op = GET_RESULT, .key = key, .key_size = key_size, .out = out};
	return run(c, &k);
}

int cas_put_results(struct cas *c, const struct digest *keys, const uint64_t *key_sizes,
                    const struct buf *vals, size_t n)
{
	struct call k = {.op = PUT_RESULTS, .keys = keys, .key_sizes = key_sizes, .vals = vals, .n = n};
	return n ? run(c, &k) : CAS_OK;
}

int cas_get_blobs(struct cas *c, struct cas_blob *v, size_t n)
{
	/* the empty blob is known without asking */
	struct cas_blob *w = xcalloc(n ? n : 1, sizeof *w);
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (v[i].size > 0)
			w[m++] = v[i];
	int rc = CAS_OK;
	if (m) {
		struct call k = {.op = GET_BLOBS, .v = w, .n = m};
		rc = run(c, &k);
		m = 0;
		for (size_t i = 0; i < n; i++)
			if (v[i].size > 0)
				v[i].data = w[m++].data;
	}
	free(w);
	return rc;
}

int cas_find_missing(struct cas *c, struct cas_blob *v, size_t n)
{
	struct call k = {.op = FIND_MISSING, .v = v, .n = n};
	return n ? run(c, &k) : CAS_OK;
}

int cas_put_blobs(struct cas *c, struct cas_blob *v, size_t n)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		m += v[i].missing;
	struct call k = {.op = PUT_BLOBS, .v = v, .n = n};
	return m ? run(c, &k) : CAS_OK;
}
