/* deploy: a deployment's texts read back (and refused when foreign); a
 * release's digest moves with its configuration and with its artifacts'
 * bytes and modes, and with nothing else; the records a rollout keeps. */
#include "deploy/config.h"
#include "deploy/release.h"
#include "deploy/state.h"
#include "store/store.h"
#include "test.h"
#include "util/fs.h"
#include "util/str.h"
#include "util/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char config[] =
	"provider command\napply sh apply.sh \\\\n \\nnext\nread sh read.sh\ntimeout 30\n"
	"canary 1\nmax_parallel 2\nbake 0\ninterval 10\nkeep 10\nhealth //web:health\n"
	"require //web:unit\ndep //db:migrate\n"
	"stage canary\nstage.path stages/canary\nstage.env PORT=1\n"
	"stage east\nstage.approval 1\n";

TEST(deploy_config_reads_back_what_the_rule_wrote)
{
	struct dconfig c;
	struct err e = {0};
	CHECK(dconfig_parse(config, "t", &c, &e) == 0);
	CHECK(c.provider == PROVIDER_COMMAND);
	CHECK_STR(c.apply, "sh apply.sh \\n \nnext"); /* escapes undone */
	CHECK(c.timeout == 30 && c.canary == 1 && c.max_parallel == 2 && c.interval == 10);
	CHECK_STR(c.health, "//web:health");
	CHECK(c.nrequires == 1 && c.ndeps == 1 && !strcmp(c.deps[0], "//db:migrate"));
	CHECK(c.nstages == 2);
	CHECK_STR(c.stages[0].path, "stages/canary");
	CHECK(c.stages[0].nenv == 1 && !strcmp(c.stages[0].env[0], "PORT=1"));
	CHECK(!c.stages[0].approval && c.stages[1].approval && !c.stages[1].path);
	CHECK(dconfig_stage(&c, "east") == &c.stages[1] && !dconfig_stage(&c, "west"));
	dconfig_free(&c);
}

TEST(deploy_config_refuses_what_it_did_not_write)
{
	static const char *const bad[] = {
		"provider ftp\nstage a\nmax_parallel 1\ninterval 1\n", /* unknown provider */
		"provider dir\nmax_parallel 1\ninterval 1\n",          /* no stage */
		"provider dir\nstage a\nmax_parallel 1\ninterval 1\nwhat ever\n", /* unknown key */
		"provider dir\nstage a\nmax_parallel x\ninterval 1\n",  /* not a number */
		"provider dir\nstage.path p\nstage a\nmax_parallel 1\ninterval 1\n", /* before a stage */
		"nokey\n",
		"",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct dconfig c;
		struct err e = {0};
		CHECK(dconfig_parse(bad[i], "state.db", &c, &e) < 0);
		CHECK(e.kind == ERR_INPUT && strstr(e.msg, "state.db"));
		err_clear(&e);
	}
}

TEST(deploy_build_text_reads_back)
{
	struct dbuild b;
	struct err e = {0};
	CHECK(dbuild_parse("where web/BUILD.lua:3\nartifact server cairn-out/web/server\n"
	                   "health.argv cairn-out/web/health\nhealth.env TEST_TIMEOUT=60\n"
	                   "health.input cairn-out/web/health\n"
	                   "test 1 cairn-out/web/unit //web:unit\n",
	                   "t", &b, &e) == 0);
	CHECK_STR(b.where, "web/BUILD.lua:3");
	CHECK(b.nartifacts == 1 && !strcmp(b.artifacts[0].name, "server") &&
	      !strcmp(b.artifacts[0].path, "cairn-out/web/server"));
	CHECK(b.nhealth_argv == 1 && b.nhealth_env == 1 && b.nhealth_inputs == 1);
	CHECK(b.ntests == 1 && b.tests[0].shards == 1 && !strcmp(b.tests[0].label, "//web:unit") &&
	      !strcmp(b.tests[0].base, "cairn-out/web/unit"));
	dbuild_free(&b);
	CHECK(dbuild_parse("artifact lonely\n", "t", &b, &e) < 0);
	err_clear(&e);
}

static char *tmpdir(void)
{
	char *d = xasprintf("%s/deploy.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	CHECK(mkdtemp(d) != NULL);
	return d;
}

static void put(const char *path, const char *text, unsigned mode)
{
	unlink(path);
	CHECK(fs_write_atomic(path, text, strlen(text), mode) == 0);
}

/* The release of the file at a (named "server") with config cfg. */
static void release_of(struct store *st, const char *root, const char *a, const char *cfg,
                       char rel[65], char **man)
{
	struct dbuild b = {0};
	char name[] = "server";
	struct dartifact art = {name, (char *)a};
	b.artifacts = &art;
	b.nartifacts = 1;
	struct err e = {0};
	CHECK(release_make(st, root, cfg, &b, rel, man, &e) == 0);
	err_clear(&e);
}

TEST(deploy_release_digest_covers_config_bytes_and_mode)
{
	char *d = tmpdir(), *cache = xasprintf("%s/cache", d), *a = xasprintf("%s/server", d);
	struct store *st = store_local_open(cache);
	CHECK(st != NULL);
	char *dotcairn = xasprintf("%s/.cairn", d);
	CHECK(fs_mkdir_p(dotcairn) == 0);
	free(dotcairn);
	char r1[65], r2[65], r3[65], r4[65], r5[65];
	char *m1, *m2, *m3, *m4, *m5;
	put(a, "v1\n", 0644);
	release_of(st, d, a, config, r1, &m1);
	release_of(st, d, a, config, r2, &m2);
	CHECK(!strcmp(r1, r2) && !strcmp(m1, m2)); /* the same inputs, the same release */
	struct stat sb;
	CHECK(stat(a, &sb) == 0 && (sb.st_mode & 0200) && sb.st_nlink == 1); /* still the user's */
	char *cfg2 = xasprintf("%sstage west\n", config);
	release_of(st, d, a, cfg2, r3, &m3);
	CHECK(strcmp(r1, r3) != 0 && !strcmp(m1, m3)); /* a configuration change is a release */
	put(a, "v2\n", 0644);
	release_of(st, d, a, config, r4, &m4);
	CHECK(strcmp(r1, r4) != 0);
	put(a, "v2\n", 0755);
	release_of(st, d, a, config, r5, &m5);
	CHECK(strcmp(r4, r5) != 0 && strstr(m5, " 755\n"));

	/* the manifest reads back; the release directory is made from the
	 * store alone, matches, and a change in it is seen */
	struct rfile *f;
	size_t n;
	CHECK(release_files(m1, &f, &n) == 0 && n == 1 && !strcmp(f[0].name, "server"));
	release_files_free(f, n);
	CHECK(release_files("server nothex 3 644\n", &f, &n) < 0);
	CHECK(release_files("../x 0000000000000000000000000000000000000000000000000000000000000000 3 644\n",
	                    &f, &n) < 0);
	unlink(a);
	struct err e = {0};
	char *rd = release_dir(st, d, r1, m1, &e);
	CHECK(rd != NULL);
	const char *why;
	CHECK(rd && release_matches(rd, m1, &why));
	char *copy = xasprintf("%s/copy", d);
	CHECK(rd && release_copy(rd, copy, m1) == 0 && release_matches(copy, m1, &why));
	char *extra = xasprintf("%s/extra", copy);
	put(extra, "x", 0644);
	CHECK(!release_matches(copy, m1, &why) && why && strstr(why, "added"));
	unlink(extra);
	char *srv = xasprintf("%s/server", copy);
	put(srv, "v9\n", 0644);
	CHECK(!release_matches(copy, m1, &why) && why && strstr(why, "bytes"));
	free(srv), free(extra), free(copy), free(rd);
	free(m1), free(m2), free(m3), free(m4), free(m5), free(cfg2);
	st->ops->close(st);
	fs_rm_rf(d);
	free(d), free(cache), free(a);
}

TEST(deploy_records_of_releases_rollouts_and_verdicts)
{
	char *d = tmpdir(), *p = xasprintf("%s/state.db", d);
	struct dstate *s;
	struct err e = {0};
	CHECK(dstate_open(p, &s, &e) == 0);
	char a[65], b[65], got[65];
	memset(a, 'a', 64), a[64] = 0;
	memset(b, 'a', 64), b[64] = 0, b[5] = 'b';
	CHECK(dstate_release_put(s, a, "//w:w", config, "m-a", "", "p-a", &e) == 0);
	CHECK(dstate_release_put(s, b, "//w:w", config, "m-b", "", "p-b", &e) == 0);
	CHECK(dstate_release_put(s, a, "//w:w", "other", "other", "", "", &e) == 0); /* once */
	char *prov = dstate_release_provenance(s, a);
	CHECK_STR(prov, "p-a");
	free(prov);
	char *cfg = NULL, *man = NULL;
	CHECK(dstate_release_get(s, "//w:w", "aaaa", got, &cfg, &man, &e) == 2); /* both */
	CHECK(dstate_release_get(s, "//w:w", "aaaaab", got, &cfg, &man, &e) == 0);
	CHECK(!strcmp(got, b) && !strcmp(man, "m-b") && !strcmp(cfg, config));
	free(cfg), free(man);
	CHECK(dstate_release_get(s, "//w:w", "aaaaaa", got, NULL, &man, &e) == 0 && !strcmp(man, "m-a"));
	free(man);
	CHECK(dstate_release_get(s, "//other:x", "aaaaaa", got, NULL, NULL, &e) == 1);
	CHECK(dstate_release_get(s, "//w:w", "zz", got, NULL, NULL, &e) == 1);

	/* a rollout changes canary to a, then b; what it changed is canary
	 * from nothing */
	int64_t ro, id;
	CHECK(dstate_rollout_begin(s, "//w:w", a, &ro, &e) == 0);
	struct dstep st = {.rollout = ro};
	strcpy(st.deployment, "//w:w");
	strcpy(st.stage, "canary");
	strcpy(st.to, a);
	strcpy(st.what, "apply");
	CHECK(dstate_step_begin(s, &st, &id, &e) == 0 && dstate_step_end(s, id, "ok", &e) == 0);
	CHECK(dstate_verdict(s, "//w:w", "canary", a, "passed", &e) == 0);
	strcpy(st.from, a);
	strcpy(st.to, b);
	CHECK(dstate_step_begin(s, &st, &id, &e) == 0 && dstate_step_end(s, id, "ok", &e) == 0);
	struct dstep *v;
	size_t n;
	CHECK(dstate_rollout_changed(s, ro, &v, &n, &e) == 0 && n == 1 && !strcmp(v[0].from, ""));
	free(v);
	CHECK(dstate_passed(s, "//w:w", "canary", a) && !dstate_passed(s, "//w:w", "canary", b));
	CHECK(dstate_previous(s, "//w:w", "canary", b, got, &e) == 0 && !strcmp(got, a));
	struct dstage_last last;
	CHECK(dstate_last(s, "//w:w", "canary", &last, &e) == 0 && !strcmp(last.release, b) &&
	      !strcmp(last.result, "ok") && !last.health[0]);
	struct drollout r;
	CHECK(dstate_rollout_open(s, "//w:w", &r, &e) == 1 && r.id == ro && !strcmp(r.state, "running"));
	CHECK(dstate_rollout_set(s, ro, "paused", "east", &e) == 0);
	CHECK(dstate_rollout_open(s, "//w:w", &r, &e) == 1 && !strcmp(r.stage, "east"));
	CHECK(dstate_rollout_set(s, ro, "done", NULL, &e) == 0);
	CHECK(dstate_rollout_open(s, "//w:w", &r, &e) == 0);

	/* roots: the stage's releases, newest first */
	struct droot *rv;
	CHECK(dstate_roots(s, &rv, &n, &e) == 0 && n == 2 && !strcmp(rv[0].release, b) &&
	      !strcmp(rv[1].release, a));
	free(rv);
	CHECK(dstate_deployment_put(s, "//w:w", config, &e) == 0);
	char **labels, **configs;
	CHECK(dstate_deployments(s, &labels, &configs, &n, &e) == 0 && n == 1 &&
	      !strcmp(labels[0], "//w:w") && !labels[1]);
	strv_free(labels);
	strv_free(configs);
	dstate_close(s);
	err_clear(&e);
	fs_rm_rf(d);
	free(d), free(p);
}
