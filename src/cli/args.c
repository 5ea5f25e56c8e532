/* args: flag parsing. Every command takes every common flag; unknown flags
 * and commands are errors (exit 2), never ignored. */
#include "cli/args.h"
#include "util/util.h"
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

/* The value of a flag: "--f=v" or the next argument. */
static const char *value(int argc, char **argv, int *i, const char *eq, const char *name)
{
	if (eq)
		return eq + 1;
	if (*i + 1 >= argc) {
		bad("flag '%s' needs a value", name);
		return NULL;
	}
	return argv[++*i];
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
		const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
		size_t n = eq ? (size_t)(eq - a) : strlen(a);
#define IS(f) (n == strlen(f) && !strncmp(a, f, n))
		if (IS("-k") || IS("--keep-going")) {
			o->keep_going = 1;
		} else if (IS("--explain")) {
			o->explain = 1;
		} else if (IS("-v") || IS("--verbose")) {
			o->verbose = 1;
		} else if (IS("--version")) {
			o->version = 1;
		} else if (IS("-h") || IS("--help")) {
			o->help = 1;
		} else if (IS("--all")) {
			o->all = 1;
		} else if (IS("--watch")) {
			o->watch = 1;
		} else if (!strncmp(a, "-j", 2) && a[1] == 'j') {
			const char *v = a[2] ? a + 2 : value(argc, argv, &i, NULL, "-j");
			if (!v)
				return -1;
			char *end;
			long j = strtol(v, &end, 10);
			if (*end || end == v || j < 1 || j > 4096)
				return bad("-j wants a number of jobs from 1 to 4096, not '%s'", v);
			o->jobs = (int)j;
		} else if (IS("--events") || IS("--profile") || IS("--cache-dir") ||
		           IS("--color") || IS("--max-size") || IS("--test_output") ||
		           IS("--sandbox")) {
			char *name = xstrndup(a, n);
			const char *v = value(argc, argv, &i, eq, name);
			if (!v) {
				free(name);
				return -1;
			}
			if (!strcmp(name, "--events"))
				o->events = v;
			else if (!strcmp(name, "--profile"))
				o->profile = v;
			else if (!strcmp(name, "--cache-dir"))
				o->cache_dir = v;
			else if (!strcmp(name, "--sandbox")) {
				if (!strcmp(v, "strict"))
					o->sandbox = SANDBOX_STRICT;
				else if (!strcmp(v, "auto"))
					o->sandbox = SANDBOX_AUTO;
				else if (!strcmp(v, "none"))
					o->sandbox = SANDBOX_NONE;
				else {
					free(name);
					return bad("--sandbox wants strict, auto or none, not '%s'", v);
				}
			} else if (!strcmp(name, "--test_output")) {
				if (strcmp(v, "errors") && strcmp(v, "all") && strcmp(v, "summary")) {
					free(name);
					return bad("--test_output wants errors, all or summary, not '%s'", v);
				}
				o->test_output = v;
			}
			else if (!strcmp(name, "--max-size")) {
				if (parse_size(v, &o->max_size) < 0) {
					free(name);
					return bad("--max-size wants a size such as 10G or 500M, not '%s'", v);
				}
				o->have_max_size = 1;
			} else if (!strcmp(v, "auto"))
				o->color = COLOR_AUTO;
			else if (!strcmp(v, "always"))
				o->color = COLOR_ALWAYS;
			else if (!strcmp(v, "never"))
				o->color = COLOR_NEVER;
			else {
				free(name);
				return bad("--color wants auto, always or never, not '%s'", v);
			}
			free(name);
		} else {
			return bad("unknown flag '%s'", a);
		}
#undef IS
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
