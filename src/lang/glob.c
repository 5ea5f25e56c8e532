/* glob: files of a package matching patterns, and the packages below a
 * directory. Walks never enter a sub-package (a directory holding
 * BUILD.lua), cairn-out, or a hidden directory; symlinks to directories
 * are not followed. Results are sorted, so evaluation is deterministic. */
#include "lang/eval_int.h"
#include "util/fs.h"
#include "util/util.h"
#include <dirent.h>
#include <fnmatch.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct strv {
	char **v;
	size_t n, cap;
};

int is_pkg_dir(const char *dir)
{
	struct stat st;
	char *p = xasprintf("%s/BUILD.lua", dir);
	int r = stat(p, &st) == 0 && S_ISREG(st.st_mode);
	free(p);
	return r;
}


/* Collect regular files below dir (paths relative to the package). */
static void walk_files(struct eval *ev, const char *dir, const char *rel, struct strv *out)
{
	eval_note(ev, dir, DEP_LIST);
	DIR *d = opendir(*dir ? dir : ".");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *full = *dir ? xasprintf("%s/%s", dir, e->d_name) : xstrdup(e->d_name);
		char *r = *rel ? xasprintf("%s/%s", rel, e->d_name) : xstrdup(e->d_name);
		struct stat st;
		if (lstat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
			char *bf = xasprintf("%s/BUILD.lua", full);
			eval_note(ev, bf, DEP_EXISTS);
			free(bf);
			if (!fs_skip_dir(dir, e->d_name) && !is_pkg_dir(full))
				walk_files(ev, full, r, out);
			free(r);
		} else if (stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
			VEC_PUSH(out->v, out->n, out->cap, r);
		} else {
			free(r);
		}
		free(full);
	}
	closedir(d);
}

/* Match path segments against pattern segments; "**" spans any number. */
static int match_segs(char **pat, size_t np, char **seg, size_t ns)
{
	if (np == 0)
		return ns == 0;
	if (strcmp(pat[0], "**") == 0) {
		for (size_t k = 0; k <= ns; k++)
			if (match_segs(pat + 1, np - 1, seg + k, ns - k))
				return 1;
		return 0;
	}
	if (ns == 0 || fnmatch(pat[0], seg[0], FNM_PERIOD) != 0)
		return 0;
	return match_segs(pat + 1, np - 1, seg + 1, ns - 1);
}

static size_t split(char *s, char **segs, size_t max)
{
	size_t n = 0;
	for (char *tok = strtok(s, "/"); tok && n < max; tok = strtok(NULL, "/"))
		segs[n++] = tok;
	return n;
}

static int match_any(const char *path, const char **pats, size_t np)
{
	enum { MAXSEG = 128 };
	char *pc = xstrdup(path);
	char *segs[MAXSEG];
	size_t ns = split(pc, segs, MAXSEG);
	int hit = 0;
	for (size_t i = 0; i < np && !hit; i++) {
		char *pp = xstrdup(pats[i]);
		char *psegs[MAXSEG];
		size_t n = split(pp, psegs, MAXSEG);
		hit = match_segs(psegs, n, segs, ns);
		free(pp);
	}
	free(pc);
	return hit;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int package_exists(const char *pkg)
{
	/* inside cairn-out or a hidden directory: never a package, whatever
	 * it holds (the walks do not enter those either) */
	char *p = xstrdup(pkg);
	const char *parent = "";
	int ok = 1;
	for (char *c = p, *slash; ok && *c; c = slash + 1) {
		slash = strchr(c, '/');
		if (slash)
			*slash = 0;
		ok = !fs_skip_dir(parent, c);
		parent = c; /* only its emptiness matters to fs_skip_dir */
		if (!slash)
			break;
	}
	free(p);
	return ok && is_pkg_dir(*pkg ? pkg : ".");
}

int glob_push(lua_State *L, struct eval *ev, const char *pkg, const char **inc, size_t ninc,
              const char **exc, size_t nexc)
{
	struct strv all = {0};
	walk_files(ev, pkg, "", &all);
	xqsort(all.v, all.n, sizeof *all.v, cmp_str);
	lua_createtable(L, 0, 0);
	lua_Integer k = 0;
	for (size_t i = 0; i < all.n; i++) {
		const char *p = all.v[i];
		if (match_any(p, inc, ninc) && !match_any(p, exc, nexc)) {
			lua_pushstring(L, p);
			lua_rawseti(L, -2, ++k);
		}
		free(all.v[i]);
	}
	free(all.v);
	return 1;
}

static void walk_pkgs(struct eval *ev, const char *dir, struct strv *out)
{
	eval_note(ev, dir, DEP_PKGLIST);
	if (is_pkg_dir(*dir ? dir : "."))
		VEC_PUSH(out->v, out->n, out->cap, xstrdup(dir));
	DIR *d = opendir(*dir ? dir : ".");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || fs_skip_dir(dir, e->d_name))
			continue;
		char *full = *dir ? xasprintf("%s/%s", dir, e->d_name) : xstrdup(e->d_name);
		struct stat st;
		if (lstat(full, &st) == 0 && S_ISDIR(st.st_mode))
			walk_pkgs(ev, full, out);
		free(full);
	}
	closedir(d);
}

int packages_push(lua_State *L, struct eval *ev, const char *pkg)
{
	struct strv all = {0};
	struct stat st;
	if (!*pkg || (stat(pkg, &st) == 0 && S_ISDIR(st.st_mode)))
		walk_pkgs(ev, pkg, &all);
	xqsort(all.v, all.n, sizeof *all.v, cmp_str);
	lua_createtable(L, (int)all.n, 0);
	for (size_t i = 0; i < all.n; i++) {
		lua_pushstring(L, all.v[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
		free(all.v[i]);
	}
	free(all.v);
	return 1;
}
