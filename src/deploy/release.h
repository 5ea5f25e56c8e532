/* deploy/release: what a release is. Its digest covers the deployment's
 * configuration and every artifact's name, content and mode, so a change
 * of either is a new release, and a rollback takes both back. Its
 * manifest, one line "NAME DIGEST SIZE MODE" per artifact, is kept in the
 * state store; its bytes are kept in the content store (GC roots), and a
 * copy made from there, .cairn/releases/<digest>/, is what providers
 * read: immutable, the same bytes wherever it goes. */
#ifndef CAIRN_DEPLOY_RELEASE_H
#define CAIRN_DEPLOY_RELEASE_H
#include "deploy/config.h"
#include "store/store.h"
#include "util/err.h"
#include "util/sha.h"

struct rfile {
	char *name;
	struct digest d;
	uint64_t size;
	unsigned mode;
};

/* The release of config and the built artifacts (paths relative to the
 * workspace root, the cwd): their bytes put in the store (a source file's
 * through a copy in root/.cairn), rel (hex) and *manifest (fresh) filled.
 * 0, or -1 with *e. */
int release_make(struct store *st, const char *root, const char *config, const struct dbuild *b,
                 char rel[65], char **manifest, struct err *e);
/* Parse a manifest into a fresh *v of *n. 0, or -1 (not one). */
int release_files(const char *manifest, struct rfile **v, size_t *n);
void release_files_free(struct rfile *v, size_t n);
/* .cairn/releases/<rel>, made from the store when missing (temp dir, then
 * rename). The directory (fresh, absolute), or NULL with *e. */
char *release_dir(struct store *st, const char *root, const char *rel, const char *manifest,
                  struct err *e);
/* Does the directory hold exactly the manifest's files (names, bytes,
 * modes' executable bit)? 1, 0, or 0 with *why (static) saying what differs. */
int release_matches(const char *dir, const char *manifest, const char **why);
/* Copy the manifest's files from src into dst (made; fresh files). 0 or -1 (errno). */
int release_copy(const char *src, const char *dst, const char *manifest);

#endif
