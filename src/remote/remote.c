/* remote: one build's remote, from the flags (remote.h).
 *
 * The cache is --remote_cache, or the executor's server when only
 * --remote_executor is given (as Bazel does): an executor reads its
 * inputs from its own CAS. With both, they share one gRPC channel when
 * they name the same server. Every gRPC call carries the user's headers
 * and the RequestMetadata header (tool cairn, its version, one
 * invocation id per build), which some servers require. */
#include "remote/remote.h"
#include "remote/cas.h"
#include "remote/exec.h"
#include "remote/grpc.h"
#include "remote/remote_store.h"
#include "util/util.h"
#include "remote_execution.pb-c.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct remote {
	struct grpc *cache_ch, *exec_ch; /* exec_ch may be cache_ch */
	struct cas *cas;
	struct store *store;             /* the remote_store, once made */
	struct runner *exec;             /* the executor runner, once made */
	char *instance;
	int upload;
	int lazy;                        /* --remote_download=toplevel */
};

static int same_server(const struct url *a, const struct url *b)
{
	return a->scheme == b->scheme && a->port == b->port && !strcmp(a->host, b->host);
}

static struct grpc *channel(const struct remote_cfg *cfg, const struct url *u, char **why)
{
	Build__Bazel__Remote__Execution__V2__ToolDetails tool =
		BUILD__BAZEL__REMOTE__EXECUTION__V2__TOOL_DETAILS__INIT;
	tool.tool_name = (char *)"cairn";
	tool.tool_version = (char *)(cfg->tool_version ? cfg->tool_version : "");
	unsigned char r[16];
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
		memset(r, 0, sizeof r);
	char id[33];
	for (int i = 0; i < 16; i++)
		snprintf(id + 2 * i, 3, "%02x", r[i]);
	Build__Bazel__Remote__Execution__V2__RequestMetadata md =
		BUILD__BAZEL__REMOTE__EXECUTION__V2__REQUEST_METADATA__INIT;
	md.tool_details = &tool;
	md.tool_invocation_id = id;
	size_t mdlen = protobuf_c_message_get_packed_size(&md.base);
	size_t n = cfg->nheaders + 1;
	char **hv = xcalloc(n + 1, sizeof *hv);
	size_t *lens = xcalloc(n, sizeof *lens);
	for (size_t i = 0; i < cfg->nheaders; i++) {
		hv[i] = xstrdup(cfg->headers[i]);
		lens[i] = strlen(hv[i]);
	}
	static const char name[] = "build.bazel.remote.execution.v2.requestmetadata-bin: ";
	hv[n - 1] = xmalloc(sizeof name + mdlen);
	memcpy(hv[n - 1], name, sizeof name - 1);
	protobuf_c_message_pack(&md.base, (uint8_t *)hv[n - 1] + sizeof name - 1);
	hv[n - 1][sizeof name - 1 + mdlen] = 0;
	/* a -bin value's length: the bytes after "name: " */
	for (size_t i = 0; i < n; i++) {
		const char *colon = strchr(hv[i], ':');
		size_t off = colon ? (size_t)(colon - hv[i]) + 1 : 0;
		while (colon && hv[i][off] == ' ')
			off++;
		lens[i] = i == n - 1 ? mdlen : strlen(hv[i]) - off;
	}
	struct grpc_opts o = {
		.url = u, .headers = (const char *const *)hv, .header_lens = lens, .nheaders = n,
		.timeout_ms = cfg->timeout_ms,
	};
	struct grpc *g = grpc_new(&o, why);
	strv_free(hv);
	free(lens);
	return g;
}

struct remote *remote_open(const struct remote_cfg *cfg, char **why)
{
	struct remote *r = xcalloc(1, sizeof *r);
	r->instance = xstrdup(cfg->instance ? cfg->instance : "");
	r->upload = cfg->upload;
	r->lazy = cfg->download_toplevel;
	const struct url *cache = cfg->cache->host ? cfg->cache : NULL;
	const struct url *exec = cfg->executor->host ? cfg->executor : NULL;
	if (exec && !(r->exec_ch = channel(cfg, exec, why))) {
		remote_close(r);
		return NULL;
	}
	if (cache && (cache->scheme == URL_HTTP || cache->scheme == URL_HTTPS)) {
		char **hv = xcalloc(cfg->nheaders + 1, sizeof *hv);
		for (size_t i = 0; i < cfg->nheaders; i++)
			hv[i] = xstrdup(cfg->headers[i]);
		struct cas_backend *b = http_cas_new(cache, (const char *const *)hv, cfg->nheaders,
		                                     cfg->timeout_ms);
		strv_free(hv);
		char *name = url_format(cache);
		r->cas = cas_new(b, name);
		free(name);
		if (exec) {
			/* the executor reads inputs from its own CAS, not from this one */
			*why = xstrdup("--remote_executor with an HTTP --remote_cache: the executor "
			               "needs its own CAS; give only --remote_executor");
			remote_close(r);
			return NULL;
		}
		return r;
	}
	const struct url *u = cache ? cache : exec;
	if (!u)
		return r;
	if (exec && same_server(u, exec))
		r->cache_ch = r->exec_ch;
	else if (!(r->cache_ch = channel(cfg, u, why))) {
		remote_close(r);
		return NULL;
	}
	char *name = url_format(u);
	r->cas = cas_new(grpc_cas_new(r->cache_ch, r->instance), name);
	free(name);
	return r;
}

struct store *remote_store(struct remote *r, struct store *local)
{
	if (!r->cas)
		return local;
	r->store = remote_store_open(local, r->cas, r->upload, r->lazy);
	return r->store;
}

struct runner *remote_runner(struct remote *r, struct runner *local)
{
	if (!r->exec_ch || !r->store)
		return local;
	r->exec = remote_exec_new(local, r->exec_ch, r->cas, r->store, r->instance);
	return r->exec;
}

int remote_executes(const struct remote *r)
{
	return r->exec_ch != NULL;
}

void remote_stats(struct remote *r, struct remote_stats *st)
{
	memset(st, 0, sizeof *st);
	if (r->store)
		st->cache_hits = remote_store_hits(r->store);
	if (r->cas) {
		cas_counts(r->cas, &st->rpcs, &st->bytes_in);
		st->why = cas_why(r->cas);
	}
	if (r->exec_ch && r->exec_ch != r->cache_ch) {
		size_t c;
		unsigned long long b;
		grpc_counts(r->exec_ch, &c, &b);
		st->rpcs += c;
		st->bytes_in += b;
	}
}

void remote_close(struct remote *r)
{
	if (!r)
		return;
	cas_free(r->cas);
	if (r->exec_ch != r->cache_ch)
		grpc_free(r->exec_ch);
	grpc_free(r->cache_ch);
	free(r->instance);
	free(r);
}
