/* tests: what `cairn test` shows: a table of the tests run (status, time),
 * a --events line per test, and one JUnit XML per sharded test made from
 * its shards' files. */
#include "cli/ui.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/str.h"
#include "util/util.h"
#include <stdlib.h>
#include <string.h>

static const char *test_status(const struct test_row *r)
{
	switch (r->status) {
	case AS_EXECUTED: return r->attempts > 1 ? "FLAKY" : "PASSED";
	case AS_CACHED: case AS_UPTODATE: return "cached";
	case AS_FAILED: return r->timed_out ? "TIMEOUT" : "FAILED";
	default: return "NO STATUS";
	}
}

void ui_test_finished(struct ui *u, const struct sched_event *ev)
{
	struct test_row r = {ev->a, ev->status, ev->attempts, ev->timed_out,
	                     ev->end_ns ? (ev->end_ns - ev->start_ns) / 1000000 : 0};
	VEC_PUSH(u->rows, u->nrows, u->caprows, r);
	if (!u->events || ev->status == AS_SKIPPED || ev->status == AS_WOULD_RUN)
		return;
	/* the SPEC's three statuses; how it got there in extra fields */
	const char *st = ev->status == AS_EXECUTED ? "passed"
	                 : ev->status == AS_FAILED ? "failed" : "cached";
	struct buf b = {0};
	buf_puts(&b, "{\"type\":\"test\",\"label\":");
	json_str(&b, ev->a->label);
	buf_puts(&b, ",\"name\":");
	json_str(&b, ev->a->progress ? ev->a->progress : ev->a->label);
	buf_printf(&b, ",\"status\":\"%s\",\"attempts\":%d,\"flaky\":%s,\"timed_out\":%s,"
	           "\"ms\":%llu,\"log\":", st, ev->attempts,
	           ev->status == AS_EXECUTED && ev->attempts > 1 ? "true" : "false",
	           ev->timed_out ? "true" : "false", (unsigned long long)r.ms);
	json_str(&b, ev->a->outputs[0]->path);
	buf_puts(&b, "}\n");
	fwrite(b.s, 1, b.len, u->events);
	buf_free(&b);
}

static int by_name(const void *x, const void *y)
{
	const struct test_row *a = x, *b = y;
	const char *na = a->a->progress ? a->a->progress : a->a->label;
	const char *nb = b->a->progress ? b->a->progress : b->a->label;
	return strcmp(na, nb);
}

void ui_test_summary(struct ui *u, const struct graph *g)
{
	ui_clear(u);
	if (!g->ntests)
		return;
	xqsort(u->rows, u->nrows, sizeof *u->rows, by_name);
	size_t width = 10;
	for (size_t i = 0; i < u->nrows; i++) {
		const char *n = u->rows[i].a->progress ? u->rows[i].a->progress : u->rows[i].a->label;
		if (strlen(n) > width)
			width = strlen(n);
	}
	size_t passed = 0, failed = 0;
	printf("cairn: tests:\n");
	for (size_t i = 0; i < u->nrows; i++) {
		const struct test_row *r = &u->rows[i];
		const char *n = r->a->progress ? r->a->progress : r->a->label;
		const char *st = test_status(r);
		if (r->status == AS_FAILED)
			failed++;
		else if (r->status != AS_SKIPPED)
			passed++;
		printf("  %-*s  %-9s", (int)width, n, st);
		if (r->status == AS_EXECUTED || r->status == AS_FAILED)
			printf(" %6.2f s", (double)r->ms / 1000.0);
		if (r->status == AS_FAILED)
			printf("  (%s)", r->a->outputs[0]->path);
		putchar('\n');
	}
	size_t shards = 0;
	for (size_t i = 0; i < g->ntests; i++)
		shards += (size_t)g->tests[i].shards;
	printf("cairn: %zu tests: %zu passed, %zu failed, %zu not run\n", g->ntests, passed, failed,
	       shards - passed - failed);
}

void tests_merge_xml(const struct graph *g)
{
	for (size_t i = 0; i < g->ntests; i++) {
		const struct test_target *t = &g->tests[i];
		if (t->shards <= 1)
			continue;
		struct buf b = {0};
		buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
		for (int k = 0; k < t->shards; k++) {
			char *p = xasprintf("%s.shard_%d_of_%d.xml", t->base, k + 1, t->shards);
			struct buf x = {0};
			if (fs_read_all(p, &x) == 0) {
				/* keep each shard's <testsuite> element */
				const char *s = strstr(x.s, "<testsuite ");
				const char *e = s ? strstr(s, "</testsuite>") : NULL;
				if (s && e)
					buf_putn(&b, s, (size_t)(e - s) + strlen("</testsuite>\n"));
			}
			buf_free(&x);
			free(p);
		}
		buf_puts(&b, "</testsuites>\n");
		char *out = xasprintf("%s.xml", t->base);
		if (fs_write_atomic(out, b.s, b.len, 0644) < 0)
			warn("cannot write %s:", out);
		free(out);
		buf_free(&b);
	}
}
