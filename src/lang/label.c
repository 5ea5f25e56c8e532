/* label: parsing. Package and name rules follow Bazel's spirit: no empty
 * or dot components, no absolute paths, a conservative character set, so
 * a label always maps to a path inside the workspace. */
#include "lang/label.h"
#include "util/util.h"
#include <stdlib.h>
#include <string.h>

static int path_chars_ok(const char *s, int allow_space)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("_-.+/@=,~#", *p))
			continue;
		if (allow_space && *p == ' ')
			continue;
		return 0;
	}
	return 1;
}


int label_check_pkg(const char *pkg, const char **why)
{
	if (!*pkg)
		return 0;
	if (!path_chars_ok(pkg, 0)) {
		*why = "package name has a character that is not allowed";
		return -1;
	}
	if (!path_components_ok(pkg)) {
		*why = "package name has an empty, '.' or '..' component";
		return -1;
	}
	return 0;
}

int label_check_name(const char *name, const char **why)
{
	if (!*name) {
		*why = "empty target name";
		return -1;
	}
	if (!path_chars_ok(name, 1)) {
		*why = "target name has a character that is not allowed";
		return -1;
	}
	if (!path_components_ok(name)) {
		*why = "target name has an empty, '.' or '..' component";
		return -1;
	}
	return 0;
}

int label_parse(const char *s, const char *cur, struct label *out, const char **why)
{
	out->pkg = out->name = NULL;
	const char *colon = strchr(s, ':');
	if (colon && strchr(colon + 1, ':')) {
		*why = "more than one ':'";
		return -1;
	}
	if (s[0] == '/' && s[1] == '/') {
		const char *p = s + 2;
		size_t plen = colon ? (size_t)(colon - p) : strlen(p);
		out->pkg = xstrndup(p, plen);
		if (colon)
			out->name = xstrdup(colon + 1);
		else {
			const char *last = strrchr(out->pkg, '/');
			if (!*out->pkg) {
				*why = "the root package needs a target name (//:name)";
				goto fail;
			}
			out->name = xstrdup(last ? last + 1 : out->pkg);
		}
	} else if (s[0] == '/') {
		*why = "a label starts with // or :";
		return -1;
	} else {
		if (!cur) {
			*why = "not an absolute label (//pkg:name)";
			return -1;
		}
		if (colon && colon != s) {
			*why = "a label starts with // or :";
			return -1;
		}
		out->pkg = xstrdup(cur);
		out->name = xstrdup(colon ? colon + 1 : s);
	}
	if (label_check_pkg(out->pkg, why) < 0 || label_check_name(out->name, why) < 0)
		goto fail;
	return 0;
fail:
	label_free(out);
	return -1;
}

char *label_str(const struct label *l)
{
	return xasprintf("//%s:%s", l->pkg, l->name);
}

void label_free(struct label *l)
{
	free(l->pkg);
	free(l->name);
	l->pkg = l->name = NULL;
}

int pattern_parse(const char *s, struct pattern *out, const char **why)
{
	memset(out, 0, sizeof *out);
	if (strncmp(s, "//", 2) != 0) {
		*why = "a pattern starts with //";
		return -1;
	}
	size_t n = strlen(s);
	if (n >= 5 && strcmp(s + n - 3, "...") == 0 && (n == 5 || s[n - 4] == '/')) {
		out->kind = PAT_RECURSIVE;
		out->label.pkg = xstrndup(s + 2, n == 5 ? 0 : n - 6);
		if (label_check_pkg(out->label.pkg, why) < 0)
			goto fail;
		return 0;
	}
	if (n >= 3 && strcmp(s + n - 3, "...") == 0) {
		*why = "'...' must follow a '/' (//pkg/...)";
		return -1;
	}
	const char *colon = strchr(s, ':');
	if (colon && (!strcmp(colon, ":all") || !strcmp(colon, ":*"))) {
		out->kind = PAT_PACKAGE;
		out->label.pkg = xstrndup(s + 2, (size_t)(colon - s - 2));
		if (label_check_pkg(out->label.pkg, why) < 0)
			goto fail;
		return 0;
	}
	out->kind = PAT_TARGET;
	return label_parse(s, NULL, &out->label, why);
fail:
	pattern_free(out);
	return -1;
}

void pattern_free(struct pattern *p)
{
	label_free(&p->label);
}
