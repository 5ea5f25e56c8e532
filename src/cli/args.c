/* args: flag parsing. Every command takes every common flag; unknown flags
 * and commands are errors (exit 2), never ignored. Each flag is one line
 * of the table `flags`: its names, its field in struct opts and what it
 * accepts. */
#include "cli/args.h"
#include "util/util.h"
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const commands[] = {
	"build", "test", "run", "plan", "query", "clean", "gc", "compdb", NULL,
};

void usage(void)
{
	fputs("usage: cairn COMMAND [FLAGS] [ARGS]\n"
	      "commands:\n"
	      "  build  [PATTERN...]     build targets (default //...)\n"
	      "  test   [PATTERN...]     build, then run the test targets\n"
	      "  run    LABEL [-- ARGS]  build, then run a binary\n"
	      "  compdb [PATTERN...]     write compile_commands.json for clangd\n"
	      "  plan   [PATTERN...]     what would run, and why; runs nothing\n"
	      "  query  EXPR             deps(L) rdeps(U, L) kind(RE, U) PATTERN\n"
	      "  clean  [--all]          remove outputs (--all: and the state)\n"
	      "  gc     [--max-size N]   trim the shared cache\n"
	      "flags: -j N, -k/--keep-going, --explain, -v, --events FILE,\n"
	      "       --profile FILE, --cache-dir DIR, --color auto|always|never,\n"
	      "       --test_output errors|all|summary, --watch (build, test),\n"
	      "       --sandbox strict|auto|none (default strict)\n",
	      stderr);
}

int parse_size(const char *s, uint64_t *out)
{
	char *end;
	if (!*s || *s == '-')
		return -1;
	double v = strtod(s, &end);
	uint64_t mul = 1;
	switch (*end) {
	case 'k': case 'K': mul = 1ull << 10; end++; break;
	case 'm': case 'M': mul = 1ull << 20; end++; break;
	case 'g': case 'G': mul = 1ull << 30; end++; break;
	case 't': case 'T': mul = 1ull << 40; end++; break;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || end == s || v < 0 || v * (double)mul > 1.8e19)
		return -1;
	*out = (uint64_t)(v * (double)mul);
	return 0;
}

static int bad(const char *fmt, const char *arg)
{
	fputs("cairn: error: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\n(run 'cairn --help' for usage)\n", stderr);
	return -1;
}

/* What a flag holds, and how its value is read. */
enum flag_kind {
	F_BOOL,   /* int, set to 1; takes no value */
	F_JOBS,   /* int, 1..4096; "-j8" or "-j 8" */
	F_PATH,   /* const char *, any value */
	F_CHOICE, /* const char *, one of choices */
	F_ENUM,   /* an enum (int-sized), the index of the value in choices */
	F_SIZE,   /* uint64_t bytes, "10G"; sets have_max_size */
};

/* One flag: its names, where in struct opts it goes, what it accepts. */
struct flag {
	const char *name;    /* "--keep-going" */
	const char *alias;   /* "-k", or NULL */
	enum flag_kind kind;
	size_t off;          /* offsetof(struct opts, field) */
	const char *choices; /* F_CHOICE, F_ENUM: "a|b|c" (F_ENUM: in enum order) */
};

#define AT(field) offsetof(struct opts, field)
static const struct flag flags[] = {
	{"--keep-going", "-k", F_BOOL, AT(keep_going), NULL},
	{"--explain", NULL, F_BOOL, AT(explain), NULL},
	{"--verbose", "-v", F_BOOL, AT(verbose), NULL},
	{"--version", NULL, F_BOOL, AT(version), NULL},
	{"--help", "-h", F_BOOL, AT(help), NULL},
	{"--all", NULL, F_BOOL, AT(all), NULL},
	{"--watch", NULL, F_BOOL, AT(watch), NULL},
	{"-j", NULL, F_JOBS, AT(jobs), NULL},
	{"--events", NULL, F_PATH, AT(events), NULL},
	{"--profile", NULL, F_PATH, AT(profile), NULL},
	{"--cache-dir", NULL, F_PATH, AT(cache_dir), NULL},
	{"--test_output", NULL, F_CHOICE, AT(test_output), "errors|all|summary"},
	{"--color", NULL, F_ENUM, AT(color), "auto|always|never"},
	{"--sandbox", NULL, F_ENUM, AT(sandbox), "strict|auto|none"},
	{"--max-size", NULL, F_SIZE, AT(max_size), NULL},
};
#undef AT

/* The index of v among "a|b|c", or -1. */
static int choice(const char *choices, const char *v)
{
	size_t n = strlen(v);
	int i = 0;
	for (const char *c = choices; *c; i++) {
		size_t len = strcspn(c, "|");
		if (len == n && !strncmp(c, v, n))
			return i;
		c += len + (c[len] == '|');
	}
	return -1;
}

/* "--color wants auto, always or never, not 'x'" (choices are short) */
static int bad_choice(const struct flag *f, const char *v)
{
	char want[256];
	size_t k = 0;
	for (const char *c = f->choices; *c && k < sizeof want;) {
		size_t len = strcspn(c, "|");
		const char *next = c + len + (c[len] == '|');
		const char *sep = !*next ? "" : strchr(next, '|') ? ", " : " or ";
		k += (size_t)snprintf(want + k, sizeof want - k, "%.*s%s", (int)len, c, sep);
		c = next;
	}
	fprintf(stderr, "cairn: error: %s wants %s, not '%s'\n(run 'cairn --help' for usage)\n",
	        f->name, want, v);
	return -1;
}

/* Store v, the value given to f, into o. 0 or -1 (said why). */
static int set_value(const struct flag *f, const char *v, struct opts *o)
{
	char *at = (char *)o + f->off;
	switch (f->kind) {
	case F_BOOL:
		*(int *)at = 1;
		return 0;
	case F_JOBS: {
		char *end;
		long j = strtol(v, &end, 10);
		if (*end || end == v || j < 1 || j > 4096)
			return bad("-j wants a number of jobs from 1 to 4096, not '%s'", v);
		*(int *)at = (int)j;
		return 0;
	}
	case F_PATH:
		*(const char **)at = v;
		return 0;
	case F_CHOICE:
		if (choice(f->choices, v) < 0)
			return bad_choice(f, v);
		*(const char **)at = v;
		return 0;
	case F_ENUM: {
		int i = choice(f->choices, v);
		if (i < 0)
			return bad_choice(f, v);
		*(int *)at = i;
		return 0;
	}
	case F_SIZE:
		if (parse_size(v, (uint64_t *)at) < 0)
			return bad("--max-size wants a size such as 10G or 500M, not '%s'", v);
		o->have_max_size = 1;
		return 0;
	}
	return -1;
}

/* One flag argument, argv[*i]: "--f", "--f=v", "--f v", "-j8", "-j 8". */
static int parse_flag(int argc, char **argv, int *i, struct opts *o)
{
	const char *a = argv[*i];
	const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
	size_t n = eq ? (size_t)(eq - a) : strlen(a);
	for (size_t k = 0; k < sizeof flags / sizeof *flags; k++) {
		const struct flag *f = &flags[k];
		const char *v = eq ? eq + 1 : NULL;
		if (f->kind == F_JOBS && !strncmp(a, f->name, 2)) {
			v = a[2] ? a + 2 : NULL; /* -j8 */
		} else if (!(strlen(f->name) == n && !strncmp(a, f->name, n)) &&
		           !(f->alias && strlen(f->alias) == n && !strncmp(a, f->alias, n))) {
			continue;
		}
		if (f->kind == F_BOOL) {
			if (eq)
				return bad("flag '%s' takes no value", f->name);
			return set_value(f, NULL, o);
		}
		if (!v) {
			if (*i + 1 >= argc)
				return bad("flag '%s' needs a value", f->name);
			v = argv[++*i];
		}
		return set_value(f, v, o);
	}
	return bad("unknown flag '%s'", a);
}

int args_parse(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof *o);
	o->args = xcalloc((size_t)argc + 1, sizeof *o->args);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			o->run_args = (const char **)argv + i + 1;
			o->nrun_args = (size_t)(argc - i - 1);
			break;
		}
		if (a[0] != '-' || !a[1]) {
			if (!o->cmd)
				o->cmd = a;
			else
				o->args[o->nargs++] = a;
			continue;
		}
		if (parse_flag(argc, argv, &i, o) < 0)
			return -1;
	}
	if (o->version || o->help)
		return 0;
	if (!o->cmd)
		return bad("%s", "no command given");
	for (const char *const *c = commands; *c; c++)
		if (!strcmp(*c, o->cmd))
			return 0;
	return bad("unknown command '%s'", o->cmd);
}

void args_free(struct opts *o)
{
	free(o->args);
}
