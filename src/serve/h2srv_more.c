/* serve/h2srv_more: the gRPC server's settings (auth, TLS, log, more
 * descriptors) and statistics (h2srv.h); the transport is h2srv.c. */
#include "serve/h2srv.h"
#include "serve/h2srv_int.h"
#include "remote/grpc.h"
#include "util/util.h"
#include <openssl/err.h>
#include <string.h>
#include <time.h>

const double srv_bucket_ms[SRV_BUCKETS] = {0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000,
                                           2500, 5000, 10000};

/* A call is over: its method's counts and the recent list. */
void srv_account(struct srv_call *c)
{
	struct srv *s = c->conn->s;
	double ms = (double)(now_ns() - c->t0) / 1e6;
	if (c->m) {
		struct srv_mstat *st = &s->ms[c->m - s->m];
		st->calls++;
		/* a miss (NOT_FOUND) is an answer, not a failure */
		st->failed += !c->finished || (c->code != GRPC_OK && c->code != GRPC_NOT_FOUND);
		st->sum_ms += ms;
		for (int i = 0; i < SRV_BUCKETS; i++)
			if (ms <= srv_bucket_ms[i])
				st->bucket[i]++;
	}
	struct srv_recent *r = &s->recent[s->next_recent];
	*r = (struct srv_recent){c->m ? c->m->path : "(unknown)", c->finished ? c->code : -1, ms,
	                         (int64_t)time(NULL)};
	s->next_recent = (s->next_recent + 1) % RECENT;
	if (s->nrecent < RECENT)
		s->nrecent++;
}

void srv_set_auth(struct srv *s,
                  int (*check)(void *ctx, const char *authorization, const char *path,
                               const char **msg),
                  void *ctx)
{
	s->auth = check;
	s->auth_ctx = ctx;
}

/* ALPN: h2 or nothing. */
static int alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                unsigned inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	for (unsigned i = 0; i + 1 <= inlen && i + 1 + in[i] <= inlen; i += 1 + in[i])
		if (in[i] == 2 && !memcmp(in + i + 1, "h2", 2)) {
			*out = in + i + 1;
			*outlen = 2;
			return SSL_TLSEXT_ERR_OK;
		}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

int srv_set_tls(struct srv *s, const char *cert, const char *key, char **why)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		char e[256];
		ERR_error_string_n(ERR_get_error(), e, sizeof e);
		*why = xasprintf("TLS: %s, %s: %s", cert, key, e);
		SSL_CTX_free(ctx);
		return -1;
	}
	SSL_CTX_set_alpn_select_cb(ctx, alpn, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	s->tls = ctx;
	return 0;
}

void srv_set_log(struct srv *s, int on)
{
	s->log = on;
}

int srv_port(const struct srv *s)
{
	return s->port;
}

void srv_stats(const struct srv *s, struct srv_stats *st)
{
	*st = s->st;
	st->open_connections = s->nconns;
	st->open_calls = 0;
	for (size_t i = 0; i < s->nconns; i++)
		for (struct srv_call *c = s->conns[i]->calls; c; c = c->next)
			st->open_calls++;
}

const char *srv_method_stat(const struct srv *s, size_t i, struct srv_mstat *st)
{
	if (i >= s->nm)
		return NULL;
	*st = s->ms[i];
	return s->m[i].path;
}

size_t srv_recent(const struct srv *s, struct srv_recent *out, size_t max)
{
	size_t n = 0;
	for (size_t k = 1; k <= s->nrecent && n < max; k++)
		out[n++] = s->recent[(s->next_recent + RECENT - k) % RECENT];
	return n;
}

void srv_set_extra(struct srv *s, size_t (*fds)(void *ctx, struct pollfd *pf, size_t max),
                   void (*handle)(void *ctx, const struct pollfd *pf, size_t n), void *ctx)
{
	s->extra_fds = fds;
	s->extra_handle = handle;
	s->extra_ctx = ctx;
}

