/* http_cas: the cas backend for a bazel-remote-style HTTP cache, which
 * nginx with WebDAV PUT also speaks:
 *   GET  PREFIX/ac/<hex>   the ActionResult (result.c) for the Action
 *                          digest <hex>: 200 and the bytes, or 404
 *   GET  PREFIX/cas/<hex>  a blob by its SHA-256
 *   PUT  PREFIX/cas/<hex>, PREFIX/ac/<hex>   store (any 2xx)
 * A request that cannot be made or a 5xx is worth trying again; another
 * 4xx than 404 (say 401) is not. One request at a time, over one
 * keep-alive connection. */
#include "remote/cas.h"
#include "remote/http.h"
#include "remote/url.h"
#include "util/util.h"
#include <pthread.h>
#include <stdlib.h>

struct http_cas {
	struct cas_backend base;
	struct http *http;
	char *prefix;       /* "" or "/a/b" */
	pthread_mutex_t mu; /* one request at a time */
	size_t calls;
	unsigned long long bytes_in;
};

/* One request: CAS_OK (2xx), CAS_MISS (404), CAS_RETRY or CAS_FATAL. */
static int request(struct http_cas *h, const char *method, const char *kind,
                   const struct digest *d, const void *body, size_t n, struct buf *resp,
                   char **why)
{
	char hex[65];
	digest_hex(d, hex);
	char *t = xasprintf("%s/%s/%s", h->prefix, kind, hex);
	int status = 0, rc;
	pthread_mutex_lock(&h->mu);
	h->calls++;
	size_t was = resp ? resp->len : 0;
	if (http_request(h->http, method, t, body, n, &status, resp, why) < 0)
		rc = CAS_RETRY;
	else if (status >= 200 && status < 300)
		rc = CAS_OK;
	else if (status == 404)
		rc = CAS_MISS;
	else
		rc = status >= 500 ? CAS_RETRY : CAS_FATAL;
	if (resp)
		h->bytes_in += resp->len - was;
	pthread_mutex_unlock(&h->mu);
	if (rc == CAS_RETRY && !*why)
		*why = xasprintf("%s %s: HTTP %d", method, t, status);
	if (rc == CAS_FATAL)
		*why = xasprintf("%s %s: HTTP %d", method, t, status);
	free(t);
	return rc;
}

static int hc_get_result(struct cas_backend *b, const struct digest *key, uint64_t key_size,
                         struct buf *out, char **why)
{
	return request((struct http_cas *)b, "GET", "ac", key, NULL, 0, out, why);
}

static int hc_put_result(struct cas_backend *b, const struct digest *key, uint64_t key_size,
                         const void *p, size_t n, char **why)
{
	int rc = request((struct http_cas *)b, "PUT", "ac", key, p, n, NULL, why);
	return rc == CAS_MISS ? CAS_FATAL : rc;
}

static int hc_get_blobs(struct cas_backend *b, struct cas_blob *v, size_t n, char **why)
{
	struct http_cas *h = (struct http_cas *)b;
	for (size_t i = 0; i < n; i++) {
		int rc = request(h, "GET", "cas", &v[i].d, NULL, 0, &v[i].data, why);
		if (rc != CAS_OK)
			return rc;
	}
	return CAS_OK;
}

static int hc_put_blobs(struct cas_backend *b, struct cas_blob *v, size_t n, char **why)
{
	struct http_cas *h = (struct http_cas *)b;
	for (size_t i = 0; i < n; i++) {
		if (!v[i].missing)
			continue;
		int rc = request(h, "PUT", "cas", &v[i].d, v[i].data.s ? v[i].data.s : "", v[i].data.len,
		                 NULL, why);
		if (rc != CAS_OK)
			return rc == CAS_MISS ? CAS_FATAL : rc;
	}
	return CAS_OK;
}

static void hc_counts(struct cas_backend *b, size_t *calls, unsigned long long *bytes_in)
{
	struct http_cas *h = (struct http_cas *)b;
	pthread_mutex_lock(&h->mu);
	*calls = h->calls;
	*bytes_in = h->bytes_in;
	pthread_mutex_unlock(&h->mu);
}

static void hc_reset(struct cas_backend *b)
{
	struct http_cas *h = (struct http_cas *)b;
	pthread_mutex_lock(&h->mu);
	http_close(h->http);
	pthread_mutex_unlock(&h->mu);
}

static void hc_free(struct cas_backend *b)
{
	struct http_cas *h = (struct http_cas *)b;
	http_free(h->http);
	pthread_mutex_destroy(&h->mu);
	free(h->prefix);
	free(h);
}

static const struct cas_backend_ops http_cas_ops = {
	.get_result = hc_get_result,
	.put_result = hc_put_result,
	.get_blobs = hc_get_blobs,
	.put_blobs = hc_put_blobs,
	.reset = hc_reset,
	.free = hc_free,
	.counts = hc_counts,
};

struct cas_backend *http_cas_new(const struct url *u, const char *const *headers, size_t n,
                                 int timeout_ms)
{
	struct http_cas *h = xcalloc(1, sizeof *h);
	h->base.ops = &http_cas_ops;
	h->http = http_new(u->host, u->port, url_tls(u), headers, n, timeout_ms);
	h->prefix = *u->prefix ? xasprintf("/%s", u->prefix) : xstrdup("");
	pthread_mutex_init(&h->mu, NULL);
	return &h->base;
}
