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
};

/* The observer that feeds ui. */
struct sched_observer ui_observer(struct ui *u);
/* Clear the status line before other output. */
void ui_clear(struct ui *u);
/* The last line: "cairn: N actions: E executed, C cached, F failed in T s". */
void ui_summary(struct ui *u, const struct sched_counts *c);
/* Shell-quoted command line of an action (caller frees). */
char *ui_command(const struct action *a);

/* profile: a Chrome trace (JSON), written whole at the end. */
struct trace *trace_new(void);
void trace_span(struct trace *t, const char *name, const char *cat,
                uint64_t start_ns, uint64_t end_ns, uint64_t t0);
/* Write to path (temp + rename) and free. 0 or -1 with errno. */
int trace_write(struct trace *t, const char *path);

#endif
