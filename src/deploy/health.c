/* deploy/health: running a health check (health.h). */
#include "deploy/health.h"
#include "util/fs.h"
#include "util/util.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int health_start(const struct dbuild *b, const struct provider_op *p, int sandbox, struct runner *r,
                 size_t id, struct hjob *h, struct err *e)
{
	memset(h, 0, sizeof *h);
	if (!b->nhealth_argv)
		return err_input(e, NULL, "%s: no health check was built", p->stage->name);
	const char *base[b->nhealth_env + 4];
	size_t n = 0;
	base[n++] = "PATH=/usr/local/bin:/usr/bin:/bin";
	base[n++] = "TEST_TMPDIR=/tmp";
	base[n++] = "HOME=/tmp";
	for (size_t i = 0; i < b->nhealth_env; i++)
		base[n++] = b->health_env[i];
	base[n] = NULL;
	h->envp = provider_env(p, base);
	uint64_t timeout = 300;
	for (size_t i = 0; i < b->nhealth_env; i++)
		if (!strncmp(b->health_env[i], "TEST_TIMEOUT=", 13))
			timeout = strtoull(b->health_env[i] + 13, NULL, 10);
	h->j = (struct job){.id = id, .argv = (const char *const *)b->health_argv,
	                    .envp = (const char *const *)h->envp, .timeout_ms = timeout * 1000};
	if (sandbox) {
		h->dir = xasprintf("%s/.cairn/sandbox/out/health.%ld.%zu", p->root, (long)getpid(), id);
		fs_rm_rf(h->dir);
		fs_mkdir_p(h->dir);
		h->spath = provider_stage_path(p->root, p->stage);
		size_t nro = 0;
		if (h->spath)
			h->rodirs[nro++] = h->spath;
		if (p->reldir)
			h->rodirs[nro++] = p->reldir; /* CAIRN_RELEASE_DIR, CAIRN_ARTIFACTS */
		h->sp = (struct sandbox_spec){
			.root = p->root, .dir = h->dir,
			.inputs = (const char *const *)b->health_inputs, .ninputs = b->nhealth_inputs,
			.rodirs = h->rodirs, .nrodirs = nro, .network = 1,
		};
		h->state = xasprintf("%s/.cairn/sandbox", p->root);
		h->sp.state = h->state;
		h->j.sandbox = &h->sp;
	}
	if (r->start(r, &h->j, e) < 0) {
		health_free(h);
		return -1;
	}
	return 0;
}

int health_end(struct hjob *h, const struct job_done *d, const char *stage, struct err *e)
{
	int rc = 0;
	size_t len = d->outlen;
	while (len && d->output[len - 1] == '\n')
		len--; /* the message ends the line */
	if (d->timed_out)
		rc = err_input(e, NULL, "%s: the health check ran past its timeout%s%.*s", stage,
		               len ? ":\n" : "", (int)len, d->output ? d->output : "");
	else if (d->exit_code != 0)
		rc = err_input(e, NULL, "%s: the health check failed (exit %d)%s%.*s", stage,
		               d->exit_code, len ? ":\n" : "", (int)len, d->output ? d->output : "");
	health_free(h);
	return rc;
}

void health_free(struct hjob *h)
{
	if (h->dir)
		fs_rm_rf(h->dir);
	free(h->dir);
	free(h->state);
	free(h->spath);
	strv_free(h->envp);
	memset(h, 0, sizeof *h);
}
