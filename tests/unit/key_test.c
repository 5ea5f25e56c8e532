/* Unit tests of the action key (key.c): every part of the encoding
 * changes the key, the order a rule lists things in does not, the command
 * digest ignores inputs, and key_env's default PATH. */
#include "exec/key.h"
#include "reapi/reapi.h"
#include "test.h"
#include "util/str.h"
#include "util/util.h"
#include <stdio.h>
#include <stdlib.h>

#define L(...) ((const char *[]){__VA_ARGS__, NULL})
static const char *none[] = {NULL};

/* One action to key. An input's digest is the SHA-256 of its path, or of
 * its path plus "!" when it is named by `bump`. */
struct kspec {
	const char **argv, **env, **in, **out;
	const char *props;
	unsigned flags;
	const char *bump;
	const char *exec;   /* an input whose executable bit is set, or NULL */
	uint64_t size;      /* every input's size (1 when 0) */
};

static size_t count(const char **v)
{
	size_t n = 0;
	while (v[n])
		n++;
	return n;
}

static const char *base_argv[] = {"cc", "-c", "x.c", NULL};
static const char *base_env[] = {"CC=gcc", "LANG=C", NULL};
static const char *base_in[] = {"x.c", "x.h", NULL};
static const char *base_out[] = {"x.o", NULL};

static struct kspec base(void)
{
	return (struct kspec){.argv = base_argv, .env = base_env, .in = base_in,
	                      .out = base_out, .props = "sandbox=none"};
}

static uint64_t last_size; /* the key_size of key_of's last key */

static void key_of(const struct kspec *k, struct digest *key, struct digest *cmd)
{
	struct graph g = {0};
	struct err e = {0};
	struct action_spec s = {
		.label = "//k:k", .argv = k->argv, .argc = count(k->argv),
		.env = k->env, .nenv = count(k->env),
		.inputs = k->in, .ninputs = count(k->in),
		.outputs = k->out, .noutputs = count(k->out), .flags = k->flags,
	};
	struct action *a = graph_add_action(&g, &s, &e);
	CHECK(a != NULL);
	struct key_input *in = xcalloc(a->ninputs + 1, sizeof *in);
	for (size_t i = 0; i < a->ninputs; i++) {
		char *t = xasprintf("%s%s", a->inputs[i]->path,
		                    k->bump && !strcmp(k->bump, a->inputs[i]->path) ? "!" : "");
		in[i].path = a->inputs[i]->path;
		sha_buf(t, strlen(t), &in[i].d);
		in[i].size = k->size ? k->size : 1;
		in[i].exec = k->exec && !strcmp(k->exec, a->inputs[i]->path);
		free(t);
	}
	const char **env = key_env(a);
	key_compute(a, env, in, a->ninputs, k->props, key, &last_size, cmd);
	free(env);
	free(in);
	err_clear(&e);
	graph_free(&g);
}

/* Compare k's key and cmd digest with the base action's. */
static void compare(const char *what, const struct kspec *k, int key_same, int cmd_same)
{
	struct kspec b = base();
	struct digest k0, c0, k1, c1;
	key_of(&b, &k0, &c0);
	key_of(k, &k1, &c1);
	if (digest_eq(&k0, &k1) != key_same || digest_eq(&c0, &c1) != cmd_same) {
		fprintf(stderr, "  %s: key %s, cmd %s\n", what,
		        digest_eq(&k0, &k1) ? "same" : "differs", digest_eq(&c0, &c1) ? "same" : "differs");
		test_failures++;
	}
}

TEST(key_is_deterministic)
{
	struct kspec b = base();
	struct digest k0, c0, k1, c1;
	key_of(&b, &k0, &c0);
	key_of(&b, &k1, &c1);
	CHECK(digest_eq(&k0, &k1) && digest_eq(&c0, &c1));
	CHECK(!digest_eq(&k0, &c0));
}

TEST(key_changes_with_every_part)
{
	struct kspec k;
	k = base(), k.argv = L("cc", "-c", "x.c", "-O2");
	compare("argv added", &k, 0, 0);
	k = base(), k.argv = L("cc", "x.c", "-c");
	compare("argv order", &k, 0, 0);
	k = base(), k.argv = L("cc", "-cx", ".c");
	compare("argv split", &k, 0, 0);
	k = base(), k.env = L("CC=clang", "LANG=C");
	compare("env value", &k, 0, 0);
	k = base(), k.env = L("CC=gcc", "LANG=C", "TZ=UTC");
	compare("env added", &k, 0, 0);
	k = base(), k.env = L("CC=gcc");
	compare("env removed", &k, 0, 0);
	k = base(), k.out = L("y.o");
	compare("output path", &k, 0, 0);
	k = base(), k.out = L("x.o", "x.d");
	compare("output added", &k, 0, 0);
	k = base(), k.props = "sandbox=linux";
	compare("props", &k, 0, 0);
	k = base(), k.flags = ACT_NETWORK;
	compare("flags", &k, 0, 0);
	k = base(), k.flags = ACT_NO_SANDBOX;
	compare("flags", &k, 0, 0);
	/* inputs are not part of the command digest */
	k = base(), k.bump = "x.h";
	compare("input digest", &k, 0, 1);
	k = base(), k.bump = "x.c";
	compare("input digest", &k, 0, 1);
	k = base(), k.in = L("x.c", "y.h");
	compare("input path", &k, 0, 1);
	k = base(), k.in = L("x.c", "x.h", "z.h");
	compare("input added", &k, 0, 1);
	k = base(), k.in = L("x.c");
	compare("input removed", &k, 0, 1);
	k = base(), k.exec = "x.c";
	compare("input executable", &k, 0, 1);
	k = base(), k.size = 2;
	compare("input size", &k, 0, 1);
}

/* The key is REAPI's Action digest: what reapi_build makes of the same
 * action, with the properties (and the flags) as platform properties and
 * the key's version as the salt; the command digest is the Command's. A
 * REAPI cache or executor names the action by the same digest. */
TEST(key_is_the_reapi_action_digest)
{
	struct kspec k = base();
	k.props = "platform=linux-x86_64;sandbox=none";
	k.flags = ACT_NETWORK;
	k.exec = "x.c";
	struct digest key, cmd;
	key_of(&k, &key, &cmd);
	struct digest dc, dh;
	sha_buf("x.c", 3, &dc);
	sha_buf("x.h", 3, &dh);
	struct reapi_input in[] = {{"x.h", {dh, 1}, 0}, {"x.c", {dc, 1}, 1}};
	const char *env[] = {"CC=gcc", "LANG=C", "PATH=/usr/local/bin:/usr/bin:/bin"};
	char flags[32];
	snprintf(flags, sizeof flags, "cairn-flags=%u", (unsigned)ACT_NETWORK);
	const char *props[] = {"sandbox=none", flags, "platform=linux-x86_64"};
	const char *outs[] = {"x.o"};
	static const char salt[] = "cairn-action-key 3";
	struct reapi_spec s = {.argv = base_argv, .argc = 3, .env = env, .nenv = 3,
	                       .outputs = outs, .noutputs = 1, .props = props, .nprops = 3,
	                       .in = in, .nin = 2, .salt = salt, .salt_len = sizeof salt - 1};
	struct reapi_builder *b = reapi_builder_new();
	struct reapi_action out;
	struct err e = {0};
	CHECK(reapi_build(b, &s, &out, &e) == 0);
	CHECK(digest_eq(&out.action.hash, &key));
	CHECK(out.action.size == last_size); /* the whole REAPI digest */
	CHECK(digest_eq(&out.command.hash, &cmd));
	reapi_builder_free(b);
	err_clear(&e);
}

TEST(key_ignores_listing_order)
{
	struct kspec k;
	k = base(), k.in = L("x.h", "x.c");
	compare("inputs reordered", &k, 1, 1);
	k = base(), k.in = L("x.h", "x.c", "x.h");
	compare("input repeated", &k, 1, 1);
	k = base(), k.env = L("LANG=C", "CC=gcc");
	compare("env reordered", &k, 1, 1);
	/* the bumped input is found by path, wherever it was listed */
	k = base(), k.in = L("x.h", "x.c"), k.bump = "x.h";
	struct kspec b = base();
	b.bump = "x.h";
	struct digest k0, c0, k1, c1;
	key_of(&b, &k0, &c0);
	key_of(&k, &k1, &c1);
	CHECK(digest_eq(&k0, &k1) && digest_eq(&c0, &c1));
	/* the default PATH spelled out is the default PATH */
	k = base(), k.env = L("CC=gcc", "LANG=C", "PATH=/usr/local/bin:/usr/bin:/bin");
	compare("explicit default PATH", &k, 1, 1);
	k = base(), k.env = L("CC=gcc", "LANG=C", "PATH=/opt/bin");
	compare("own PATH", &k, 0, 0);
}

/* key_env of an action with the given env, as one ';'-joined string. */
static char *env_of(const char **env)
{
	struct graph g = {0};
	struct err e = {0};
	struct action_spec s = {.label = "//k:e", .argv = L("true"), .argc = 1,
	                        .env = env, .nenv = count(env),
	                        .outputs = L("e.out"), .noutputs = 1};
	struct action *a = graph_add_action(&g, &s, &e);
	struct buf b = {0};
	if (a) {
		const char **v = key_env(a);
		for (size_t i = 0; v[i]; i++)
			buf_printf(&b, "%s%s", i ? ";" : "", v[i]);
		free(v);
	}
	err_clear(&e);
	graph_free(&g);
	return buf_take(&b);
}

static void check_env(const char **env, const char *want)
{
	char *got = env_of(env);
	CHECK_STR(got, want);
	free(got);
}

TEST(key_env_default_path)
{
	const char *P = "PATH=/usr/local/bin:/usr/bin:/bin";
	char *w;
	check_env(none, P);
	w = xasprintf("A=1;%s;Z=2", P);
	check_env(L("Z=2", "A=1"), w);
	free(w);
	/* names around PATH: PAT sorts before it, PATH0 and PATH_X after */
	w = xasprintf("PAT=1;%s;PATH0=2;PATH_X=3", P);
	check_env(L("PATH_X=3", "PATH0=2", "PAT=1"), w);
	free(w);
	w = xasprintf("%s;a=1", P); /* lower case sorts after upper */
	check_env(L("a=1"), w);
	free(w);
	w = xasprintf("B=1;%s", P);
	check_env(L("B=1"), w);
	free(w);
	/* the action's own PATH wins, and no default is added */
	check_env(L("PATH=/opt/bin", "A=1"), "A=1;PATH=/opt/bin");
	check_env(L("PATH="), "PATH=");
}
