/* config: the workspace's C compiler, chosen at the first configure and
 * kept in .cairn/config:
 *   cairn-config 1
 *   env <the $CC it was configured from>
 *   cc <absolute path>
 *   stat <size> <mtime_ns> <ino>
 *   id <hex SHA-256 of the path and its --version output>
 * Written by temp + rename. The compiler is looked at again (its --version
 * run) only when its stat data changes or $CC names another one; a file
 * that does not parse is configured afresh. */
#include "cli/cmds.h"
#include "exec/runner.h"
#include "util/fs.h"
#include "util/sha.h"
#include "util/str.h"
#include "util/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *find_in_path(const char *name)
{
	char *p = fs_which(name, getenv("PATH"));
	if (!p || p[0] == '/')
		return p;
	char *abs = realpath(p, NULL); /* a relative $CC: pin it down */
	free(p);
	return abs;
}

/* SHA-256 of the path and what `path --version` prints, run through the
 * local runner like any action (a compiler wrapper that hangs must not
 * hang every command: 20 s at most). NULL when it fails; *why is then set
 * when there was no runner to ask with (else the compiler did not answer). */
static char *identify(const char *path, char **why)
{
	const char *argv[] = {path, "--version", NULL};
	struct job j = {.argv = argv, .envp = (const char *const *)environ, .timeout_ms = 20000};
	struct job_done d = {0};
	struct err e = {0};
	struct runner *r = runner_local_new();
	if (!r) {
		*why = xasprintf("cannot run the C compiler '%s': cannot start the local runner: %s",
		                 path, strerror(errno));
		return NULL;
	}
	int rc = runner_run(r, &j, &d, &e);
	r->free(r);
	err_clear(&e);
	char *hex = NULL;
	if (rc == 0 && d.exit_code == 0 && !d.timed_out) {
		struct buf b = {0};
		buf_printf(&b, "%s\n", path);
		buf_putn(&b, d.output, d.outlen);
		struct digest dg;
		sha_buf(b.s, b.len, &dg);
		hex = xmalloc(65);
		digest_hex(&dg, hex);
		buf_free(&b);
	}
	free(d.output);
	return hex;
}

void cc_configure(struct cc_state *cs)
{
	memset(cs, 0, sizeof *cs);
	const char *want = getenv("CC");
	if (!want || !*want)
		want = NULL;
	struct buf b = {0};
	char env[1024] = "", cc[4096] = "", id[128] = "";
	unsigned long long size = 0, ino = 0;
	long long mtime = 0;
	int have = 0;
	if (fs_read_all(".cairn/config", &b) == 0 &&
	    sscanf(b.s, "cairn-config 1\nenv %1023[^\n]\ncc %4095[^\n]\nstat %llu %lld %llu\nid %127s",
	           env, cc, &size, &mtime, &ino, id) == 6)
		have = 1;
	buf_free(&b);
	const char *from = want ? want : (have ? env : "cc");
	if (have && !strcmp(from, env)) {
		struct stat st;
		if (stat(cc, &st) == 0 && (unsigned long long)st.st_size == size &&
		    (long long)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec == mtime &&
		    (unsigned long long)st.st_ino == ino) {
			cs->path = xstrdup(cc);
			cs->id = xstrdup(id);
			goto done;
		}
	}
	cs->path = find_in_path(from);
	if (!cs->path) {
		cs->error = xasprintf("the C compiler '%s' (from %s) was not found", from,
		                      want ? "$CC" : "the default, cc");
		goto done;
	}
	char *why = NULL;
	cs->id = identify(cs->path, &why);
	if (!cs->id) {
		cs->error = why ? why
		                : xasprintf("the C compiler '%s' did not answer --version", cs->path);
		free(cs->path);
		cs->path = NULL;
		goto done;
	}
	struct stat st;
	if (stat(cs->path, &st) == 0) {
		char *text = xasprintf("cairn-config 1\nenv %s\ncc %s\nstat %llu %lld %llu\nid %s\n", from,
		                       cs->path, (unsigned long long)st.st_size,
		                       (long long)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
		                       (unsigned long long)st.st_ino, cs->id);
		if (fs_mkdir_p(".cairn") < 0 || fs_write_atomic(".cairn/config", text, strlen(text), 0644) < 0)
			warn("cannot write .cairn/config:");
		free(text);
	}
done:
	cs->cfg.path = cs->path;
	cs->cfg.id = cs->id;
	cs->cfg.error = cs->error;
}

void cc_state_free(struct cc_state *cs)
{
	free(cs->path);
	free(cs->id);
	free(cs->error);
}
