/* deploy/provider: the dir and command providers (provider.h). */
#include "deploy/provider.h"
#include "deploy/release.h"
#include "util/fs.h"
#include "util/str.h"
#include "util/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *provider_stage_path(const char *root, const struct dstage *s)
{
	if (!s->path)
		return NULL;
	return s->path[0] == '/' ? xstrdup(s->path) : xasprintf("%s/%s", root, s->path);
}

static void push(char ***v, size_t *n, size_t *cap, char *s)
{
	vec_reserve(v, cap, *n + 2, sizeof **v);
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
}

char **provider_env(const struct provider_op *p, const char *const *base)
{
	char **v = NULL;
	size_t n = 0, cap = 0;
	for (const char *const *b = base; b && *b; b++)
		push(&v, &n, &cap, xstrdup(*b));
	char *sp = provider_stage_path(p->root, p->stage);
	push(&v, &n, &cap, xasprintf("CAIRN_STAGE=%s", p->stage->name));
	push(&v, &n, &cap, xasprintf("CAIRN_STAGE_PATH=%s", sp ? sp : ""));
	push(&v, &n, &cap, xasprintf("CAIRN_RELEASE=%s", p->rel));
	push(&v, &n, &cap, xasprintf("CAIRN_RELEASE_DIR=%s", p->reldir ? p->reldir : ""));
	struct buf arts = {0};
	struct rfile *f = NULL;
	size_t nf = 0;
	if (p->manifest && p->reldir && release_files(p->manifest, &f, &nf) == 0)
		for (size_t i = 0; i < nf; i++)
			buf_printf(&arts, "%s%s/%s", i ? " " : "", p->reldir, f[i].name);
	release_files_free(f, nf);
	push(&v, &n, &cap, xasprintf("CAIRN_ARTIFACTS=%s", arts.s ? arts.s : ""));
	buf_free(&arts);
	for (size_t i = 0; i < p->stage->nenv; i++)
		push(&v, &n, &cap, xstrdup(p->stage->env[i]));
	free(sp);
	return v;
}

/* ---- dir ---- */

/* Point PATH/current at releases/<rel> (made from reldir when missing),
 * or remove it (rel ""). */
static int dir_apply(struct provider_op *p, struct err *e)
{
	char *sp = provider_stage_path(p->root, p->stage);
	char *cur = xasprintf("%s/current", sp);
	int rc = 0;
	if (!p->rel[0]) {
		if (unlink(cur) < 0 && errno != ENOENT)
			rc = err_sys(e, "%s: cannot remove %s", p->stage->name, cur);
		goto out;
	}
	char *rdir = xasprintf("%s/releases/%s", sp, p->rel);
	const char *why;
	struct stat st;
	/* a copy there already is used only when it is whole and untouched;
	 * a damaged one (current may point at it) is replaced by a fresh copy
	 * made beside it first, so current dangles only between two renames */
	int there = stat(rdir, &st) == 0, bad = there && !release_matches(rdir, p->manifest, &why);
	if (!there || bad) {
		char *tmp = xasprintf("%s.tmp.%ld", rdir, (long)getpid());
		char *old = xasprintf("%s.old.%ld", rdir, (long)getpid());
		fs_rm_rf(tmp);
		if (release_copy(p->reldir, tmp, p->manifest) < 0 ||
		    (bad && rename(rdir, old) < 0) || rename(tmp, rdir) < 0)
			rc = err_sys(e, "%s: cannot copy the release into %s", p->stage->name, rdir);
		fs_rm_rf(tmp);
		fs_rm_rf(old);
		free(tmp);
		free(old);
	}
	if (rc == 0) {
		/* the switch: a new link beside it, renamed over the old */
		char *target = xasprintf("releases/%s", p->rel);
		char *tmp = xasprintf("%s/.current.tmp.%ld", sp, (long)getpid());
		unlink(tmp);
		if (symlink(target, tmp) < 0 || rename(tmp, cur) < 0) {
			rc = err_sys(e, "%s: cannot switch %s", p->stage->name, cur);
			unlink(tmp);
		}
		free(target);
		free(tmp);
	}
	free(rdir);
out:
	free(cur);
	free(sp);
	return rc;
}

static int dir_read(struct provider_op *p, char live[65], int *changed, const char **why, struct err *e)
{
	char *sp = provider_stage_path(p->root, p->stage);
	char *cur = xasprintf("%s/current", sp);
	char buf[256];
	ssize_t n = readlink(cur, buf, sizeof buf - 1);
	int rc = 0;
	live[0] = 0;
	*changed = 0;
	if (n < 0 && errno != ENOENT) {
		rc = err_sys(e, "%s: cannot read %s", p->stage->name, cur);
	} else if (n >= 0) {
		buf[n] = 0;
		const char *hex = strncmp(buf, "releases/", 9) ? NULL : buf + 9;
		if (hex && strlen(hex) == 64 && strspn(hex, "0123456789abcdef") == 64) {
			memcpy(live, hex, 65);
		} else {
			*changed = 1;
			*why = "current points outside releases/";
		}
		/* the files under current, against what the release holds */
		if (live[0] && p->manifest && !strcmp(live, p->rel) &&
		    !release_matches(cur, p->manifest, why))
			*changed = 1;
	}
	free(cur);
	free(sp);
	return rc;
}

/* ---- command ---- */

static int cmd_start(struct provider_op *p, const char *cmd, struct runner *r, size_t id, struct err *e)
{
	static const char *const base[] = {"PATH=/usr/local/bin:/usr/bin:/bin", NULL};
	const char *const *envb = base;
	extern char **environ;
	if (getenv("PATH"))
		envb = (const char *const *)environ; /* a provider acts on the world: it gets ours */
	p->envp = provider_env(p, envb);
	p->argv = xcalloc(4, sizeof *p->argv);
	p->argv[0] = xstrdup("/bin/sh");
	p->argv[1] = xstrdup("-c");
	p->argv[2] = xstrdup(cmd);
	p->j = (struct job){.id = id, .argv = (const char *const *)p->argv,
	                    .envp = (const char *const *)p->envp,
	                    .timeout_ms = (uint64_t)p->cfg->timeout * 1000};
	if (r->start(r, &p->j, e) < 0) {
		strv_free(p->argv);
		strv_free(p->envp);
		p->argv = p->envp = NULL;
		return -1;
	}
	p->started = 1;
	return 0;
}

int provider_apply(struct provider_op *p, struct runner *r, size_t id, struct err *e)
{
	if (p->cfg->provider == PROVIDER_DIR)
		return dir_apply(p, e) < 0 ? -1 : 1;
	const char *cmd = p->rel[0] ? p->cfg->apply : p->cfg->destroy;
	if (!cmd)
		return 1; /* nothing to destroy with: the stage is left as it is */
	return cmd_start(p, cmd, r, id, e);
}

int provider_end(struct provider_op *p, const struct job_done *d, struct err *e)
{
	int rc = 0;
	int len = (int)d->outlen;
	while (len && d->output[len - 1] == '\n')
		len--; /* the message ends the line */
	if (d->timed_out)
		rc = err_input(e, NULL, "%s%s%s: the provider command ran past its timeout (%d s)%s%.*s",
		               p->label ? p->label : "", p->label ? " " : "", p->stage->name, p->cfg->timeout, len ? ":\n" : "", len,
		               d->output ? d->output : "");
	else if (d->exit_code != 0)
		rc = err_input(e, NULL, "%s%s%s: the provider command exited %d%s%.*s",
		               p->label ? p->label : "", p->label ? " " : "", p->stage->name,
		               d->exit_code, len ? ":\n" : "", len, d->output ? d->output : "");
	strv_free(p->argv);
	strv_free(p->envp);
	p->argv = p->envp = NULL;
	p->started = 0;
	return rc;
}

int provider_read(struct provider_op *p, struct runner *r, char live[65], int *changed, const char **why,
             struct err *e)
{
	*changed = 0;
	*why = NULL;
	live[0] = 0;
	if (p->cfg->provider == PROVIDER_DIR)
		return dir_read(p, live, changed, why, e);
	if (cmd_start(p, p->cfg->read, r, 0, e) < 0)
		return -1;
	struct job_done d;
	int rc;
	for (;;) {
		rc = r->wait(r, &d);
		if (rc != 1 || d.id == 0)
			break;
		free(d.output);
	}
	if (rc != 1) {
		r->cancel(r);
		strv_free(p->argv);
		strv_free(p->envp);
		p->argv = p->envp = NULL;
		p->started = 0;
		errno = rc == 0 ? EINTR : errno;
		return err_sys(e, "%s: reading the stage", p->stage->name);
	}
	rc = provider_end(p, &d, e);
	/* the live digest: the last line that is one; none: nothing live */
	for (char *line = d.output, *end; rc == 0 && line && line < d.output + d.outlen;
	     line = end + 1) {
		end = memchr(line, '\n', (size_t)(d.output + d.outlen - line));
		if (!end)
			end = d.output + d.outlen;
		size_t n = (size_t)(end - line);
		while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
			n--;
		if (n == 64 && strspn(line, "0123456789abcdef") >= 64) {
			memcpy(live, line, 64);
			live[64] = 0;
		}
	}
	free(d.output);
	return rc;
}

void provider_free(struct provider_op *p)
{
	strv_free(p->argv);
	strv_free(p->envp);
	p->argv = p->envp = NULL;
}
