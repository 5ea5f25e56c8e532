/* key: the canonical encoding. All integers u32 little-endian, strings
 * length-prefixed, lists count-prefixed, in this order:
 *   "cairn-action-key" version (KEY_VERSION)
 *   argv: n, each string
 *   env:  n, each "K=V" (sorted by K)
 *   outputs: n, each path (sorted)
 *   props: string (execution properties: sandbox mode, platform)
 *   flags: the action's tags that change how it runs (no-sandbox, ...)
 *   inputs: n, each path (sorted) followed by its 32-byte digest
 * The command digest is the same stream stopped before the inputs. Paths
 * are workspace-relative, so the key is the same on any machine and in any
 * checkout. Changing this encoding means bumping the version. */
#include "exec/key.h"
#include "util/str.h"
#include "util/util.h"
#include <stdlib.h>
#include <string.h>

/* 2: results must cover what their run read */
#define KEY_VERSION 2

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

void key_compute(const struct action *a, const char *const *env,
                 const struct key_input *in, size_t nin, const char *props,
                 struct digest *key, struct digest *cmd)
{
	struct buf b = {0};
	put_str(&b, "cairn-action-key");
	buf_put_u32(&b, KEY_VERSION);
	buf_put_u32(&b, (unsigned)a->argc);
	for (size_t i = 0; i < a->argc; i++)
		put_str(&b, a->argv[i]);
	size_t n = strv_len(env);
	buf_put_u32(&b, (unsigned)n);
	for (size_t i = 0; i < n; i++)
		put_str(&b, env[i]);
	buf_put_u32(&b, (unsigned)a->noutputs);
	for (size_t i = 0; i < a->noutputs; i++)
		put_str(&b, a->outputs[i]->path);
	put_str(&b, props);
	buf_put_u32(&b, a->flags);
	sha_buf(b.s, b.len, cmd);
	buf_put_u32(&b, (unsigned)nin);
	for (size_t i = 0; i < nin; i++) {
		put_str(&b, in[i].path);
		buf_putn(&b, in[i].d.b, 32);
	}
	sha_buf(b.s, b.len, key);
	buf_free(&b);
}
