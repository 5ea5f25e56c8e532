/* label: parsing of target labels and command-line patterns.
 *   //pkg/path:name   //pkg/path (= //pkg/path:path)   :name (same package)
 *   name or sub/file.c (a file of the current package, in lists of sources)
 * Patterns: //...  //pkg/...  //pkg:all  //pkg:*  or a label. */
#ifndef CAIRN_LABEL_H
#define CAIRN_LABEL_H

struct label {
	char *pkg;  /* package path, "" for the root package; owned */
	char *name; /* target or file name within the package; owned */
};

enum pattern_kind {
	PAT_TARGET,    /* one label */
	PAT_PACKAGE,   /* every target of pkg (//pkg:all) */
	PAT_RECURSIVE, /* every target of pkg and the packages below (//pkg/...) */
};

struct pattern {
	enum pattern_kind kind;
	struct label label; /* for PAT_PACKAGE and PAT_RECURSIVE only pkg is set */
};

/* Parse s relative to package `cur` (NULL: only absolute labels allowed).
 * 0, or -1 with *why set to a static reason. */
int label_parse(const char *s, const char *cur, struct label *out, const char **why);
/* Check a package path ("" is the root). 0 or -1 with *why. */
int label_check_pkg(const char *pkg, const char **why);
/* Check a target or file name. 0 or -1 with *why. */
int label_check_name(const char *name, const char **why);
/* "//pkg:name" in a fresh string. */
char *label_str(const struct label *l);
void label_free(struct label *l);

int pattern_parse(const char *s, struct pattern *out, const char **why);
void pattern_free(struct pattern *p);

#endif
