/* ui: what a person sees during a build: the status line on a terminal,
 * a line per executed action elsewhere, failures with their command and
 * output (printed once, whole), --explain reasons, and --events and
 * --profile files. It is the scheduler's observer. */
#ifndef CAIRN_UI_H
#define CAIRN_UI_H
#include "exec/sched.h"
#include <stdio.h>

struct ui {
	int tty;            /* stdout is a terminal: rewrite one status line */
	int color;          /* use ANSI colors */
	int explain, verbose, plan;
	int line_dirty;     /* a status line is on screen */
	FILE *events;       /* --events, or NULL */
	struct trace *trace; /* --profile, or NULL */
	uint64_t t0;        /* start of the command, ns */
	const char *test_output; /* --test_output, NULL = errors */
	struct test_row *rows;   /* one per test action finished */
	size_t nrows, caprows;
	int remote;         /* a remote is in use: the summary counts its hits */
	int remote_exec;    /* and it executes: the summary counts remote runs */
	size_t remote_hits; /* actions cached from the remote cache */
	size_t rpcs;        /* calls made to the remote */
	unsigned long long bytes_in; /* bytes received from it */
};

/* A test action's outcome, for the summary table. */
struct test_row {
	const struct action *a;
	enum act_status status;
	int attempts, timed_out;
	uint64_t ms;
};

/* The observer that feeds ui. */
struct sched_observer ui_observer(struct ui *u);
/* Clear the status line before other output. */
void ui_clear(struct ui *u);
/* The last line: "cairn: N actions: E executed, C cached, F failed in T s",
 * "C cached (H remote)" when a remote cache is in use. */
void ui_summary(struct ui *u, const struct sched_counts *c);
void ui_free(struct ui *u);
/* observe.c: a deployment in the events and the trace. */
struct deploy_note;
struct dbuild;
struct state;
/* A note of the engine as an event line and a span. */
void observe_note(struct ui *u, const struct deploy_note *n);
/* A release's provenance: "NAME DIGEST KEY PATH\n" per artifact, KEY the
 * action key that produced it ("-" for a source file). Fresh. */
char *observe_provenance(const struct graph *g, struct state *st, const struct dbuild *b,
                         const char *manifest);
/* The release event: the bytes deployed, their action keys, the tests. */
void observe_release(struct ui *u, const char *deployment, const char *rel,
                     const char *provenance, const char *tests);
/* Close --events and write --profile (to profile) (build.c). */
void ui_finish(struct ui *u, const char *profile);
/* tests.c: note a finished test action (and its --events line). */
void ui_test_finished(struct ui *u, const struct sched_event *ev);
/* The table of tests: label, status, time. */
void ui_test_summary(struct ui *u, const struct graph *g);
/* For sharded tests, merge the shards' XML into <base>.xml. */
void tests_merge_xml(const struct graph *g);

/* Shell-quoted command line of an action (caller frees). */
char *ui_command(const struct action *a);

/* profile: a Chrome trace (JSON), written whole at the end. */
struct trace *trace_new(void);
void trace_span(struct trace *t, const char *name, const char *cat,
                uint64_t start_ns, uint64_t end_ns, uint64_t t0);
/* Write to path (temp + rename) and free. 0 or -1 with errno. */
int trace_write(struct trace *t, const char *path);

#endif
