/* args: flag parsing. Every command takes every common flag; unknown flags
 * and commands are errors (exit 2), never ignored. Each flag is one line
 * of the table `flags`: its names, its field in struct opts and what it
 * accepts.
 *
 * The .cairnrc files, read as Bazel reads .bazelrc:
 *
 *   # a comment; blank lines are skipped
 *   common --remote_instance_name=main        every command
 *   build  --remote_cache=grpcs://cache:443 -j 16
 *   test   --remote_header x-team=infra       'test' only
 *
 * A line is COMMAND FLAG...: words split at blanks, '...' and "..." quote,
 * '#' at the start of a word ends the line. COMMAND is "common", or a
 * command, whose lines apply to it alone; test, run, plan and compdb also
 * take build's. A line for another command, or for one cairn does not
 * have (Bazel's "startup", "build:ci"), is skipped unread. The flags of a
 * line that applies are the command line's, checked the same way; a
 * relative path is taken from the rc file's directory. $HOME/.cairnrc is
 * applied first, then ROOT/.cairnrc, then the command line: for a flag of
 * one value the last wins, --remote_header accumulates. */
#include "cli/args.h"
#include "util/fs.h"
#include "util/str.h"
#include "util/util.h"
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const commands[] = {
	"build", "test", "run", "plan", "query", "clean", "gc", "compdb",
	"deploy", "status", "rollback", "reconcile", "serve", "audit", NULL,
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
	      "  deploy LABEL...         build, test and roll out deployments\n"
	      "         [--plan] [--promote|--abort] [--lock-timeout SECONDS]\n"
	      "  status [PATTERN...] [--json]   each stage: desired, live, drift\n"
	      "  rollback LABEL [--stage S] [--to RELEASE]   no build, no network\n"
	      "  reconcile [PATTERN...] [--every SECONDS]    repair drift\n"
	      "         (deploy, rollback, reconcile: --lock-timeout SECONDS)\n"
	      "  audit [--json]          the audit log of deployments (.cairn/audit.log)\n"
	      "  audit verify            check its chain and tail: exit 1 names the first bad line\n"
	      "  serve --listen HOST:PORT [--store DIR] [--max-size SIZE]\n"
	      "        [--auth-token-file F] [--metrics HOST:PORT] [--workers MIN:MAX]\n"
	      "        [--worker-idle SECONDS] [--queue N] [--tls-cert F --tls-key F]\n"
	      "                          a REAPI cache and executor (gRPC) over a local store\n"
	      "flags: -j N, -k/--keep-going, --explain, -v, --events FILE,\n"
	      "       --profile FILE, --cache-dir DIR, --color auto|always|never,\n"
	      "       --test_output errors|all|summary, --watch (build, test),\n"
	      "       --sandbox strict|auto|none (default strict),\n"
	      "       --remote_cache URL, --remote_executor URL,\n"
	      "       --remote_instance_name NAME, --remote_header NAME=VALUE,\n"
	      "       --remote_timeout SECONDS, --remote_upload_local_results[=false],\n"
	      "       --noremote_upload_local_results, --remote_download all|toplevel,\n"
	      "       --announce_rc, --nohome_rc, --noworkspace_rc (command line only)\n",
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

/* Where flags come from: the command line (at NULL), or a line of an rc
 * file ("PATH:LINE", and the file's directory for relative paths). */
struct src {
	const char *at;
	const char *dir;
};
static const struct src cmdline;

/* "cairn: error: MSG" and the hint on the command line, "PATH:LINE:
 * error: MSG" for an rc file. Returns -1. */
__attribute__((format(printf, 2, 3))) static int bad(const struct src *src, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: error: ", src->at ? src->at : "cairn");
	vfprintf(stderr, fmt, ap);
	fputs(src->at ? "\n" : "\n(run 'cairn --help' for usage)\n", stderr);
	va_end(ap);
	return -1;
}

/* What a flag holds, and how its value is read. */
enum flag_kind {
	F_BOOL,    /* int, set to 1; takes no value */
	F_BOOLV,   /* int: "--f" or "--f=true" 1, "--nof" or "--f=false" 0 */
	F_JOBS,    /* int, 1..4096; "-j8" or "-j 8" */
	F_PATH,    /* const char *, a path (in an rc file, from its directory) */
	F_TEXT,    /* const char *, no blanks or control characters */
	F_CHOICE,  /* const char *, one of choices */
	F_ENUM,    /* an enum (int-sized), the index of the value in choices */
	F_SIZE,    /* uint64_t bytes, "10G"; sets have_max_size */
	F_URL,     /* struct url; choices: the schemes it may have */
	F_SECONDS, /* int, 1..86400; "60" or "60s" (choices "0": from 0) */
	F_COUNT,   /* int, 1..1000000 */
	F_HEADER,  /* NAME=VALUE, appended to remote_headers */
};

/* One flag: its names, where in struct opts it goes, what it accepts. */
struct flag {
	const char *name;    /* "--keep-going" */
	const char *alias;   /* "-k", or NULL */
	enum flag_kind kind;
	size_t off;          /* offsetof(struct opts, field) */
	const char *choices; /* F_CHOICE, F_ENUM, F_URL: "a|b|c" (F_ENUM: in enum order) */
	int cli_only;        /* refused in an rc file */
};

#define AT(field) offsetof(struct opts, field)
static const struct flag flags[] = {
	{"--keep-going", "-k", F_BOOL, AT(keep_going), NULL, 0},
	{"--explain", NULL, F_BOOL, AT(explain), NULL, 0},
	{"--verbose", "-v", F_BOOL, AT(verbose), NULL, 0},
	{"--version", NULL, F_BOOL, AT(version), NULL, 1},
	{"--help", "-h", F_BOOL, AT(help), NULL, 1},
	{"--all", NULL, F_BOOL, AT(all), NULL, 0},
	{"--watch", NULL, F_BOOL, AT(watch), NULL, 0},
	{"-j", NULL, F_JOBS, AT(jobs), NULL, 0},
	{"--events", NULL, F_PATH, AT(events), NULL, 0},
	{"--profile", NULL, F_PATH, AT(profile), NULL, 0},
	{"--cache-dir", NULL, F_PATH, AT(cache_dir), NULL, 0},
	{"--test_output", NULL, F_CHOICE, AT(test_output), "errors|all|summary", 0},
	{"--color", NULL, F_ENUM, AT(color), "auto|always|never", 0},
	{"--sandbox", NULL, F_ENUM, AT(sandbox), "strict|auto|none", 0},
	{"--max-size", NULL, F_SIZE, AT(max_size), NULL, 0},
	{"--remote_cache", NULL, F_URL, AT(remote_cache), "grpc|grpcs|http|https", 0},
	{"--remote_executor", NULL, F_URL, AT(remote_executor), "grpc|grpcs", 0},
	{"--remote_instance_name", NULL, F_TEXT, AT(remote_instance_name), NULL, 0},
	{"--remote_header", NULL, F_HEADER, AT(remote_headers), NULL, 0},
	{"--remote_timeout", NULL, F_SECONDS, AT(remote_timeout), NULL, 0},
	{"--remote_upload_local_results", NULL, F_BOOLV, AT(remote_upload_local_results), NULL, 0},
	{"--remote_download", NULL, F_ENUM, AT(remote_download), "all|toplevel", 0},
	{"--announce_rc", NULL, F_BOOL, AT(announce_rc), NULL, 0},
	{"--plan", NULL, F_BOOL, AT(plan), NULL, 0},
	{"--promote", NULL, F_BOOL, AT(promote), NULL, 1},
	{"--abort", NULL, F_BOOL, AT(abort_rollout), NULL, 1},
	{"--json", NULL, F_BOOL, AT(json), NULL, 0},
	{"--lock-timeout", NULL, F_SECONDS, AT(lock_timeout), "0", 0},
	{"--every", NULL, F_SECONDS, AT(every), NULL, 0},
	{"--stage", NULL, F_TEXT, AT(stage), NULL, 1},
	{"--listen", NULL, F_TEXT, AT(listen), NULL, 0},
	{"--store", NULL, F_PATH, AT(store), NULL, 0},
	{"--auth-token-file", NULL, F_PATH, AT(auth_token_file), NULL, 0},
	{"--metrics", NULL, F_TEXT, AT(metrics), NULL, 0},
	{"--workers", NULL, F_TEXT, AT(workers), NULL, 0},
	{"--worker-idle", NULL, F_SECONDS, AT(worker_idle), NULL, 0},
	{"--queue", NULL, F_COUNT, AT(queue), NULL, 0},
	{"--tls-cert", NULL, F_PATH, AT(tls_cert), NULL, 0},
	{"--tls-key", NULL, F_PATH, AT(tls_key), NULL, 0},
	{"--to", NULL, F_TEXT, AT(to), NULL, 1},
	{"--home_rc", NULL, F_BOOLV, AT(home_rc), NULL, 1},
	{"--workspace_rc", NULL, F_BOOLV, AT(workspace_rc), NULL, 1},
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

/* "auto, always or never" from "auto|always|never", each word between
 * before and after ("grpc://"), into want (choices are short). */
static void list_choices(const char *choices, const char *before, const char *after, char *want,
                         size_t size)
{
	size_t k = 0;
	want[0] = 0;
	for (const char *c = choices; *c && k < size;) {
		size_t len = strcspn(c, "|");
		const char *next = c + len + (c[len] == '|');
		const char *sep = !*next ? "" : strchr(next, '|') ? ", " : " or ";
		k += (size_t)snprintf(want + k, size - k, "%s%.*s%s%s", before, (int)len, c, after, sep);
		c = next;
	}
}

/* "--color wants auto, always or never, not 'x'" */
static int bad_choice(const struct src *src, const struct flag *f, const char *v)
{
	char want[256];
	list_choices(f->choices, "", "", want, sizeof want);
	return bad(src, "%s wants %s, not '%s'", f->name, want, v);
}

/* Does s hold a blank or a control character? */
static int has_blank(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return 1;
	return 0;
}

/* --remote_header NAME=VALUE: NAME of letters, digits, '-', '_' and '.'
 * (a valid HTTP field name and gRPC metadata key alike), lowercased;
 * VALUE without control characters. Appended to o->remote_headers. */
static int add_header(const struct src *src, const char *v, struct opts *o)
{
	const char *eq = strchr(v, '=');
	if (!eq || eq == v)
		return bad(src, "--remote_header wants NAME=VALUE, not '%s'", v);
	for (const char *p = v; p < eq; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '_' || *p == '.'))
			return bad(src,
			           "--remote_header: '%.*s' is not a header name (letters, digits, '-', '_' "
			           "and '.')",
			           (int)(eq - v), v);
	for (const char *p = eq + 1; *p; p++)
		if (((unsigned char)*p < ' ' && *p != '\t') || *p == 0x7f)
			return bad(src, "--remote_header: the value of '%.*s' has a control character",
			           (int)(eq - v), v);
	struct remote_header h = {xstrndup(v, (size_t)(eq - v)), xstrdup(eq + 1)};
	for (char *p = h.name; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	o->remote_headers =
	    xreallocarray(o->remote_headers, o->nremote_headers + 1, sizeof *o->remote_headers);
	o->remote_headers[o->nremote_headers++] = h;
	return 0;
}

/* v as a whole number from lo to hi into *(int *)at: decimal digits only
 * (no sign, no blank), and then the one character unit when it is not 0
 * ("60s"). 0, or -1. */
static int number(const char *v, long lo, long hi, char unit, void *at)
{
	if (*v < '0' || *v > '9')
		return -1;
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (unit && *end == unit)
		end++;
	if (*end || errno || n < lo || n > hi)
		return -1;
	*(int *)at = (int)n;
	return 0;
}

/* Store v, the value given to f, into o. 0 or -1 (said why). */
static int set_value(const struct src *src, const struct flag *f, const char *v, struct opts *o)
{
	char *at = (char *)o + f->off;
	switch (f->kind) {
	case F_BOOL:
		*(int *)at = 1;
		return 0;
	case F_BOOLV:
		if (!v || !strcmp(v, "true"))
			*(int *)at = 1;
		else if (!strcmp(v, "false"))
			*(int *)at = 0;
		else
			return bad(src, "%s wants true or false, not '%s'", f->name, v);
		return 0;
	case F_JOBS:
		if (number(v, 1, 4096, 0, at) < 0)
			return bad(src, "-j wants a number of jobs from 1 to 4096, not '%s'", v);
		return 0;
	case F_PATH:
		if (src->dir && v[0] != '/') {
			char *p = xasprintf("%s/%s", src->dir, v);
			v = arena_strdup(&o->rc_mem, p);
			free(p);
		}
		*(const char **)at = v;
		return 0;
	case F_TEXT:
		if (has_blank(v))
			return bad(src, "%s: '%s' has a blank or a control character", f->name, v);
		*(const char **)at = v;
		return 0;
	case F_CHOICE:
		if (choice(f->choices, v) < 0)
			return bad_choice(src, f, v);
		*(const char **)at = v;
		return 0;
	case F_ENUM: {
		int i = choice(f->choices, v);
		if (i < 0)
			return bad_choice(src, f, v);
		*(int *)at = i;
		return 0;
	}
	case F_SIZE:
		if (parse_size(v, (uint64_t *)at) < 0)
			return bad(src, "--max-size wants a size such as 10G or 500M, not '%s'", v);
		o->have_max_size = 1;
		return 0;
	case F_URL: {
		struct url u;
		const char *why;
		if (url_parse(v, &u, &why) < 0)
			return bad(src, "%s: '%s': %s", f->name, v, why);
		if (choice(f->choices, url_scheme_name(u.scheme)) < 0) {
			char want[256];
			list_choices(f->choices, "", "://", want, sizeof want);
			url_free(&u);
			return bad(src, "%s wants %s, not '%s'", f->name, want, v);
		}
		url_free((struct url *)at);
		*(struct url *)at = u;
		return 0;
	}
	case F_SECONDS: {
		long lo = f->choices ? 0 : 1;
		if (number(v, lo, 86400, 's', at) < 0)
			return bad(src, "%s wants a number of seconds from %ld to 86400, not '%s'", f->name,
			           lo, v);
		return 0;
	}
	case F_COUNT:
		if (number(v, 1, 1000000, 0, at) < 0)
			return bad(src, "%s wants a number from 1 to 1000000, not '%s'", f->name, v);
		return 0;
	case F_HEADER:
		return add_header(src, v, o);
	}
	return -1;
}

/* Is the flag argument a (its name n bytes long) one of f's names? *neg
 * is set for "--nof", the false of an F_BOOLV. */
static int flag_is(const struct flag *f, const char *a, size_t n, int *neg)
{
	size_t len = strlen(f->name);
	*neg = 0;
	if ((len == n && !strncmp(a, f->name, n)) ||
	    (f->alias && strlen(f->alias) == n && !strncmp(a, f->alias, n)))
		return 1;
	if (f->kind == F_BOOLV && n == len + 2 && !strncmp(a, "--no", 4) &&
	    !strncmp(a + 4, f->name + 2, len - 2))
		return *neg = 1;
	return 0;
}

/* One flag argument, argv[*i]: "--f", "--f=v", "--f v", "-j8", "-j 8". */
static int parse_flag(const struct src *src, int argc, char **argv, int *i, struct opts *o)
{
	const char *a = argv[*i];
	const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
	size_t n = eq ? (size_t)(eq - a) : strlen(a);
	for (size_t k = 0; k < sizeof flags / sizeof *flags; k++) {
		const struct flag *f = &flags[k];
		const char *v = eq ? eq + 1 : NULL;
		int neg = 0;
		if (f->kind == F_JOBS && !strncmp(a, f->name, 2)) {
			v = a[2] ? a + 2 : NULL; /* -j8 */
		} else if (!flag_is(f, a, n, &neg)) {
			continue;
		}
		if (src->at && f->cli_only)
			return bad(src, "%.*s goes on the command line, not in a .cairnrc", (int)n, a);
		if (f->kind == F_BOOL || neg) {
			if (eq)
				return bad(src, "flag '%.*s' takes no value", (int)n, a);
			if (neg) {
				*(int *)((char *)o + f->off) = 0;
				return 0;
			}
			return set_value(src, f, NULL, o);
		}
		if (f->kind == F_BOOLV)
			return set_value(src, f, v, o); /* never takes the next word */
		if (!v) {
			if (*i + 1 >= argc)
				return bad(src, "flag '%s' needs a value", f->name);
			v = argv[++*i];
		}
		return set_value(src, f, v, o);
	}
	return bad(src, "unknown flag '%s'", a);
}

/* struct opts as it is before any flag. */
static void defaults(struct opts *o, int argc)
{
	memset(o, 0, sizeof *o);
	o->args = xcalloc((size_t)argc + 1, sizeof *o->args);
	o->remote_timeout = 60;
	o->remote_upload_local_results = 1;
	o->home_rc = o->workspace_rc = 1;
	o->lock_timeout = -1;
}

/* The command line's words into o: the command, its arguments, flags. */
static int parse_argv(int argc, char **argv, struct opts *o)
{
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
		if (parse_flag(&cmdline, argc, argv, &i, o) < 0)
			return -1;
	}
	return 0;
}

int args_parse(int argc, char **argv, struct opts *o)
{
	defaults(o, argc);
	if (parse_argv(argc, argv, o) < 0)
		return -1;
	if (o->version || o->help)
		return 0;
	if (!o->cmd)
		return bad(&cmdline, "%s", "no command given");
	for (const char *const *c = commands; *c; c++)
		if (!strcmp(*c, o->cmd))
			return 0;
	return bad(&cmdline, "unknown command '%s'", o->cmd);
}

/* Does an rc line for command `word` apply to the command cmd? */
static int rc_applies(const char *word, const char *cmd)
{
	static const char *const builders[] = {"test", "run", "plan", "compdb", "deploy", NULL};
	if (!strcmp(word, "common") || !strcmp(word, cmd))
		return 1;
	if (strcmp(word, "build"))
		return 0;
	for (const char *const *b = builders; *b; b++)
		if (!strcmp(*b, cmd))
			return 1;
	return 0;
}

/* Split line (changed in place) into *words: blanks separate, '...' and
 * "..." quote, '#' at the start of a word ends the line. 0, or -1 on an
 * unterminated quote. */
static int split_words(char *line, char ***words, size_t *n, size_t *cap)
{
	char *in = line;
	*n = 0;
	for (;;) {
		while (*in == ' ' || *in == '\t' || *in == '\r')
			in++;
		if (!*in || *in == '#')
			return 0;
		char *word = in, *out = in, q = 0;
		while (*in && (q || !(*in == ' ' || *in == '\t' || *in == '\r'))) {
			if (q ? *in == q : (*in == '\'' || *in == '"')) {
				q = q ? 0 : *in;
				in++;
				continue;
			}
			*out++ = *in++;
		}
		if (q)
			return -1;
		int end = !*in;
		*out = 0; /* out <= in: on the blank that ended the word, or the end */
		VEC_PUSH(*words, *n, *cap, word);
		if (end)
			return 0;
		in++;
	}
}

/* Add word to the announcement, a --remote_header's value hidden. */
static void announce_word(struct buf *b, const char *word, int header_value)
{
	const char *eq = NULL;
	if (header_value)
		eq = strchr(word, '=');
	else if (!strncmp(word, "--remote_header=", 16))
		eq = strchr(word + 16, '=');
	if (eq)
		buf_printf(b, " %.*s=***", (int)(eq - word), word);
	else
		buf_printf(b, " %s", word);
}

/* Apply the lines of one rc file (text, changed in place and kept in
 * o->rc_mem) for the command cmd; log the ones that applied to ann. */
static int rc_apply(struct opts *o, const char *cmd, const char *shown, const char *dir,
                    char *text, struct buf *ann)
{
	char **words = NULL;
	size_t nwords = 0, cap = 0;
	int r = 0, nr = 0;
	for (char *line = text; line && r == 0; nr++) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		char at[4096];
		snprintf(at, sizeof at, "%s:%d", shown, nr + 1);
		struct src src = {at, dir};
		if (split_words(line, &words, &nwords, &cap) < 0) {
			r = bad(&src, "%s", "unterminated quote");
		} else if (nwords && words[0][0] == '-') {
			r = bad(&src, "a line starts with a command (common, build, test, ...), not '%s'",
			        words[0]);
		} else if (nwords && rc_applies(words[0], cmd)) {
			buf_printf(ann, "cairn: %s: %s", at, words[0]);
			for (size_t i = 1; i < nwords; i++)
				announce_word(ann, words[i], !strcmp(words[i - 1], "--remote_header"));
			buf_putc(ann, '\n');
			for (int i = 1; i < (int)nwords && r == 0; i++) {
				if (words[i][0] != '-' || !words[i][1])
					r = bad(&src, "'%s' is not a flag", words[i]);
				else
					r = parse_flag(&src, (int)nwords, words, &i, o);
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	free(words);
	return r;
}

/* The effective remote flags, for --announce_rc. */
static void announce_remote(const struct opts *o, struct buf *b)
{
	buf_puts(b, "cairn: remote flags:");
	const struct url *urls[] = {&o->remote_cache, &o->remote_executor};
	const char *names[] = {"--remote_cache", "--remote_executor"};
	for (int i = 0; i < 2; i++) {
		if (!urls[i]->host)
			continue;
		char *u = url_format(urls[i]);
		buf_printf(b, " %s=%s", names[i], u);
		free(u);
	}
	if (o->remote_instance_name)
		buf_printf(b, " --remote_instance_name=%s", o->remote_instance_name);
	for (size_t i = 0; i < o->nremote_headers; i++)
		buf_printf(b, " --remote_header=%s=***", o->remote_headers[i].name);
	buf_printf(b, " --remote_timeout=%d --remote_upload_local_results=%s --remote_download=%s\n",
	           o->remote_timeout, o->remote_upload_local_results ? "true" : "false",
	           o->remote_download == DOWNLOAD_TOPLEVEL ? "toplevel" : "all");
}

/* Read path into the arena; NULL when it does not exist, or (after
 * saying why) *failed. */
static char *rc_read(struct arena *mem, const char *path, int *failed)
{
	struct buf b = {0};
	char *text = NULL;
	if (fs_read_all(path, &b) == 0)
		text = arena_strndup(mem, b.s ? b.s : "", b.len);
	else if (errno != ENOENT && errno != ENOTDIR)
		*failed = 1, fprintf(stderr, "cairn: error: cannot read %s: %s\n", path, strerror(errno));
	buf_free(&b);
	return text;
}

int args_rc(int argc, char **argv, struct opts *o)
{
	struct buf ann = {0};
	struct arena mem = {0};
	const char *home = getenv("HOME");
	char *paths[2] = {NULL, NULL}, *texts[2] = {NULL, NULL};
	const char *shown[2], *dirs[2] = {home, o->root};
	int failed = 0, r = 0;
	if (o->home_rc && home && *home == '/' && !(o->root && !strcmp(home, o->root)))
		paths[0] = xasprintf("%s/.cairnrc", home);
	if (o->workspace_rc && o->root)
		paths[1] = xasprintf("%s/.cairnrc", o->root);
	shown[0] = paths[0];
	shown[1] = ".cairnrc"; /* like a build file: from the root */
	for (int k = 0; k < 2; k++)
		if (paths[k])
			texts[k] = rc_read(&mem, paths[k], &failed);
	if (failed) {
		r = -1;
	} else if (texts[0] || texts[1]) {
		/* parse again, rc lines first; the command line cannot fail twice */
		struct opts n;
		defaults(&n, argc);
		n.rc_mem = mem;
		mem = (struct arena){0};
		n.cwd = o->cwd, n.root = o->root;
		o->cwd = o->root = NULL;
		for (int k = 0; k < 2 && r == 0; k++)
			if (texts[k])
				r = rc_apply(&n, o->cmd, shown[k], dirs[k], texts[k], &ann);
		if (r == 0)
			r = parse_argv(argc, argv, &n);
		args_free(o);
		*o = n;
	}
	if (r == 0 && o->announce_rc) {
		announce_remote(o, &ann);
		fputs(ann.s, stderr);
	}
	buf_free(&ann);
	arena_free(&mem);
	free(paths[0]);
	free(paths[1]);
	return r;
}

void args_free(struct opts *o)
{
	free(o->args);
	o->args = NULL;
	for (size_t i = 0; i < o->nremote_headers; i++) {
		free(o->remote_headers[i].name);
		free(o->remote_headers[i].value);
	}
	free(o->remote_headers);
	o->remote_headers = NULL;
	o->nremote_headers = 0;
	url_free(&o->remote_cache);
	url_free(&o->remote_executor);
	free(o->cwd);
	free(o->root);
	o->cwd = o->root = NULL;
	arena_free(&o->rc_mem);
}
