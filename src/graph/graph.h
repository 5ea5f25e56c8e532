/* graph: the action graph. Files are nodes; an action reads input files and
 * writes output files. A file with no producer is a source. Everything
 * lives in the graph's arena and is freed at once by graph_free.
 *
 * Invariants once graph_check has passed for the wanted actions:
 *  - every file has at most one producer (no duplicate outputs);
 *  - following producer edges from a wanted action never loops. */
#ifndef CAIRN_GRAPH_H
#define CAIRN_GRAPH_H
#include "util/arena.h"
#include "util/err.h"
#include "util/map.h"
#include <stddef.h>
#include <stdint.h>

struct action;

struct gfile {
	const char *path;         /* workspace-relative */
	struct action *producer;  /* NULL for a source file */
	uint32_t id;              /* index in graph.files */
};

enum action_flags {
	ACT_NO_SANDBOX = 1,       /* tags = { "no-sandbox" } */
	ACT_NETWORK = 2,          /* tags = { "requires-network" } */
	ACT_TEST = 4,             /* runs a test: outputs are its .log and .xml */
	ACT_FLAKY = 8,            /* a test that may be retried (flaky = true) */
	ACT_NO_REMOTE = 16,       /* tags = { "no-remote" } or { "local" }: runs
	                             here even with a remote executor */
};

/* A test target `cairn test` runs: its shards are the actions writing
 * <base>.log/.xml (one shard) or <base>.shard_I_of_N.log/.xml. */
struct test_target {
	const char *label;
	const char *base;         /* "cairn-out/pkg/name" */
	int shards;
};

struct action {
	uint32_t id;              /* index in graph.actions */
	const char *label;        /* owning target, "//pkg:name" */
	const char *mnemonic;     /* "Genrule", "Stamp", ... */
	const char *progress;     /* what the status line shows, or NULL */
	const char *where;        /* "pkg/BUILD.lua:LINE" of the target */
	const char **argv;        /* argc strings */
	size_t argc;
	const char **env;         /* "KEY=VALUE", sorted by key */
	size_t nenv;
	struct gfile **inputs;    /* sorted by path, no duplicates */
	size_t ninputs;
	unsigned char *prunable;  /* per input: 1 if the depfile may leave it out
	                             of the key (a header of a compile) */
	const char *depfile;      /* written by the action (one of its outputs):
	                             the inputs it really read, or NULL */
	struct gfile **outputs;   /* sorted by path; at least one */
	size_t noutputs;
	unsigned flags;           /* enum action_flags */
	int wanted;               /* needed by the current request */
};

/* A deployment a deploy request analyzed (lang/rules_deploy.lua says what
 * its two texts hold; src/deploy/config.c reads them). */
struct deploy_def {
	const char *label;
	const char *config;       /* what its releases are made of */
	const char *build;        /* where it is, its artifacts' paths, its health
	                             check and required tests */
};

struct graph {
	struct arena arena;       /* owns every string and array below */
	struct action **actions;
	size_t nactions, capactions;
	struct gfile **files;
	size_t nfiles, capfiles;
	struct map by_path;       /* path -> struct gfile; holds files[0..indexed) */
	size_t indexed;
	struct map words;         /* short strings of actions, kept once */
	struct gfile **requested; /* files the user asked for */
	size_t nrequested, caprequested;
	struct test_target *tests; /* tests to run, in request order */
	size_t ntests, captests;
	struct deploy_def *deploys; /* in analysis order: deps first */
	size_t ndeploys, capdeploys;
};

/* The file node for path, created on first use. */
struct gfile *graph_file(struct graph *g, const char *path);
/* The file node for path, or NULL. */
struct gfile *graph_find(struct graph *g, const char *path);
/* A new file node for n bytes at path, known not to be in g yet (a
 * snapshot's files are distinct): no index lookup until one is needed. */
struct gfile *graph_add_file(struct graph *g, const char *path, size_t n);

/* What a rule hands over for one action; the graph copies all of it. */
struct action_spec {
	const char *label, *mnemonic, *progress, *where;
	const char **argv;
	size_t argc;
	const char **env; /* "K=V" */
	size_t nenv;
	const char **inputs;
	size_t ninputs;
	const char **pinputs;     /* prunable inputs (see struct action) */
	size_t npinputs;
	const char *depfile;
	const char **outputs;
	size_t noutputs;
	unsigned flags;
};

/* Add an action. Fails (user error) on an output already produced by
 * another action, naming both. */
struct action *graph_add_action(struct graph *g, const struct action_spec *s, struct err *e);
/* Add a test target (strings copied). */
void graph_add_test(struct graph *g, const char *label, const char *base, int shards);
/* Add a deployment (strings copied). */
void graph_add_deploy(struct graph *g, const char *label, const char *config, const char *build);
/* Mark a file as asked for by the user. */
void graph_request(struct graph *g, struct gfile *f);
/* Mark the producers of requested files, transitively, as wanted, and
 * check that part for cycles (printed as a path of labels). */
int graph_check(struct graph *g, struct err *e);

/* The index of path among a's inputs (sorted by path), or -1. */
long action_input_index(const struct action *a, const char *path);
/* Is path an input of a that no depfile may leave out (not prunable)? */
int action_fixed_input(const struct action *a, const char *path);
void graph_free(struct graph *g);

#endif
