/* deploy/release: a release's digest, manifest and directory (release.h). */
#include "deploy/release.h"
#include "util/fs.h"
#include "util/str.h"
#include "util/util.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int release_make(struct store *st, const char *root, const char *config, const struct dbuild *b,
                 char rel[65], char **manifest, struct err *e)
{
	struct buf m = {0};
	for (size_t i = 0; i < b->nartifacts; i++) {
		const struct dartifact *a = &b->artifacts[i];
		struct stat sb;
		struct digest d;
		uint64_t size;
		/* the store may take a file it is given as the blob itself (made
		 * read-only and linked in): an output is the store's already, but
		 * a source file stays the user's, so a copy of it goes in */
		int source = strncmp(a->path, "cairn-out/", 10) != 0;
		char *tmp = source ? xasprintf("%s/.cairn/release-artifact.%ld", root, (long)getpid()) : NULL;
		int rc = stat(a->path, &sb);
		if (rc == 0 && source)
			rc = fs_copy_atomic(a->path, tmp, sb.st_mode & 0777, NULL, NULL);
		if (rc == 0)
			rc = st->ops->put_file(st, source ? tmp : a->path, &d, &size);
		if (tmp) {
			unlink(tmp);
			free(tmp);
		}
		if (rc < 0) {
			buf_free(&m);
			return err_sys(e, "cannot store artifact %s", a->path);
		}
		char hex[65];
		digest_hex(&d, hex);
		buf_printf(&m, "%s %s %llu %o\n", a->name, hex, (unsigned long long)size,
		           (sb.st_mode & 0111) ? 0755u : 0644u);
	}
	/* the digest: a version, the configuration, then the manifest, each
	 * with its length so no two pairs of texts run together the same */
	struct sha_ctx *c = sha_new();
	char head[64];
	int n = snprintf(head, sizeof head, "cairn release 1\n%zu\n", strlen(config));
	sha_update(c, head, (size_t)n);
	sha_update(c, config, strlen(config));
	n = snprintf(head, sizeof head, "%zu\n", m.len);
	sha_update(c, head, (size_t)n);
	sha_update(c, m.s ? m.s : "", m.len);
	struct digest d;
	sha_final(c, &d);
	digest_hex(&d, rel);
	*manifest = m.s ? buf_take(&m) : xstrdup("");
	return 0;
}

int release_files(const char *manifest, struct rfile **v, size_t *n)
{
	*v = NULL;
	*n = 0;
	size_t cap = 0;
	for (const char *p = manifest; *p;) {
		const char *end = strchr(p, '\n');
		if (!end)
			goto bad;
		char name[256], hex[65];
		unsigned long long size;
		unsigned mode;
		char *line = xstrndup(p, (size_t)(end - p));
		int ok = sscanf(line, "%255s %64s %llu %o", name, hex, &size, &mode) == 4;
		free(line);
		struct digest d;
		if (!ok || digest_parse(hex, &d) < 0 || strchr(name, '/') || !strcmp(name, ".") ||
		    !strcmp(name, ".."))
			goto bad;
		vec_reserve(v, &cap, *n + 1, sizeof **v);
		(*v)[(*n)++] = (struct rfile){xstrdup(name), d, size, mode & 0777};
		p = end + 1;
	}
	return 0;
bad:
	release_files_free(*v, *n);
	*v = NULL;
	*n = 0;
	return -1;
}

void release_files_free(struct rfile *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

char *release_dir(struct store *st, const char *root, const char *rel, const char *manifest,
                  struct err *e)
{
	char *dir = xasprintf("%s/.cairn/releases/%s", root, rel);
	struct stat sb;
	if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
		return dir;
	struct rfile *f;
	size_t n;
	if (release_files(manifest, &f, &n) < 0) {
		err_input(e, NULL, "release %.12s: its manifest in the state store is damaged", rel);
		free(dir);
		return NULL;
	}
	char *tmp = xasprintf("%s.tmp.%ld", dir, (long)getpid());
	fs_rm_rf(tmp);
	int rc = fs_mkdir_p(tmp);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *dst = xasprintf("%s/%s", tmp, f[i].name);
		/* read-only: a release never changes once made */
		rc = st->ops->get_file(st, &f[i].d, dst, (f[i].mode & 0111) ? 0555 : 0444);
		if (rc < 0) {
			char hex[65];
			digest_hex(&f[i].d, hex);
			err_input(e, NULL,
			          "release %.12s: the bytes of %s (%.12s) are not in the store any more",
			          rel, f[i].name, hex);
		}
		free(dst);
	}
	if (rc == 0 && rename(tmp, dir) < 0 && errno != ENOTEMPTY && errno != EEXIST)
		rc = err_sys(e, "cannot make %s", dir);
	if (rc < 0) {
		if (!e->msg)
			err_sys(e, "cannot make %s", dir);
		fs_rm_rf(tmp);
		free(dir);
		dir = NULL;
	}
	fs_rm_rf(tmp); /* another process made it first */
	free(tmp);
	release_files_free(f, n);
	return dir;
}

int release_matches(const char *dir, const char *manifest, const char **why)
{
	struct rfile *f;
	size_t n;
	*why = NULL;
	if (release_files(manifest, &f, &n) < 0) {
		*why = "its manifest is damaged";
		return 0;
	}
	int ok = 1;
	for (size_t i = 0; i < n && ok; i++) {
		char *p = xasprintf("%s/%s", dir, f[i].name);
		struct digest d;
		uint64_t size;
		struct stat sb;
		if (lstat(p, &sb) < 0 || !S_ISREG(sb.st_mode)) {
			ok = 0, *why = "a file is missing";
		} else if (sha_file(p, &d, &size) < 0 || !digest_eq(&d, &f[i].d)) {
			ok = 0, *why = "a file's bytes changed";
		} else if (((sb.st_mode & 0111) != 0) != ((f[i].mode & 0111) != 0)) {
			ok = 0, *why = "a file's mode changed";
		}
		free(p);
	}
	/* nothing more than the manifest's files */
	DIR *d = ok ? opendir(dir) : NULL;
	if (ok && !d)
		ok = 0, *why = "it cannot be read";
	for (struct dirent *de; d && ok && (de = readdir(d));) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		size_t i = 0;
		while (i < n && strcmp(f[i].name, de->d_name))
			i++;
		if (i == n)
			ok = 0, *why = "a file was added";
	}
	if (d)
		closedir(d);
	release_files_free(f, n);
	return ok;
}

int release_copy(const char *src, const char *dst, const char *manifest)
{
	struct rfile *f;
	size_t n;
	if (release_files(manifest, &f, &n) < 0)
		return errno = EINVAL, -1;
	int rc = fs_mkdir_p(dst);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *a = xasprintf("%s/%s", src, f[i].name), *b = xasprintf("%s/%s", dst, f[i].name);
		rc = fs_copy_atomic(a, b, f[i].mode, NULL, &f[i].d);
		free(a);
		free(b);
	}
	release_files_free(f, n);
	return rc;
}
