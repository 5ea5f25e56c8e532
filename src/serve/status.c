/* serve/status: metrics, health and the status page (status.h). */
#include "serve/status.h"
#include "remote/grpc.h"
#include "util/util.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Sum of the regular files below dir (two levels: kind/xx/file). */
static uint64_t du(const char *dir, int depth)
{
	uint64_t n = 0;
	DIR *d = opendir(dir);
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char *p = xasprintf("%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(p, &st) == 0) {
			if (S_ISDIR(st.st_mode) && depth > 0)
				n += du(p, depth - 1);
			else if (S_ISREG(st.st_mode))
				n += (uint64_t)st.st_size;
		}
		free(p);
	}
	if (d)
		closedir(d);
	return n;
}

void status_measure(struct status_src *src)
{
	char *cas = xasprintf("%s/cas", src->store_dir), *ac = xasprintf("%s/ac", src->store_dir);
	src->store_bytes = du(cas, 1) + du(ac, 1);
	free(cas);
	free(ac);
}

/* The method's short name: "Service/Method". */
static const char *short_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *dot = slash ? slash : path;
	while (dot > path && dot[-1] != '.')
		dot--;
	return dot > path ? dot : path + 1;
}

static void metrics(struct status_src *src, struct buf *b)
{
	struct srv_stats st;
	struct cache_stats cs;
	srv_stats(src->srv, &st);
	cache_stats(src->cache, &cs);
	struct exec_stats es = {0};
	if (src->exec)
		exec_stats(src->exec, &es);
	buf_printf(b, "# HELP cairn_serve_queue_length Executions waiting for a worker.\n"
	              "# TYPE cairn_serve_queue_length gauge\ncairn_serve_queue_length %llu\n",
	           (unsigned long long)es.queued);
	buf_puts(b, "# HELP cairn_serve_workers Workers by state, and the pool's bounds.\n"
	            "# TYPE cairn_serve_workers gauge\n");
	buf_printf(b, "cairn_serve_workers{state=\"busy\"} %llu\ncairn_serve_workers{state=\"idle\"} %llu\n"
	              "cairn_serve_workers{state=\"total\"} %llu\n"
	              "cairn_serve_workers{state=\"min\"} %llu\n"
	              "cairn_serve_workers{state=\"max\"} %llu\n",
	           (unsigned long long)es.busy, (unsigned long long)(es.total - es.busy),
	           (unsigned long long)es.total, (unsigned long long)es.min, (unsigned long long)es.max);
	buf_printf(b, "# HELP cairn_serve_workers_started_total Worker processes started.\n"
	              "# TYPE cairn_serve_workers_started_total counter\n"
	              "cairn_serve_workers_started_total %llu\n",
	           (unsigned long long)es.spawned);
	buf_printf(b, "# HELP cairn_serve_executions_total Executions by outcome.\n"
	              "# TYPE cairn_serve_executions_total counter\n"
	              "cairn_serve_executions_total{outcome=\"ok\"} %llu\n"
	              "cairn_serve_executions_total{outcome=\"failed\"} %llu\n"
	              "cairn_serve_executions_total{outcome=\"cached\"} %llu\n"
	              "cairn_serve_executions_total{outcome=\"deduplicated\"} %llu\n"
	              "cairn_serve_executions_total{outcome=\"retried\"} %llu\n"
	              "cairn_serve_executions_total{outcome=\"abandoned\"} %llu\n"
	              "cairn_serve_executions_total{outcome=\"timed_out\"} %llu\n"
	              "cairn_serve_executions_total{outcome=\"refused\"} %llu\n",
	           (unsigned long long)es.ok, (unsigned long long)es.failed,
	           (unsigned long long)es.cached, (unsigned long long)es.deduped,
	           (unsigned long long)es.retried, (unsigned long long)es.abandoned,
	           (unsigned long long)es.timed_out, (unsigned long long)es.refused);
	buf_puts(b, "# HELP cairn_serve_cache_requests_total Cache lookups by kind and result.\n"
	            "# TYPE cairn_serve_cache_requests_total counter\n");
	buf_printf(b, "cairn_serve_cache_requests_total{kind=\"ac\",result=\"hit\"} %llu\n",
	           (unsigned long long)cs.ac_hits);
	buf_printf(b, "cairn_serve_cache_requests_total{kind=\"ac\",result=\"miss\"} %llu\n",
	           (unsigned long long)cs.ac_misses);
	buf_printf(b, "cairn_serve_cache_requests_total{kind=\"cas\",result=\"hit\"} %llu\n",
	           (unsigned long long)cs.cas_hits);
	buf_printf(b, "cairn_serve_cache_requests_total{kind=\"cas\",result=\"miss\"} %llu\n",
	           (unsigned long long)cs.cas_misses);
	buf_puts(b, "# HELP cairn_serve_blob_bytes_total Blob bytes received and sent.\n"
	            "# TYPE cairn_serve_blob_bytes_total counter\n");
	buf_printf(b, "cairn_serve_blob_bytes_total{direction=\"in\"} %llu\n",
	           (unsigned long long)cs.bytes_in);
	buf_printf(b, "cairn_serve_blob_bytes_total{direction=\"out\"} %llu\n",
	           (unsigned long long)cs.bytes_out);
	buf_printf(b, "# HELP cairn_serve_connections Open gRPC connections.\n"
	              "# TYPE cairn_serve_connections gauge\ncairn_serve_connections %llu\n",
	           (unsigned long long)st.open_connections);
	buf_printf(b, "# HELP cairn_serve_connections_total gRPC connections accepted.\n"
	              "# TYPE cairn_serve_connections_total counter\ncairn_serve_connections_total %llu\n",
	           (unsigned long long)st.connections);
	buf_printf(b, "# HELP cairn_serve_store_bytes Bytes the store holds.\n"
	              "# TYPE cairn_serve_store_bytes gauge\ncairn_serve_store_bytes %llu\n",
	           (unsigned long long)src->store_bytes);
	buf_printf(b, "# HELP cairn_serve_store_max_bytes The store's limit (0: none).\n"
	              "# TYPE cairn_serve_store_max_bytes gauge\ncairn_serve_store_max_bytes %llu\n",
	           (unsigned long long)src->max_size);
	buf_puts(b, "# HELP cairn_serve_rpc_duration_seconds RPC latency per method.\n"
	            "# TYPE cairn_serve_rpc_duration_seconds histogram\n");
	struct srv_mstat ms;
	const char *path;
	for (size_t i = 0; (path = srv_method_stat(src->srv, i, &ms)); i++) {
		for (int k = 0; k < SRV_BUCKETS; k++)
			buf_printf(b, "cairn_serve_rpc_duration_seconds_bucket{method=\"%s\",le=\"%g\"} %llu\n",
			           short_name(path), srv_bucket_ms[k] / 1000, (unsigned long long)ms.bucket[k]);
		buf_printf(b, "cairn_serve_rpc_duration_seconds_bucket{method=\"%s\",le=\"+Inf\"} %llu\n",
		           short_name(path), (unsigned long long)ms.calls);
		buf_printf(b, "cairn_serve_rpc_duration_seconds_sum{method=\"%s\"} %g\n", short_name(path),
		           ms.sum_ms / 1000);
		buf_printf(b, "cairn_serve_rpc_duration_seconds_count{method=\"%s\"} %llu\n",
		           short_name(path), (unsigned long long)ms.calls);
	}
	buf_puts(b, "# HELP cairn_serve_rpc_failures_total RPCs that failed (reset, or neither OK nor NOT_FOUND), per method.\n"
	            "# TYPE cairn_serve_rpc_failures_total counter\n");
	for (size_t i = 0; (path = srv_method_stat(src->srv, i, &ms)); i++)
		buf_printf(b, "cairn_serve_rpc_failures_total{method=\"%s\"} %llu\n", short_name(path),
		           (unsigned long long)ms.failed);
}

static void esc(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			buf_puts(b, "&lt;");
		else if (*s == '>')
			buf_puts(b, "&gt;");
		else if (*s == '&')
			buf_puts(b, "&amp;");
		else
			buf_putc(b, *s);
	}
}

static double pct(uint64_t a, uint64_t b)
{
	return a + b ? 100.0 * (double)a / (double)(a + b) : 0;
}

static void page(struct status_src *src, struct buf *b)
{
	struct srv_stats st;
	struct cache_stats cs;
	srv_stats(src->srv, &st);
	cache_stats(src->cache, &cs);
	buf_puts(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	            "<title>cairn serve</title><style>body{font:14px sans-serif;margin:2em}"
	            "table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;"
	            "padding:3px 8px;text-align:left}th{background:#eee}.n{text-align:right}</style>"
	            "</head><body>\n<h1>cairn serve</h1>\n");
	buf_puts(b, "<p>Store <code>");
	esc(b, src->store_dir);
	buf_printf(b, "</code>: %.1f MiB", (double)src->store_bytes / 1048576.0);
	if (src->max_size)
		buf_printf(b, " of %.1f MiB (%.0f%% full)", (double)src->max_size / 1048576.0,
		           100.0 * (double)src->store_bytes / (double)src->max_size);
	buf_printf(b, ". Up %lld s; %llu connections open, %llu calls in flight.</p>\n",
	           (long long)(time(NULL) - src->started), (unsigned long long)st.open_connections,
	           (unsigned long long)st.open_calls);
	struct exec_stats es = {0};
	if (src->exec)
		exec_stats(src->exec, &es);
	buf_printf(b, "<h2>Queue and workers</h2>\n<table><tr><th>queued</th><th>busy</th>"
	              "<th>idle</th><th>workers (min&ndash;max)</th><th>done</th><th>failed</th>"
	              "<th>timed out</th><th>from the cache</th></tr>"
	              "<tr><td class=n>%llu</td><td class=n>%llu</td><td class=n>%llu</td>"
	              "<td class=n>%llu (%llu&ndash;%llu)</td><td class=n>%llu</td><td class=n>%llu</td>"
	              "<td class=n>%llu</td><td class=n>%llu</td></tr></table>\n",
	           (unsigned long long)es.queued, (unsigned long long)es.busy,
	           (unsigned long long)(es.total - es.busy), (unsigned long long)es.total,
	           (unsigned long long)es.min, (unsigned long long)es.max, (unsigned long long)es.ok,
	           (unsigned long long)es.failed, (unsigned long long)es.timed_out,
	           (unsigned long long)es.cached);
	if (!src->exec)
		buf_puts(b, "<p>This server runs no executions (no --workers): it is a cache.</p>\n");
	buf_puts(b, "<h2>Cache</h2>\n<table><tr><th>kind</th><th>hits</th><th>misses</th>"
	            "<th>hit rate</th></tr>\n");
	buf_printf(b, "<tr><td>action cache</td><td class=n>%llu</td><td class=n>%llu</td>"
	              "<td class=n>%.1f%%</td></tr>\n",
	           (unsigned long long)cs.ac_hits, (unsigned long long)cs.ac_misses,
	           pct(cs.ac_hits, cs.ac_misses));
	buf_printf(b, "<tr><td>blobs</td><td class=n>%llu</td><td class=n>%llu</td>"
	              "<td class=n>%.1f%%</td></tr></table>\n",
	           (unsigned long long)cs.cas_hits, (unsigned long long)cs.cas_misses,
	           pct(cs.cas_hits, cs.cas_misses));
	buf_printf(b, "<p>%.1f MiB in, %.1f MiB out.</p>\n", (double)cs.bytes_in / 1048576.0,
	           (double)cs.bytes_out / 1048576.0);
	buf_puts(b, "<h2>Calls by method</h2>\n<table><tr><th>method</th><th>calls</th>"
	            "<th>failed</th><th>mean</th></tr>\n");
	struct srv_mstat ms;
	const char *path;
	for (size_t i = 0; (path = srv_method_stat(src->srv, i, &ms)); i++) {
		buf_puts(b, "<tr><td>");
		esc(b, short_name(path));
		buf_printf(b, "</td><td class=n>%llu</td><td class=n>%llu</td><td class=n>%.2f ms</td>"
		              "</tr>\n",
		           (unsigned long long)ms.calls, (unsigned long long)ms.failed,
		           ms.calls ? ms.sum_ms / (double)ms.calls : 0);
	}
	buf_puts(b, "</table>\n<h2>Last calls</h2>\n<table><tr><th>time (UTC)</th><th>method</th>"
	            "<th>status</th><th>duration</th></tr>\n");
	struct srv_recent r[32];
	size_t n = srv_recent(src->srv, r, 32);
	for (size_t i = 0; i < n; i++) {
		char when[32];
		time_t t = (time_t)r[i].when;
		strftime(when, sizeof when, "%H:%M:%S", gmtime(&t));
		buf_printf(b, "<tr><td>%s</td><td>", when);
		esc(b, short_name(r[i].method));
		buf_printf(b, "</td><td>%s</td><td class=n>%.2f ms</td></tr>\n",
		           r[i].code < 0 ? "RESET" : grpc_code_name(r[i].code), r[i].ms);
	}
	buf_puts(b, "</table>\n</body></html>\n");
}

int status_page(void *ctx, const char *path, struct buf *body, const char **type)
{
	struct status_src *src = ctx;
	if (!strcmp(path, "/metrics")) {
		*type = "text/plain; version=0.0.4; charset=utf-8";
		metrics(src, body);
		return 200;
	}
	if (!strcmp(path, "/healthz")) {
		buf_puts(body, "ok\n");
		return 200;
	}
	if (!strcmp(path, "/")) {
		*type = "text/html; charset=utf-8";
		page(src, body);
		return 200;
	}
	buf_puts(body, "not found\n");
	return 404;
}
