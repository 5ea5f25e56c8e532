/* serve_fuzz: libFuzzer over what a client of `cairn serve` sends: HTTP/2
 * frames, gRPC framing and the REAPI messages of every method, fed to
 * one connection of the server (srv_feed) with the cache's methods over
 * a throw-away store. `make fuzz` builds and runs it (FUZZ_SECONDS). */
#include "serve/cache.h"
#include "serve/h2srv.h"
#include "util/util.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct srv *s;
	static struct cache *k;
	if (!s) {
		char dir[] = "/tmp/cairn-fuzz-store.XXXXXX";
		char *why = NULL;
		if (!mkdtemp(dir) || !(k = cache_new(dir, &why))) {
			fprintf(stderr, "serve_fuzz: %s\n", why ? why : "mkdtemp");
			abort();
		}
		size_t n;
		const struct srv_method *m = cache_methods(&n);
		s = srv_new("127.0.0.1", 0, m, n, k, &why);
		if (!s) {
			fprintf(stderr, "serve_fuzz: %s\n", why);
			abort();
		}
	}
	/* the preface first, so that inputs reach the frames */
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	size_t np = sizeof preface - 1;
	uint8_t *b = xmalloc(np + size + 1);
	memcpy(b, preface, np);
	memcpy(b + np, data, size);
	srv_feed(s, b, np + size);
	free(b);
	return 0;
}
