/* observe: a deployment in the --events stream and the --profile trace
 * of the build that made it (ui.h).
 *   {"type":"release","deployment":L,"release":HEX,"artifacts":[{"name",
 *    "path","digest","key"}],"tests":[L...]}
 *       once per deployment of a deploy, before its stages change: the
 *       bytes deployed, and the action keys that produced them (the
 *       "key" of their "action" events above)
 *   {"type":"deploy","event":KIND,"deployment":L,"stage":S,"from":HEX,
 *    "to":HEX,"result":R,"detail":TEXT,"ms":N}
 *       each apply, rollback, reconcile, health check, bake, approval,
 *       abort, repair and denial, as deploy/rollout.h notes it
 * Each is also a span "KIND STAGE" of category "deploy:LABEL". */
#include "cli/ui.h"
#include "deploy/release.h"
#include "deploy/rollout.h"
#include "store/state.h"
#include "util/json.h"
#include "util/str.h"
#include "util/util.h"
#include <stdlib.h>
#include <string.h>

static void field(struct buf *b, const char *name, const char *v)
{
	if (!v)
		return;
	buf_printf(b, ",\"%s\":", name);
	json_str(b, v);
}

void observe_note(struct ui *u, const struct deploy_note *n)
{
	if (u->events) {
		struct buf b = {0};
		buf_puts(&b, "{\"type\":\"deploy\",\"event\":");
		json_str(&b, n->kind);
		field(&b, "deployment", n->deployment);
		field(&b, "stage", n->stage);
		field(&b, "from", n->from);
		field(&b, "to", n->to);
		field(&b, "result", n->result);
		field(&b, "detail", n->detail);
		buf_printf(&b, ",\"ms\":%llu}\n",
		           (unsigned long long)((n->end_ns - n->start_ns) / 1000000));
		fwrite(b.s, 1, b.len, u->events);
		fflush(u->events);
		buf_free(&b);
	}
	if (u->trace) {
		char *name = xasprintf("%s %s", n->kind, n->stage ? n->stage : "");
		char *cat = xasprintf("deploy:%s", n->deployment);
		uint64_t end = n->end_ns > n->start_ns ? n->end_ns : n->start_ns + 1000;
		trace_span(u->trace, name, cat, n->start_ns, end, u->t0);
		free(name);
		free(cat);
	}
}

char *observe_provenance(const struct graph *g, struct state *st, const struct dbuild *b,
                         const char *manifest)
{
	struct rfile *f = NULL;
	size_t nf = 0;
	release_files(manifest, &f, &nf);
	struct buf out = {0};
	for (size_t i = 0; i < b->nartifacts && i < nf; i++) {
		char key[65] = "-", hex[65];
		struct gfile *gf = graph_find((struct graph *)g, b->artifacts[i].path);
		const struct action *a = gf ? gf->producer : NULL;
		struct act_rec *rec = a && st ? state_action(st, a->outputs[0]->path) : NULL;
		if (rec)
			digest_hex(&rec->key, key);
		digest_hex(&f[i].d, hex);
		buf_printf(&out, "%s %s %s %s\n", b->artifacts[i].name, hex, key, b->artifacts[i].path);
	}
	release_files_free(f, nf);
	return out.s ? buf_take(&out) : xstrdup("");
}

void observe_release(struct ui *u, const char *deployment, const char *rel,
                     const char *provenance, const char *tests)
{
	if (!u->events)
		return;
	struct buf b = {0};
	buf_puts(&b, "{\"type\":\"release\",\"deployment\":");
	json_str(&b, deployment);
	field(&b, "release", rel);
	buf_puts(&b, ",\"artifacts\":[");
	int first = 1;
	for (const char *p = provenance; *p;) {
		const char *nl = strchr(p, '\n');
		char *line = xstrndup(p, nl ? (size_t)(nl - p) : strlen(p));
		char name[256], digest[65], key[65], path[1024];
		if (sscanf(line, "%255s %64s %64s %1023s", name, digest, key, path) == 4) {
			buf_puts(&b, first ? "{\"name\":" : ",{\"name\":");
			json_str(&b, name);
			field(&b, "path", path);
			field(&b, "digest", digest);
			field(&b, "key", key);
			buf_puts(&b, "}");
			first = 0;
		}
		free(line);
		p = nl ? nl + 1 : p + strlen(p);
	}
	buf_puts(&b, "],\"tests\":[");
	first = 1;
	for (const char *p = tests; *p;) {
		const char *nl = strchr(p, '\n');
		char *t = xstrndup(p, nl ? (size_t)(nl - p) : strlen(p));
		if (*t) {
			if (!first)
				buf_putc(&b, ',');
			json_str(&b, t);
			first = 0;
		}
		free(t);
		p = nl ? nl + 1 : p + strlen(p);
	}
	buf_puts(&b, "]}\n");
	fwrite(b.s, 1, b.len, u->events);
	fflush(u->events);
	buf_free(&b);
}
