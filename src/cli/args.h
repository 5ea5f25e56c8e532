/* args: the command line. Flags may come before or after the command;
 * both "--flag value" and "--flag=value" work. */
#ifndef CAIRN_ARGS_H
#define CAIRN_ARGS_H
#include <stddef.h>
#include <stdint.h>

#define CAIRN_VERSION "0.1.0"

enum color_mode { COLOR_AUTO, COLOR_ALWAYS, COLOR_NEVER };
enum sandbox_mode { SANDBOX_STRICT, SANDBOX_AUTO, SANDBOX_NONE };

struct opts {
	const char *cmd;          /* "build", "plan", ... */
	const char **args;        /* positional arguments after the command */
	size_t nargs;
	const char **run_args;    /* after "--" (cairn run) */
	size_t nrun_args;
	int jobs;                 /* -j; 0 = number of CPUs */
	int keep_going;           /* -k */
	int explain;              /* --explain */
	int verbose;              /* -v */
	const char *events;       /* --events FILE */
	const char *profile;      /* --profile FILE */
	const char *cache_dir;    /* --cache-dir DIR */
	enum color_mode color;    /* --color */
	const char *test_output;  /* --test_output: errors (default), all, summary */
	int watch;                /* --watch: rebuild on every change */
	enum sandbox_mode sandbox; /* --sandbox */
	int all;                  /* clean --all */
	uint64_t max_size;        /* gc --max-size, bytes */
	int have_max_size;
	int version, help;
};

/* Parse argv; 0, or -1 after printing "cairn: error: ..." to stderr. */
int args_parse(int argc, char **argv, struct opts *o);
void args_free(struct opts *o);
/* "10G", "512M", "64k", "1000" -> bytes; 0 or -1. */
int parse_size(const char *s, uint64_t *out);
void usage(void);

#endif
