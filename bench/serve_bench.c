/* serve_bench: a REAPI cache server measured by cairn's own client
 * (src/remote: grpc.c, grpc_cas.c, cas.c): the rows of issue 15.
 *
 *   serve_bench grpc://HOST:PORT [--gib N] [--digests N] [--lookups N]
 *
 * Prints one line per row, "NAME VALUE UNIT":
 *   write_mib_s   ByteStream Write of one blob of N GiB (default 1)
 *   read_mib_s    ByteStream Read of it back (verified by the client)
 *   find_missing_ms  one FindMissingBlobs of N digests (10,000), half present
 *   get_result_p50_us, get_result_p99_us  GetActionResult of a present
 *                 entry, N times (1,000), one after another
 * It fills the blob with a pseudo-random pattern, so no compression helps.
 *
 *   serve_bench grpc://HOST:PORT --mix SECONDS
 *
 * A client of the load test (bench/serve_load.sh): for SECONDS, rounds of
 * FindMissingBlobs (100 digests), a ByteStream Write and Read of a new
 * 2 MiB blob, and GetActionResult; prints "rounds N errors N" and the
 * p50 and p99 of a round in ms. */
#include "remote/cas.h"
#include "remote/grpc.h"
#include "remote/result.h"
#include "remote/url.h"
#include "util/sha.h"
#include "util/str.h"
#include "util/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static void fill(struct buf *b, size_t n, uint64_t seed)
{
	b->s = xmalloc(n + 1);
	b->len = n;
	b->cap = n + 1;
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	for (size_t i = 0; i + 8 <= n; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(b->s + i, &x, 8);
	}
	for (size_t i = n & ~(size_t)7; i < n; i++)
		b->s[i] = (char)i;
}

/* The load test's client: rounds for seconds. */
static int mix(struct cas *c, int seconds)
{
	uint64_t end = now_ns() + (uint64_t)seconds * 1000000000ull, seed = now_ns() ^ (uint64_t)getpid();
	size_t rounds = 0, errors = 0, cap = 0;
	uint64_t *lat = NULL;
	while (now_ns() < end) {
		uint64_t t0 = now_ns();
		struct cas_blob v[100];
		memset(v, 0, sizeof v);
		for (int i = 0; i < 100; i++) {
			char text[48];
			int n = snprintf(text, sizeof text, "mix %d %llu", i % 50,
			                 (unsigned long long)(i < 50 ? 1 : seed + rounds));
			sha_buf(text, (size_t)n, &v[i].d);
			v[i].size = (uint64_t)n;
		}
		errors += cas_find_missing(c, v, 100) != CAS_OK;
		struct cas_blob b = {0};
		fill(&b.data, 2 << 20, seed + rounds);
		b.size = b.data.len;
		sha_buf(b.data.s, b.data.len, &b.d);
		b.missing = 1;
		errors += cas_put_blobs(c, &b, 1) != CAS_OK;
		buf_free(&b.data);
		errors += cas_get_blobs(c, &b, 1) != CAS_OK;
		buf_free(&b.data);
		struct buf got = {0};
		struct digest key;
		sha_buf("serve_bench action", 18, &key);
		int r = cas_get_result(c, &key, 18, &got);
		errors += r != CAS_OK && r != CAS_MISS;
		buf_free(&got);
		vec_reserve(&lat, &cap, rounds + 1, sizeof *lat);
		lat[rounds++] = now_ns() - t0;
	}
	qsort(lat, rounds, sizeof *lat, cmp_u64);
	printf("rounds %zu errors %zu p50_ms %.2f p99_ms %.2f\n", rounds, errors,
	       rounds ? (double)lat[rounds / 2] / 1e6 : 0, rounds ? (double)lat[(rounds * 99) / 100] / 1e6 : 0);
	free(lat);
	return errors ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: serve_bench grpc://HOST:PORT [--gib N] [--digests N] [--lookups N]\n");
		return 2;
	}
	double gib = 1;
	int ndig = 10000, nlook = 1000;
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--gib"))
			gib = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--digests"))
			ndig = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--lookups"))
			nlook = atoi(argv[i + 1]);
	}
	struct url u;
	const char *uwhy;
	if (url_parse(argv[1], &u, &uwhy) < 0) {
		fprintf(stderr, "serve_bench: %s: %s\n", argv[1], uwhy);
		return 2;
	}
	char *why = NULL;
	/* a RequestMetadata (tool_invocation_id "serve-bench"), which
	 * RemoteWorker insists on */
	static const char md[] = "build.bazel.remote.execution.v2.requestmetadata-bin: "
	                         "\x1a\x0bserve-bench";
	const char *hv[] = {md};
	size_t lens[] = {13};
	struct grpc_opts go = {.url = &u, .headers = hv, .header_lens = lens, .nheaders = 1,
	                       .timeout_ms = 600000};
	struct grpc *g = grpc_new(&go, &why);
	if (!g) {
		fprintf(stderr, "serve_bench: %s\n", why);
		return 1;
	}
	struct cas *c = cas_new(grpc_cas_new(g, ""), argv[1]);
	if (argc >= 4 && !strcmp(argv[2], "--mix"))
		return mix(c, atoi(argv[3]));

	/* one big blob, up and down */
	struct cas_blob big = {0};
	fill(&big.data, (size_t)(gib * (1 << 30)), (uint64_t)now_ns());
	big.size = big.data.len;
	sha_buf(big.data.s, big.data.len, &big.d);
	big.missing = 1;
	uint64_t t0 = now_ns();
	if (cas_put_blobs(c, &big, 1) != CAS_OK) {
		fprintf(stderr, "serve_bench: upload failed\n");
		return 1;
	}
	double s = (double)(now_ns() - t0) / 1e9;
	printf("write_mib_s %.1f MiB/s\n", (double)big.size / 1048576.0 / s);
	buf_free(&big.data);
	t0 = now_ns();
	if (cas_get_blobs(c, &big, 1) != CAS_OK) {
		fprintf(stderr, "serve_bench: download failed\n");
		return 1;
	}
	s = (double)(now_ns() - t0) / 1e9;
	printf("read_mib_s %.1f MiB/s\n", (double)big.size / 1048576.0 / s);
	buf_free(&big.data);

	/* FindMissingBlobs: half of the digests present */
	struct cas_blob *v = xcalloc((size_t)ndig, sizeof *v);
	for (int i = 0; i < ndig; i++) {
		char text[32];
		int n = snprintf(text, sizeof text, "blob %d %llu", i, (unsigned long long)t0);
		buf_putn(&v[i].data, text, (size_t)n);
		v[i].size = (uint64_t)n;
		sha_buf(text, (size_t)n, &v[i].d);
		v[i].missing = i % 2 == 0;
	}
	if (cas_put_blobs(c, v, (size_t)ndig) != CAS_OK) {
		fprintf(stderr, "serve_bench: small uploads failed\n");
		return 1;
	}
	t0 = now_ns();
	if (cas_find_missing(c, v, (size_t)ndig) != CAS_OK) {
		fprintf(stderr, "serve_bench: FindMissingBlobs failed\n");
		return 1;
	}
	printf("find_missing_ms %.2f ms\n", (double)(now_ns() - t0) / 1e6);
	int missing = 0;
	for (int i = 0; i < ndig; i++)
		missing += v[i].missing;
	if (missing != ndig / 2)
		fprintf(stderr, "serve_bench: %d missing, %d expected\n", missing, ndig / 2);

	/* GetActionResult latency: an entry whose one output is v[0] */
	struct action_result r = {0};
	struct result_output out = {(char *)"out.txt", v[0].d, v[0].size, 0644};
	r.outputs = &out;
	r.noutputs = 1;
	struct buf enc = {0};
	result_encode(&r, &enc);
	struct digest key;
	sha_buf("serve_bench action", 18, &key);
	struct buf vals[1] = {enc};
	uint64_t ks = 18;
	if (cas_put_results(c, &key, &ks, vals, 1) != CAS_OK) {
		fprintf(stderr, "serve_bench: UpdateActionResult failed\n");
		return 1;
	}
	uint64_t *lat = xcalloc((size_t)nlook, sizeof *lat);
	for (int i = 0; i < nlook; i++) {
		struct buf got = {0};
		t0 = now_ns();
		if (cas_get_result(c, &key, ks, &got) != CAS_OK) {
			fprintf(stderr, "serve_bench: GetActionResult missed\n");
			return 1;
		}
		lat[i] = now_ns() - t0;
		buf_free(&got);
	}
	qsort(lat, (size_t)nlook, sizeof *lat, cmp_u64);
	printf("get_result_p50_us %.0f us\n", (double)lat[nlook / 2] / 1e3);
	printf("get_result_p99_us %.0f us\n", (double)lat[(nlook * 99) / 100] / 1e3);
	return 0;
}
