/* trace: --profile as a Chrome trace ("traceEvents" with complete "X"
 * events), which Perfetto and chrome://tracing open. Spans are laid out
 * on lanes (tid) so that spans on one lane never overlap. */
#include "cli/ui.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/str.h"
#include "util/util.h"
#include <stdlib.h>

struct trace {
	struct buf b;      /* events written so far, comma-separated */
	uint64_t *lane_end; /* per lane: end of its last span, ns */
	size_t nlanes, cap;
	size_t n;
};

struct trace *trace_new(void)
{
	return xcalloc(1, sizeof(struct trace));
}

void trace_span(struct trace *t, const char *name, const char *cat,
                uint64_t start_ns, uint64_t end_ns, uint64_t t0)
{
	size_t lane = 0;
	while (lane < t->nlanes && t->lane_end[lane] > start_ns)
		lane++;
	if (lane == t->nlanes)
		VEC_PUSH(t->lane_end, t->nlanes, t->cap, 0);
	t->lane_end[lane] = end_ns;
	if (t->n++)
		buf_puts(&t->b, ",\n");
	buf_puts(&t->b, "{\"name\":");
	json_str(&t->b, name);
	buf_puts(&t->b, ",\"cat\":");
	json_str(&t->b, cat);
	buf_printf(&t->b, ",\"ph\":\"X\",\"pid\":1,\"tid\":%zu,\"ts\":%.3f,\"dur\":%.3f}", lane + 1,
	           (double)(start_ns - t0) / 1000.0, (double)(end_ns - start_ns) / 1000.0);
}

int trace_write(struct trace *t, const char *path)
{
	struct buf out = {0};
	buf_puts(&out, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
	if (t->b.len)
		buf_putn(&out, t->b.s, t->b.len);
	buf_puts(&out, "\n]}\n");
	int r = fs_write_atomic(path, out.s, out.len, 0644);
	buf_free(&out);
	buf_free(&t->b);
	free(t->lane_end);
	free(t);
	return r;
}
