/* key: the action key as REAPI's Action digest (reapi/reapi.c has the
 * messages). What goes where:
 *   Command.arguments            argv
 *   Command.environment_variables key_env (the action's, and PATH)
 *   Command.output_paths         the outputs
 *   Command.platform             the execution properties (sandbox mode,
 *                                platform), and "cairn-flags=N" for the
 *                                action's tags that change how it runs
 *   input root                   the key's inputs (path, digest, size,
 *                                executable bit)
 *   Action.salt                  "cairn-action-key" and KEY_VERSION
 * The command digest is the Command's. Paths are workspace-relative, so
 * the key is the same on any machine and in any checkout. A change to
 * what goes where means bumping KEY_VERSION.
 *
 * An action REAPI cannot describe (a path no Directory can hold, which
 * the build language does not make) is keyed by a digest of the same
 * parts under another salt, never equal to an Action digest. */
#include "exec/key.h"
#include "reapi/reapi.h"
#include "util/str.h"
#include "util/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2: results must cover what their run read; 3: REAPI's Action digest */
#define KEY_VERSION 3

static const char DEFAULT_PATH[] = "PATH=/usr/local/bin:/usr/bin:/bin";

const char **key_env(const struct action *a)
{
	const char **v = xcalloc(a->nenv + 2, sizeof *v);
	size_t n = 0;
	int has_path = 0;
	for (size_t i = 0; i < a->nenv; i++)
		if (!strncmp(a->env[i], "PATH=", 5))
			has_path = 1;
	/* a->env is sorted; PATH goes in its sorted place */
	int placed = has_path;
	for (size_t i = 0; i < a->nenv; i++) {
		if (!placed && strcmp(a->env[i], "PATH") > 0) {
			v[n++] = DEFAULT_PATH;
			placed = 1;
		}
		v[n++] = a->env[i];
	}
	if (!placed)
		v[n++] = DEFAULT_PATH;
	v[n] = NULL;
	return v;
}

static void put_str(struct buf *b, const char *s)
{
	buf_put_lstr(b, s, strlen(s));
}

/* The key of an action REAPI cannot describe: the same parts, encoded
 * plainly under a salt of its own. */
static void fallback(const struct reapi_spec *s, struct digest *key, struct digest *cmd)
{
	struct buf b = {0};
	put_str(&b, "cairn-action-key-plain");
	buf_put_u32(&b, KEY_VERSION);
	for (size_t i = 0; i < s->argc; i++)
		put_str(&b, s->argv[i]);
	for (size_t i = 0; i < s->nenv; i++)
		put_str(&b, s->env[i]);
	for (size_t i = 0; i < s->noutputs; i++)
		put_str(&b, s->outputs[i]);
	for (size_t i = 0; i < s->nprops; i++)
		put_str(&b, s->props[i]);
	sha_buf(b.s, b.len, cmd);
	for (size_t i = 0; i < s->nin; i++) {
		put_str(&b, s->in[i].path);
		buf_putn(&b, s->in[i].d.hash.b, 32);
		buf_put_u64(&b, s->in[i].d.size);
		buf_put_u32(&b, (unsigned)s->in[i].exec);
	}
	sha_buf(b.s, b.len, key);
	buf_free(&b);
}

/* Scratch kept from one key to the next (keys are made on one thread). */
static struct {
	struct reapi_builder *b;
	const char **outs, **props;
	struct reapi_input *in;
	size_t capouts, capprops, capin;
	char *propbuf;
	size_t cappropbuf;
	char flags[32];
} kx;

static const char salt[] = "cairn-action-key 3";

void key_spec(const struct action *a, const char *const *env, const struct key_input *in,
              size_t nin, const char *props, struct reapi_spec *s)
{
	if (!kx.b)
		kx.b = reapi_builder_new();
	vec_reserve(&kx.outs, &kx.capouts, a->noutputs + 1, sizeof *kx.outs);
	for (size_t i = 0; i < a->noutputs; i++)
		kx.outs[i] = a->outputs[i]->path;
	/* the properties, ';'-separated, and the flags as one more */
	size_t plen = strlen(props);
	vec_reserve(&kx.propbuf, &kx.cappropbuf, plen + 32, 1);
	memcpy(kx.propbuf, props, plen + 1);
	size_t np = 0;
	vec_reserve(&kx.props, &kx.capprops, plen / 2 + 3, sizeof *kx.props);
	for (char *p = kx.propbuf, *semi; *p; p = semi ? semi + 1 : p + strlen(p)) {
		semi = strchr(p, ';');
		if (semi)
			*semi = 0;
		if (*p)
			kx.props[np++] = p;
		if (!semi)
			break;
	}
	/* where it may run is no part of what it computes */
	unsigned flags = a->flags & ~(unsigned)ACT_NO_REMOTE;
	if (flags) {
		snprintf(kx.flags, sizeof kx.flags, "cairn-flags=%u", flags);
		kx.props[np++] = kx.flags;
	}
	vec_reserve(&kx.in, &kx.capin, nin + 1, sizeof *kx.in);
	for (size_t i = 0; i < nin; i++)
		kx.in[i] = (struct reapi_input){in[i].path, {in[i].d, in[i].size}, in[i].exec};
	*s = (struct reapi_spec){
		.argv = a->argv, .argc = a->argc, .env = env, .nenv = strv_len(env),
		.outputs = kx.outs, .noutputs = a->noutputs, .props = kx.props, .nprops = np,
		.in = kx.in, .nin = nin, .salt = salt, .salt_len = sizeof salt - 1,
	};
}

void key_compute(const struct action *a, const char *const *env,
                 const struct key_input *in, size_t nin, const char *props,
                 struct digest *key, uint64_t *key_size, struct digest *cmd)
{
	struct reapi_spec s;
	key_spec(a, env, in, nin, props, &s);
	struct reapi_action out;
	struct err e = {0};
	if (reapi_build(kx.b, &s, &out, &e) < 0) {
		err_clear(&e);
		fallback(&s, key, cmd);
		*key_size = 0;
		return;
	}
	*key = out.action.hash;
	*key_size = out.action.size;
	*cmd = out.command.hash;
}
