/* fake_cas: a scripted remote in memory (fake_cas.h). */
#include "fake_cas.h"
#include "remote/result.h"
#include "util/util.h"
#include <stdlib.h>
#include <string.h>

static void note(struct fake_cas *f, char c)
{
	if (f->ntrace + 1 < sizeof f->trace)
		f->trace[f->ntrace++] = c;
}

/* The scripted answer for this call of op, or -1 to answer as usual.
 * Counts the call. Under mu. */
static int scripted(struct fake_cas *f, enum fake_op op, char **why)
{
	int i = f->calls[op]++;
	if (i >= f->nscript[op] || f->script[op][i] == CAS_OK)
		return -1;
	int rc = f->script[op][i];
	if (rc != CAS_MISS)
		*why = f->why[op][i] ? xstrdup(f->why[op][i]) : xasprintf("scripted fault %d", i + 1);
	return rc;
}

static int find_blob(struct fake_cas *f, const struct digest *d)
{
	for (size_t i = 0; i < f->nblobs; i++)
		if (digest_eq(&f->bd[i], d))
			return (int)i;
	return -1;
}

static void add_blob(struct fake_cas *f, const struct digest *d, const void *p, size_t n)
{
	if (find_blob(f, d) >= 0 || f->nblobs == FAKE_MAX)
		return;
	f->bd[f->nblobs] = *d;
	memset(&f->bv[f->nblobs], 0, sizeof f->bv[0]);
	buf_putn(&f->bv[f->nblobs], p, n);
	f->nblobs++;
}

static void add_result(struct fake_cas *f, const struct digest *key, const void *p, size_t n)
{
	size_t i = 0;
	while (i < f->nresults && !digest_eq(&f->rk[i], key))
		i++;
	if (i == FAKE_MAX)
		return;
	if (i == f->nresults) {
		f->rk[i] = *key;
		memset(&f->rv[i], 0, sizeof f->rv[0]);
		f->nresults++;
	}
	buf_reset(&f->rv[i]);
	buf_putn(&f->rv[i], p, n);
}

static int f_get_result(struct cas_backend *b, const struct digest *key, uint64_t key_size,
                        struct buf *out, char **why)
{
	struct fake_cas *f = (struct fake_cas *)b;
	pthread_mutex_lock(&f->mu);
	f->key_size = key_size;
	note(f, 'g');
	int rc = scripted(f, F_GET_RESULT, why);
	if (rc < 0) {
		rc = CAS_MISS;
		for (size_t i = 0; i < f->nresults; i++)
			if (digest_eq(&f->rk[i], key)) {
				buf_putn(out, f->rv[i].s ? f->rv[i].s : "", f->rv[i].len);
				rc = CAS_OK;
			}
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static int f_put_result(struct cas_backend *b, const struct digest *key, uint64_t key_size,
                        const void *p, size_t n, char **why)
{
	struct fake_cas *f = (struct fake_cas *)b;
	pthread_mutex_lock(&f->mu);
	f->key_size = key_size;
	note(f, 'R');
	int rc = scripted(f, F_PUT_RESULT, why);
	if (rc < 0) {
		add_result(f, key, p, n);
		rc = CAS_OK;
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static int f_get_blobs(struct cas_backend *b, struct cas_blob *v, size_t n, char **why)
{
	struct fake_cas *f = (struct fake_cas *)b;
	pthread_mutex_lock(&f->mu);
	note(f, 'G');
	f->asked += n;
	for (size_t i = 0; i < n; i++)
		if (v[i].size == 0)
			f->asked_empty = 1;
	int rc = scripted(f, F_GET_BLOBS, why);
	if (rc < 0) {
		rc = CAS_OK;
		for (size_t i = 0; i < n; i++) {
			int k = find_blob(f, &v[i].d);
			if (k < 0)
				rc = CAS_MISS;
			else
				buf_putn(&v[i].data, f->bv[k].s ? f->bv[k].s : "", f->bv[k].len);
		}
		if (rc == CAS_OK && n && f->corrupt > 0 && v[0].data.len) {
			f->corrupt--;
			v[0].data.s[0] ^= 0x20; /* same size, one byte flipped */
		} else if (rc == CAS_OK && n && f->longer > 0) {
			f->longer--;
			buf_putc(&v[0].data, '!');
		}
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static int f_find_missing(struct cas_backend *b, struct cas_blob *v, size_t n, char **why)
{
	struct fake_cas *f = (struct fake_cas *)b;
	pthread_mutex_lock(&f->mu);
	note(f, 'm');
	f->inside++;
	pthread_cond_broadcast(&f->cv);
	while (f->hold)
		pthread_cond_wait(&f->cv, &f->mu);
	int rc = scripted(f, F_FIND_MISSING, why);
	if (rc < 0) {
		for (size_t i = 0; i < n; i++)
			v[i].missing = find_blob(f, &v[i].d) < 0;
		rc = CAS_OK;
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static int f_put_blobs(struct cas_backend *b, struct cas_blob *v, size_t n, char **why)
{
	struct fake_cas *f = (struct fake_cas *)b;
	pthread_mutex_lock(&f->mu);
	note(f, 'b');
	int rc = scripted(f, F_PUT_BLOBS, why);
	if (rc < 0) {
		for (size_t i = 0; i < n; i++) {
			if (!v[i].missing)
				continue;
			if (f->nup < FAKE_MAX)
				f->up[f->nup++] = v[i].d;
			add_blob(f, &v[i].d, v[i].data.s ? v[i].data.s : "", v[i].data.len);
		}
		rc = CAS_OK;
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static void f_reset(struct cas_backend *b)
{
	struct fake_cas *f = (struct fake_cas *)b;
	pthread_mutex_lock(&f->mu);
	f->resets++;
	pthread_mutex_unlock(&f->mu);
}

static void f_free(struct cas_backend *b)
{
	struct fake_cas *f = (struct fake_cas *)b;
	pthread_mutex_lock(&f->mu);
	f->freed++;
	pthread_mutex_unlock(&f->mu);
}

int fake_calls(struct fake_cas *f)
{
	pthread_mutex_lock(&f->mu);
	int n = 0;
	for (int i = 0; i < F_NOPS; i++)
		n += f->calls[i];
	pthread_mutex_unlock(&f->mu);
	return n;
}

static void f_counts(struct cas_backend *b, size_t *calls, unsigned long long *bytes_in)
{
	*calls = (size_t)fake_calls((struct fake_cas *)b);
	*bytes_in = 0;
}

struct fake_cas *fake_new(void)
{
	struct fake_cas *f = xcalloc(1, sizeof *f);
	f->ops = (struct cas_backend_ops){
		.get_result = f_get_result,
		.put_result = f_put_result,
		.put_results = NULL, /* results go one by one */
		.get_blobs = f_get_blobs,
		.find_missing = f_find_missing,
		.put_blobs = f_put_blobs,
		.reset = f_reset,
		.free = f_free,
		.counts = f_counts,
	};
	f->base.ops = &f->ops;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	return f;
}

void fake_free(struct fake_cas *f)
{
	for (size_t i = 0; i < f->nblobs; i++)
		buf_free(&f->bv[i]);
	for (size_t i = 0; i < f->nresults; i++)
		buf_free(&f->rv[i]);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

void fake_put_blob(struct fake_cas *f, const char *text, struct digest *d)
{
	struct digest got;
	sha_buf(text, strlen(text), &got);
	pthread_mutex_lock(&f->mu);
	add_blob(f, &got, text, strlen(text));
	pthread_mutex_unlock(&f->mu);
	if (d)
		*d = got;
}

void fake_put_raw(struct fake_cas *f, const struct digest *key, const void *p, size_t n)
{
	pthread_mutex_lock(&f->mu);
	add_result(f, key, p, n);
	pthread_mutex_unlock(&f->mu);
}

void fake_put_result(struct fake_cas *f, const struct digest *key, const struct action_result *r)
{
	struct buf b = {0};
	result_encode(r, &b);
	fake_put_raw(f, key, b.s ? b.s : "", b.len);
	buf_free(&b);
}

void fake_script(struct fake_cas *f, enum fake_op op, int rc, const char *why)
{
	pthread_mutex_lock(&f->mu);
	if (f->nscript[op] < FAKE_SCRIPT) {
		f->script[op][f->nscript[op]] = rc;
		f->why[op][f->nscript[op]] = why;
		f->nscript[op]++;
	}
	pthread_mutex_unlock(&f->mu);
}

int fake_has_blob(struct fake_cas *f, const struct digest *d)
{
	pthread_mutex_lock(&f->mu);
	int has = find_blob(f, d) >= 0;
	pthread_mutex_unlock(&f->mu);
	return has;
}

void fake_hold(struct fake_cas *f)
{
	pthread_mutex_lock(&f->mu);
	f->hold = 1;
	pthread_mutex_unlock(&f->mu);
}

void fake_wait_inside(struct fake_cas *f, int n)
{
	pthread_mutex_lock(&f->mu);
	while (f->inside < n)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
}

void fake_release(struct fake_cas *f)
{
	pthread_mutex_lock(&f->mu);
	f->hold = 0;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}
