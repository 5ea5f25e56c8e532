/* deploy/roots: the GC roots of a workspace's releases (roots.h). */
#include "deploy/roots.h"
#include "deploy/config.h"
#include "deploy/release.h"
#include "util/fs.h"
#include "util/sha.h"
#include "util/str.h"
#include "util/util.h"
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

/* keep of deployment, from its last configuration (10 when unknown). */
static int keep_of(char **labels, char **configs, size_t n, const char *deployment)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(labels[i], deployment))
			continue;
		struct dconfig c;
		struct err e = {0};
		if (dconfig_parse(configs[i], deployment, &c, &e) < 0) {
			err_clear(&e);
			return 10;
		}
		int k = c.keep > 0 ? c.keep : 10;
		dconfig_free(&c);
		return k;
	}
	return 10;
}

int roots_write(struct dstate *st, const char *root, const char *cache_dir, struct err *e)
{
	struct droot *v;
	size_t n, nd;
	char **labels, **configs;
	if (dstate_roots(st, &v, &n, e) < 0)
		return -1;
	if (dstate_deployments(st, &labels, &configs, &nd, e) < 0) {
		free(v);
		return -1;
	}
	struct buf out = {0}, kept = {0};
	/* first line: whose roots these are; gc drops the file once that
	 * workspace has no state.db any more */
	buf_printf(&out, "workspace %s\n", root);
	int rank = 0, keep = 10;
	for (size_t i = 0; i < n; i++) {
		int first = i == 0 || strcmp(v[i].deployment, v[i - 1].deployment) ||
		            strcmp(v[i].stage, v[i - 1].stage);
		if (first) {
			rank = 0;
			keep = keep_of(labels, configs, nd, v[i].deployment);
		}
		if (rank++ >= keep)
			continue;
		char rel[65], *manifest = NULL;
		if (dstate_release_get(st, v[i].deployment, v[i].release, rel, NULL, &manifest, e) != 0) {
			err_clear(e);
			continue;
		}
		buf_printf(&kept, "%s\n", rel);
		struct rfile *f;
		size_t nf;
		if (release_files(manifest, &f, &nf) == 0) {
			for (size_t k = 0; k < nf; k++) {
				char hex[65];
				digest_hex(&f[k].d, hex);
				buf_printf(&out, "%s\n", hex);
			}
			release_files_free(f, nf);
		}
		free(manifest);
	}
	free(v);
	strv_free(labels);
	strv_free(configs);
	/* the file is named by the workspace, so workspaces sharing the cache
	 * keep each other's roots */
	struct digest d;
	char hex[65];
	sha_buf(root, strlen(root), &d);
	digest_hex(&d, hex);
	char *dir = xasprintf("%s/roots", cache_dir), *path = xasprintf("%s/%.16s", dir, hex);
	int rc = 0;
	if (fs_mkdir_p(dir) < 0 || fs_write_atomic(path, out.s, out.len, 0644) < 0)
		rc = err_sys(e, "cannot write %s", path);
	/* release directories no stage keeps */
	char *rdir = xasprintf("%s/.cairn/releases", root);
	DIR *dd = rc == 0 ? opendir(rdir) : NULL;
	for (struct dirent *de; dd && (de = readdir(dd));) {
		if (strlen(de->d_name) != 64 || (kept.s && strstr(kept.s, de->d_name)))
			continue;
		char *p = xasprintf("%s/%s", rdir, de->d_name);
		fs_rm_rf(p);
		free(p);
	}
	if (dd)
		closedir(dd);
	free(rdir);
	free(dir);
	free(path);
	buf_free(&out);
	buf_free(&kept);
	return rc;
}
