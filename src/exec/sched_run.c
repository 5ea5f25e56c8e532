/* sched_run: starting one action: its environment, its sandbox (and
 * getting its outputs back out), and the log and JUnit XML of a test. */
#include "exec/sched_int.h"
#include "util/fs.h"
#include "util/str.h"
#include "util/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The value of variable name in a's environment, or NULL. */
void sched_prepend_output(struct job_done *d, struct buf *msg)
{
	buf_putn(msg, d->output, d->outlen);
	free(d->output);
	d->outlen = msg->len;
	d->output = buf_take(msg);
}

const char *sched_env_get(const struct action *a, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < a->nenv; i++)
		if (!strncmp(a->env[i], name, n) && a->env[i][n] == '=')
			return a->env[i] + n + 1;
	return NULL;
}

/* The sandbox of a: its image directory (made empty) and what to show in
 * it. Returns the spec, to free with free_spec, or NULL (no sandbox). */
struct sandbox_spec *sched_make_spec(struct sched *s, struct action *a)
{
	struct node *n = &s->n[a->id];
	if (!s->env->opts.sandbox || (a->flags & ACT_NO_SANDBOX))
		return NULL;
	struct sandbox_spec *sp = xcalloc(1, sizeof *sp);
	sp->root = s->root;
	sp->state = s->sandbox_state;
	free(n->sandbox);
	n->sandbox = xasprintf("%s/.cairn/sandbox/out/%u", s->root, a->id);
	fs_rm_rf(n->sandbox);
	fs_mkdir_p(n->sandbox);
	sp->dir = n->sandbox;
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
	xqsort(dirs, a->noutputs, sizeof *dirs, sched_cmp_str);
	for (size_t i = 0; i < a->noutputs; i++) {
		if (sp->noutdirs && !strcmp(dirs[sp->noutdirs - 1], dirs[i]))
			free(dirs[i]);
		else
			dirs[sp->noutdirs++] = dirs[i];
	}
	sp->outdirs = (const char *const *)dirs;
	const char *tmp = sched_env_get(a, "TEST_TMPDIR");
	if (tmp) {
		const char **rw = xcalloc(2, sizeof *rw);
		rw[0] = tmp;
		sp->rwdirs = rw;
		sp->nrwdirs = 1;
	}
	sp->network = (a->flags & ACT_NETWORK) != 0;
	return sp;
}

void sched_free_spec(struct sandbox_spec *sp)
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

/* After a sandboxed run: move the declared outputs out of the image, and
 * say which undeclared workspace files the output complains about. */
void sched_leave_sandbox(struct sched *s, struct action *a, struct job_done *d)
{
	struct node *n = &s->n[a->id];
	if (!n->sandbox)
		return;
	/* only regular files come out: a symlink could point anywhere */
	struct buf bad = {0};
	for (size_t i = 0; i < a->noutputs && d->exit_code == 0; i++) {
		char *in = xasprintf("%s/out/%s", n->sandbox, a->outputs[i]->path);
		struct stat st;
		if (lstat(in, &st) < 0) {
			/* not written: collect() says so */
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
	fs_rm_rf(n->sandbox);
	if (bad.len) {
		sched_prepend_output(d, &bad);
		d->exit_code = 1;
	}
	buf_free(&bad);
	free(n->sandbox);
	n->sandbox = NULL;
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
		if (!*tok || tok[0] == '/' || sched_input_index(a, tok) >= 0 ||
		    stat(tok, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		buf_printf(&why, "cairn: %s read '%s', which is not among its declared inputs "
		           "(the sandbox hides it)\n", a->label, tok);
		found++;
	}
	free(text);
	if (why.len) {
		sched_prepend_output(d, &why);
	}
	buf_free(&why);
}

/* Hand a to the runner: 0 when started, 1 when it failed at once. */
int sched_start(struct sched *s, struct action *a)
{
	struct sched_env *env = s->env;
	struct node *n = &s->n[a->id];
	struct job j = {.id = a->id, .envp = n->env};
	const char **envp = NULL;
	char *abs_tmp = NULL;
	if (a->flags & ACT_TEST) {
		const char *t = sched_env_get(a, "TEST_TIMEOUT"), *tmp = sched_env_get(a, "TEST_TMPDIR");
		j.timeout_ms = t ? strtoull(t, NULL, 10) * 1000 : 0;
		if (tmp) {
			fs_rm_rf(tmp);
			fs_mkdir_p(tmp);
			/* the key has it relative (the same on any machine); the test
			 * gets it absolute, so it survives a cd */
			size_t k = 0;
			while (n->env[k])
				k++;
			envp = xcalloc(k + 1, sizeof *envp);
			abs_tmp = xasprintf("TEST_TMPDIR=%s/%s", s->root, tmp);
			for (size_t i = 0; i < k; i++)
				envp[i] = strncmp(n->env[i], "TEST_TMPDIR=", 12) ? n->env[i] : abs_tmp;
			j.envp = envp;
		}
	}
	const char **argv = xcalloc(a->argc + 1, sizeof *argv);
	memcpy(argv, a->argv, a->argc * sizeof *argv);
	j.argv = argv;
	struct sandbox_spec *sp = sched_make_spec(s, a);
	j.sandbox = sp;
	struct err se = {0};
	int rc = env->runner->start(env->runner, &j, &se);
	free(argv);
	sched_free_spec(sp);
	free(envp);
	free(abs_tmp);
	if (rc < 0) {
		/* could not start: the action fails, the build goes on */
		struct job_done d = {.exit_code = 127};
		char *msg = xasprintf("%s\n", se.msg);
		d.output = msg;
		d.outlen = strlen(msg);
		sched_done(s, a, AS_FAILED, &d);
		free(msg);
		err_clear(&se);
		return 1;
	}
	s->c.running++;
	if (env->obs && env->obs->started)
		env->obs->started(env->obs->ctx, a, &s->c);
	return 0;
}

/* A test's .log and JUnit .xml (outputs[0] and [1], sorted by path). */
void sched_write_test_outputs(struct sched *s, struct action *a, const struct job_done *d)
{
	struct node *n = &s->n[a->id];
	double secs = (double)(d->end_ns - d->start_ns) / 1e9;
	fs_write_atomic(a->outputs[0]->path, d->output, d->outlen, 0644);
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
	if (n->attempts > 1)
		buf_printf(&x, "<!-- attempts: %d -->\n", n->attempts);
	fs_write_atomic(a->outputs[1]->path, x.s, x.len, 0644);
	buf_free(&x);
}
