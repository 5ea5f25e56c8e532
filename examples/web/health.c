/*
 * The health check of //web:web. `cairn deploy` runs it against each stage
 * it applies, with CAIRN_STAGE, CAIRN_STAGE_PATH, CAIRN_RELEASE and the
 * stage's env (PORT) set. It passes only when 127.0.0.1:$PORT answers
 * GET /healthz with 200 and GET /release with $CAIRN_RELEASE, each within
 * TIMEOUT_MS.
 *
 * It is also an ordinary cc_test, and `cairn test //...` (so `make setup`)
 * runs it with none of these variables. Then, and only then (neither
 * CAIRN_STAGE nor PORT set), there is nothing to check: it passes and says
 * so. Once either is set, every variable it needs must be there and valid;
 * a missing one fails the check, for missing data must never pass it.
 */
#include "web/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TIMEOUT_MS = 2000 };

/* Asks for path; returns 0 when the answer is 200, else -1 (reported). */
static int fetch(int port, const char *path, struct http_answer *a)
{
	char err[256];

	if (http_get(port, path, TIMEOUT_MS, a, err, sizeof err) != 0) {
		printf("health: FAIL: GET %s: %s\n", path, err);
		return -1;
	}
	if (a->status != 200) {
		printf("health: FAIL: GET %s: HTTP %d: %s", path, a->status, a->body);
		return -1;
	}
	return 0;
}

int main(void)
{
	const char *stage = getenv("CAIRN_STAGE");
	const char *port_s = getenv("PORT");
	const char *want = getenv("CAIRN_RELEASE");
	struct http_answer a;
	int port;

	if (!stage && !port_s) {
		printf("health: not deploying: nothing to check\n");
		return 0;
	}
	if (!stage)
		stage = "(no CAIRN_STAGE)";
	if (!port_s || (port = http_parse_port(port_s)) < 0) {
		printf("health: FAIL: stage %s: PORT is %s%s%s\n", stage,
		       port_s ? "'" : "unset", port_s ? port_s : "", port_s ? "', not a port" : "");
		return 1;
	}
	if (!want || !*want) {
		printf("health: FAIL: stage %s: CAIRN_RELEASE unset\n", stage);
		return 1;
	}
	if (fetch(port, "/healthz", &a) != 0 || fetch(port, "/release", &a) != 0)
		return 1;
	a.body[strcspn(a.body, "\r\n")] = '\0';
	if (strcmp(a.body, want) != 0) {
		printf("health: FAIL: stage %s: 127.0.0.1:%d serves release\n"
		       "  live:     %s\n  expected: %s\n", stage, port, a.body, want);
		return 1;
	}
	printf("health: ok: stage %s, 127.0.0.1:%d healthy, release %s\n", stage, port, want);
	return 0;
}
