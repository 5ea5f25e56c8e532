/* job: see job.h. */
#include "exec/job.h"
#include "exec/decide.h"
#include "exec/depfile.h"
#include "util/fs.h"
#include "util/str.h"
#include "util/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

void job_prepend_output(struct job_done *d, struct buf *msg)
{
	buf_putn(msg, d->output, d->outlen);
	free(d->output);
	d->outlen = msg->len;
	d->output = buf_take(msg);
}

/* The value of variable name in a's environment, or NULL. */
static const char *env_get(const struct action *a, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < a->nenv; i++)
		if (!strncmp(a->env[i], name, n) && a->env[i][n] == '=')
			return a->env[i] + n + 1;
	return NULL;
}

/* The sandbox of a: what to show in its image dir. */
static struct sandbox_spec *make_spec(const struct job_site *site, const struct action *a,
                                      const char *dir)
{
	struct sandbox_spec *sp = xcalloc(1, sizeof *sp);
	sp->root = site->root;
	sp->state = site->sandbox_state;
	sp->dir = dir;
	const char **in = xcalloc(a->ninputs + 1, sizeof *in);
	for (size_t i = 0; i < a->ninputs; i++)
		in[i] = a->inputs[i]->path;
	sp->inputs = in;
	sp->ninputs = a->ninputs;
	/* output directories, parents first (a later mount would hide an
	 * earlier one below it), each once */
	char **dirs = xcalloc(a->noutputs + 1, sizeof *dirs);
	for (size_t i = 0; i < a->noutputs; i++) {
		const char *p = a->outputs[i]->path, *sl = strrchr(p, '/');
		dirs[i] = sl ? xstrndup(p, (size_t)(sl - p)) : xstrdup(".");
	}
	xqsort(dirs, a->noutputs, sizeof *dirs, cmp_str);
	for (size_t i = 0; i < a->noutputs; i++) {
		if (sp->noutdirs && !strcmp(dirs[sp->noutdirs - 1], dirs[i]))
			free(dirs[i]);
		else
			dirs[sp->noutdirs++] = dirs[i];
	}
	sp->outdirs = (const char *const *)dirs;
	const char *tmp = env_get(a, "TEST_TMPDIR");
	if (tmp) {
		const char **rw = xcalloc(2, sizeof *rw);
		rw[0] = tmp;
		sp->rwdirs = rw;
		sp->nrwdirs = 1;
	}
	sp->network = (a->flags & ACT_NETWORK) != 0;
	return sp;
}

static void free_spec(struct sandbox_spec *sp)
{
	if (!sp)
		return;
	free((void *)sp->inputs);
	for (size_t i = 0; i < sp->noutdirs; i++)
		free((void *)sp->outdirs[i]);
	free((void *)sp->outdirs);
	free((void *)sp->rwdirs);
	free(sp);
}

void job_make(struct job_start *js, const struct job_site *site, const struct action *a,
              const char *const *env, char **sandbox_dir)
{
	memset(js, 0, sizeof *js);
	js->j.id = a->id;
	js->j.envp = env;
	if (a->flags & ACT_TEST) {
		const char *t = env_get(a, "TEST_TIMEOUT"), *tmp = env_get(a, "TEST_TMPDIR");
		js->j.timeout_ms = t ? strtoull(t, NULL, 10) * 1000 : 0;
		if (tmp) {
			fs_rm_rf(tmp);
			fs_mkdir_p(tmp);
			/* the key has it relative (the same on any machine); the test
			 * gets it absolute, so it survives a cd */
			size_t k = 0;
			while (env[k])
				k++;
			js->envp = xcalloc(k + 1, sizeof *js->envp);
			js->abs_tmp = xasprintf("TEST_TMPDIR=%s/%s", site->root, tmp);
			for (size_t i = 0; i < k; i++)
				js->envp[i] = strncmp(env[i], "TEST_TMPDIR=", 12) ? env[i] : js->abs_tmp;
			js->j.envp = js->envp;
		}
	}
	js->argv = xcalloc(a->argc + 1, sizeof *js->argv);
	memcpy(js->argv, a->argv, a->argc * sizeof *js->argv);
	js->j.argv = js->argv;
	*sandbox_dir = NULL;
	if (site->sandbox && !(a->flags & ACT_NO_SANDBOX)) {
		*sandbox_dir = xasprintf("%s/.cairn/sandbox/out/%u", site->root, a->id);
		fs_rm_rf(*sandbox_dir);
		fs_mkdir_p(*sandbox_dir);
		js->sp = make_spec(site, a, *sandbox_dir);
		js->j.sandbox = js->sp;
	}
}

void job_release(struct job_start *js)
{
	free(js->argv);
	free(js->envp);
	free(js->abs_tmp);
	free_spec(js->sp);
	memset(js, 0, sizeof *js);
}

void job_leave_sandbox(const struct action *a, const char *sandbox_dir, struct job_done *d)
{
	if (!sandbox_dir)
		return;
	/* only regular files come out: a symlink could point anywhere */
	struct buf bad = {0};
	for (size_t i = 0; i < a->noutputs && d->exit_code == 0; i++) {
		char *in = xasprintf("%s/out/%s", sandbox_dir, a->outputs[i]->path);
		struct stat st;
		if (lstat(in, &st) < 0) {
			/* not written: job_result says so */
		} else if (!S_ISREG(st.st_mode)) {
			buf_printf(&bad, "cairn: output '%s' is a %s, not a regular file: refused\n",
			           a->outputs[i]->path, S_ISLNK(st.st_mode) ? "symlink" : "special file");
		} else if (fs_copy_atomic(in, a->outputs[i]->path, st.st_mode & 0777, NULL, NULL) < 0) {
			/* copied, not renamed: the image's outputs live on a tmpfs */
			buf_printf(&bad, "cairn: cannot copy output '%s' out of the sandbox: %s\n",
			           a->outputs[i]->path, strerror(errno));
		}
		free(in);
	}
	fs_rm_rf(sandbox_dir);
	if (bad.len) {
		job_prepend_output(d, &bad);
		d->exit_code = 1;
	}
	buf_free(&bad);
	if (d->exit_code == 0)
		return;
	/* a path of the workspace in the output, existing but not an input:
	 * the likely file the action could not read */
	struct buf why = {0};
	char *text = xstrndup(d->output, d->outlen);
	int found = 0;
	for (char *tok = strtok(text, " \t\n'\":`()[],;"); tok && found < 3;
	     tok = strtok(NULL, " \t\n'\":`()[],;")) {
		while (tok[0] == '.' && tok[1] == '/')
			tok += 2;
		struct stat st;
		if (!*tok || tok[0] == '/' || action_input_index(a, tok) >= 0 ||
		    stat(tok, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		buf_printf(&why, "cairn: %s read '%s', which is not among its declared inputs "
		           "(the sandbox hides it)\n", a->label, tok);
		found++;
	}
	free(text);
	if (why.len)
		job_prepend_output(d, &why);
	buf_free(&why);
}

void job_write_test_outputs(const struct action *a, struct fsys *fs, int attempts,
                            const struct job_done *d)
{
	double secs = (double)(d->end_ns - d->start_ns) / 1e9;
	fs->write(fs, a->outputs[0]->path, d->output, d->outlen, 0644);
	struct buf x = {0};
	int failed = d->exit_code != 0;
	buf_puts(&x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
	buf_printf(&x, "<testsuite name=\"%s\" tests=\"1\" failures=\"%d\" errors=\"0\" "
	           "time=\"%.3f\">\n", a->label, failed, secs);
	buf_printf(&x, "  <testcase name=\"%s\" classname=\"%s\" time=\"%.3f\">\n",
	           a->outputs[1]->path, a->label, secs);
	if (d->timed_out)
		buf_printf(&x, "    <failure message=\"timed out after %.0f s\"/>\n", secs);
	else if (failed)
		buf_printf(&x, "    <failure message=\"exit code %d\"/>\n", d->exit_code);
	buf_puts(&x, "    <system-out><![CDATA[");
	for (size_t i = 0; i < d->outlen; i++) {
		/* "]]>" cannot stand inside CDATA; control bytes are not XML */
		unsigned char c = (unsigned char)d->output[i];
		if (c == ']' && i + 2 < d->outlen && d->output[i + 1] == ']' && d->output[i + 2] == '>')
			buf_puts(&x, "]]]]><![CDATA[");
		else if (c < 0x20 && c != '\n' && c != '\t' && c != '\r')
			buf_putc(&x, '?');
		else
			buf_putc(&x, (char)c);
	}
	buf_puts(&x, "]]></system-out>\n  </testcase>\n</testsuite>\n</testsuites>\n");
	if (attempts > 1)
		buf_printf(&x, "<!-- attempts: %d -->\n", attempts);
	fs->write(fs, a->outputs[1]->path, x.s, x.len, 0644);
	buf_free(&x);
}

int job_result(const struct action *a, struct store *store, struct files *fl,
               struct job_done *d, struct action_result *res, struct digest *outd)
{
	memset(res, 0, sizeof *res);
	res->outputs = xcalloc(a->noutputs, sizeof *res->outputs);
	res->noutputs = a->noutputs;
	struct buf why = {0};
	for (size_t i = 0; i < a->noutputs && !why.len; i++) {
		const char *p = a->outputs[i]->path;
		struct file_stat st;
		if (fl->fs->stat(fl->fs, p, &st) < 0) {
			buf_printf(&why, "cairn: the action did not create its output '%s'\n", p);
		} else if (!S_ISREG(st.mode)) {
			buf_printf(&why, "cairn: output '%s' is not a regular file\n", p);
		} else {
			struct result_output *o = &res->outputs[i];
			o->path = xstrdup(p);
			o->mode = (st.mode & 0111) ? 0755 : 0644;
			o->size = st.size;
			if (store->ops->put_file(store, p, &o->d, &o->size) < 0) {
				/* the store is best effort: hash it ourselves */
				if (fl->fs->hash(fl->fs, p, &o->d) < 0)
					buf_printf(&why, "cairn: cannot read output '%s': %s\n", p, strerror(errno));
			}
			outd[i] = o->d;
			state_remember(fl->st, fl->fs, p, &o->d,
			               (a->flags & ACT_TEST) ? OUT_TEST : OUT_ACTION);
		}
	}
	if (why.len) {
		job_prepend_output(d, &why);
		d->exit_code = 1;
		action_result_free(res);
		buf_free(&why);
		return -1;
	}
	if (d->outlen)
		store->ops->put_blob(store, d->output, d->outlen, &res->log);
	res->log_size = d->outlen;
	return 0;
}

char **job_discovered(const struct action *a, struct fsys *fs, const char *root,
                      struct job_done *d, size_t *n)
{
	struct buf text = {0};
	if (fs->read(fs, a->depfile, &text) < 0) {
		buf_free(&text);
		return NULL;
	}
	char **deps = depfile_parse(text.s, text.len, root);
	buf_free(&text);
	if (!deps)
		return NULL;
	struct buf warn = {0};
	deps = decide_discovered(a, deps, n, &warn);
	if (warn.len)
		job_prepend_output(d, &warn);
	buf_free(&warn);
	return deps;
}

int job_restore(const struct action *a, struct store *store, struct files *fl,
                const struct action_result *res, int plan, struct digest *outd)
{
	if (res->exit_code != 0 || res->noutputs != a->noutputs)
		return -1;
	for (size_t i = 0; i < a->noutputs; i++)
		if (strcmp(res->outputs[i].path, a->outputs[i]->path) != 0)
			return -1;
	for (size_t i = 0; i < a->noutputs; i++) {
		const char *p = a->outputs[i]->path;
		const struct result_output *o = &res->outputs[i];
		struct digest cur;
		if (state_digest(fl->st, fl->fs, p, &cur) == 0 && digest_eq(&cur, &o->d))
			continue;
		if (plan)
			continue;
		if (fl->fs->mkdir_parent(fl->fs, p) < 0)
			return -1;
		files_sweep(fl, p);
		if (store->ops->get_file(store, &o->d, p, o->mode) < 0)
			return -1;
		state_remember(fl->st, fl->fs, p, &o->d, (a->flags & ACT_TEST) ? OUT_TEST : OUT_ACTION);
	}
	for (size_t i = 0; i < a->noutputs; i++)
		outd[i] = res->outputs[i].d;
	return 0;
}
