/* reapi: the Remote Execution API v2 messages that describe one action
 * (Command, the input root as a Merkle tree of Directory messages, Action)
 * in their canonical binary encoding, and their digests. The Action's
 * digest is what any REAPI cache or executor calls the action; it is meant
 * to become cairn's action key. See reapi.c for the canonical form. */
#ifndef CAIRN_REAPI_H
#define CAIRN_REAPI_H
#include "util/err.h"
#include "util/sha.h"
#include <stddef.h>
#include <stdint.h>

/* A REAPI Digest: the SHA-256 of a blob and its length. */
struct reapi_digest {
	struct digest hash; /* SHA-256 of the bytes */
	uint64_t size;      /* their length */
};

/* One file of the input root. */
struct reapi_input {
	const char *path;        /* relative, '/'-separated, canonical; not owned */
	struct reapi_digest d;   /* its content's digest and size */
	int exec;                /* nonzero: the executable bit is set */
};

/* What cairn knows of an action. Lists come in any order: reapi_build
 * sorts what the protocol wants sorted. Nothing is owned. */
struct reapi_spec {
	const char *const *argv;    /* arguments, argv[0] the program */
	size_t argc;
	const char *const *env;     /* "NAME=VALUE", names unique */
	size_t nenv;
	const char *const *outputs; /* output paths (relative; duplicates merged) */
	size_t noutputs;
	const char *const *props;   /* platform properties "name=value" */
	size_t nprops;
	const struct reapi_input *in; /* the input files, paths unique */
	size_t nin;
	uint64_t timeout_ms;        /* Action.timeout; 0: none */
	int do_not_cache;           /* Action.do_not_cache */
	const void *salt;           /* Action.salt (e.g. cairn's key version) */
	size_t salt_len;            /* 0: no salt */
};

enum reapi_kind {
	REAPI_COMMAND,
	REAPI_DIRECTORY,
	REAPI_ACTION,
};

/* One encoded message, as it goes into a CAS under its digest. */
struct reapi_blob {
	enum reapi_kind kind;
	struct reapi_digest d;  /* d.size is the length of p */
	const unsigned char *p; /* the bytes; owned by the builder */
};

/* The result of reapi_build. Everything points into the builder and stays
 * valid until its next build or its free. */
struct reapi_action {
	struct reapi_digest action;     /* the Action's digest: the key */
	struct reapi_digest command;    /* the Command's */
	struct reapi_digest input_root; /* the root Directory's */
	const struct reapi_blob *blobs; /* the Command, then every Directory
	                                 * (children before their parent, the
	                                 * root last), then the Action; a
	                                 * directory that occurs twice in the
	                                 * tree is listed twice */
	size_t nblobs;
};

/* A builder keeps its memory from one build to the next, so that keying
 * thousands of actions allocates almost nothing. One per thread. */
struct reapi_builder;

struct reapi_builder *reapi_builder_new(void);
void reapi_builder_free(struct reapi_builder *b);

/* Encode s's Command, input root and Action into *out. An input or output
 * path that is empty, absolute, or has an empty, "." or ".." segment; an
 * input path given twice, or both a file and a directory; an environment
 * variable set twice; an env entry or property without '=': -1 and *e
 * (ERR_INPUT), and *out holds nothing. */
int reapi_build(struct reapi_builder *b, const struct reapi_spec *s, struct reapi_action *out,
                struct err *e);

/* The digest of n bytes. */
void reapi_digest_of(const void *p, size_t n, struct reapi_digest *d);

/* "HASH/SIZE", as in ByteStream resource names, into out (NUL-terminated). */
#define REAPI_DIGEST_STR 86
void reapi_digest_str(const struct reapi_digest *d, char out[REAPI_DIGEST_STR]);

#endif
