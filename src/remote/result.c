/* result: struct action_result <-> REAPI ActionResult
 * (src/reapi/proto/remote_execution.proto).
 *
 *   outputs[i]   -> output_files[i] {path, digest {hex, size}, is_executable}
 *                   in cairn's order (the action's outputs'); executable is
 *                   any x bit, and comes back as 0755, else 0644
 *   exit_code    -> exit_code
 *   log          -> stdout_digest (cairn merges stdout and stderr); always
 *                   written, an absent one reads as the empty blob
 *   discovered   -> nothing: REAPI has no field for it. A result read back
 *                   remotely has none, which is sound: cairn only ever puts
 *                   a result under a key that covers every input its run
 *                   read (sched.c checks decide_covered before a put), so
 *                   the key alone vouches for it. What is lost is header
 *                   precision: the action's next key is on all its inputs
 *                   until it runs locally once.
 *
 * Reading is strict, since the bytes come from a server: output paths
 * must be relative and canonical (no "", ".", ".." segment: a result must
 * never write outside the workspace), hashes 64 hex digits, sizes not
 * negative. Inlined bytes (stdout_raw, contents) and a separate stderr are
 * refused rather than half understood: cairn never writes them. */
#include "remote/result.h"
#include "remote_execution.pb-c.h"
#include "util/util.h"
#include <stdlib.h>
#include <string.h>

typedef Build__Bazel__Remote__Execution__V2__ActionResult ActionResult;
typedef Build__Bazel__Remote__Execution__V2__OutputFile OutputFile;
typedef Build__Bazel__Remote__Execution__V2__Digest Digest;

static void set_digest(Digest *m, char *hex, const struct digest *d, uint64_t size)
{
	build__bazel__remote__execution__v2__digest__init(m);
	digest_hex(d, hex);
	m->hash = hex;
	m->size_bytes = (int64_t)size;
}

void result_encode(const struct action_result *r, struct buf *b)
{
	size_t n = r->noutputs;
	OutputFile *files = xcalloc(n ? n : 1, sizeof *files);
	OutputFile **fp = xcalloc(n ? n : 1, sizeof *fp);
	Digest *ds = xcalloc(n + 1, sizeof *ds);
	char(*hex)[65] = xcalloc(n + 1, sizeof *hex);
	for (size_t i = 0; i < n; i++) {
		const struct result_output *o = &r->outputs[i];
		build__bazel__remote__execution__v2__output_file__init(&files[i]);
		files[i].path = o->path;
		set_digest(&ds[i], hex[i], &o->d, o->size);
		files[i].digest = &ds[i];
		files[i].is_executable = (o->mode & 0111) != 0;
		fp[i] = &files[i];
	}
	ActionResult m = BUILD__BAZEL__REMOTE__EXECUTION__V2__ACTION_RESULT__INIT;
	m.n_output_files = n;
	m.output_files = fp;
	m.exit_code = r->exit_code;
	set_digest(&ds[n], hex[n], &r->log, r->log_size);
	m.stdout_digest = &ds[n];
	size_t len = build__bazel__remote__execution__v2__action_result__get_packed_size(&m);
	unsigned char *out = xmalloc(len ? len : 1);
	build__bazel__remote__execution__v2__action_result__pack(&m, out);
	buf_putn(b, out, len);
	free(out);
	free(hex);
	free(ds);
	free(fp);
	free(files);
}


static int get_digest(const Digest *m, struct digest *d, uint64_t *size)
{
	if (!m || strlen(m->hash) != 64 || digest_parse(m->hash, d) < 0 || m->size_bytes < 0)
		return -1;
	*size = (uint64_t)m->size_bytes;
	return 0;
}

int result_decode(const void *p, size_t n, struct action_result *r, struct result_stderr *err,
                  const char **why)
{
	memset(r, 0, sizeof *r);
	ActionResult *m = build__bazel__remote__execution__v2__action_result__unpack(NULL, n, p);
	if (!m) {
		*why = "not an ActionResult";
		return -1;
	}
	*why = NULL;
	if (m->stdout_raw.len || m->stderr_raw.len)
		*why = "inlined stdout or stderr";
	else if (m->stderr_digest && m->stderr_digest->size_bytes != 0 && !err)
		*why = "a separate stderr";
	else if (err && m->stderr_digest && get_digest(m->stderr_digest, &err->d, &err->size) < 0)
		*why = "a bad stderr digest";
	else if (err && !m->stderr_digest)
		err->size = 0;
	r->exit_code = m->exit_code;
	if (!*why && m->stdout_digest) {
		if (get_digest(m->stdout_digest, &r->log, &r->log_size) < 0)
			*why = "a bad stdout digest";
	} else if (!*why) {
		sha_buf("", 0, &r->log);
	}
	r->outputs = xcalloc(m->n_output_files ? m->n_output_files : 1, sizeof *r->outputs);
	for (size_t i = 0; i < m->n_output_files && !*why; i++) {
		const OutputFile *f = m->output_files[i];
		struct result_output *o = &r->outputs[i];
		if (!path_components_ok(f->path))
			*why = "an output path that is not relative and canonical";
		else if (get_digest(f->digest, &o->d, &o->size) < 0)
			*why = "a bad output digest";
		else if (f->contents.len)
			*why = "inlined output contents";
		if (*why)
			break;
		o->path = xstrdup(f->path);
		o->mode = f->is_executable ? 0755 : 0644;
		r->noutputs = i + 1;
	}
	build__bazel__remote__execution__v2__action_result__free_unpacked(m, NULL);
	if (*why) {
		action_result_free(r);
		memset(r, 0, sizeof *r);
		return -1;
	}
	return 0;
}
