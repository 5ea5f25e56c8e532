/* reapi: an action as REAPI v2 messages (src/reapi/proto/, compiled by
 * protoc-c at build time) and their digests.
 *
 * The canonical form. A digest is the SHA-256 of a message's binary
 * protobuf encoding, and REAPI requires that encoding to be canonical:
 * fields in tag order, no unknown or duplicate fields, proto3 defaults
 * (zero, "", false) left out. protobuf-c packs exactly so. What the
 * protocol also requires, and this file does:
 *   Command: arguments as given; environment_variables sorted by name;
 *     output paths sorted by bytes and unique, written both as
 *     output_files (3, what servers before v2.1, Bazel 4's RemoteWorker
 *     among them, read) and output_paths (7, what later ones read);
 *     platform properties sorted by name then value, in Command.platform
 *     (read before v2.2) and Action.platform (v2.2); no Platform message
 *     at all when there are no properties.
 *   Directory: one per directory of the input root; files and directories
 *     each sorted by name (bytes); a child directory is named by the
 *     digest of its own Directory message, so the root's digest covers
 *     the whole tree. An empty root encodes to zero bytes: its digest is
 *     e3b0c442...b855/0.
 *   Action: command_digest, input_root_digest, then timeout, do_not_cache,
 *     salt, platform when set.
 * Digest.hash is 64 lowercase hex digits; size_bytes the length (left out
 * when 0, as proto3 wants).
 *
 * Speed. The key is computed for every action, some with thousands of
 * inputs. The builder keeps its buffers between builds: every message
 * struct of one build comes from a bump scratch that is reset, not freed;
 * the encoded messages are packed back to back into one buffer and hashed
 * in place. The inputs are walked once sorted (already sorted input costs
 * one linear check, not a sort), each directory's children found as a
 * contiguous run of that order. Hashing dominates what is left, and the
 * actions of a build share directories (a package's compiles see the same
 * headers of the same dependencies): a small direct-mapped memo of
 * encoded Directory messages, compared in full, gives a repeated
 * directory its digest without hashing it again. */
#include "reapi/reapi.h"
#include "util/util.h"
#include "duration.pb-c.h"
#include "remote_execution.pb-c.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef Build__Bazel__Remote__Execution__V2__Digest pb_digest;
typedef Build__Bazel__Remote__Execution__V2__Action pb_action;
typedef Build__Bazel__Remote__Execution__V2__Command pb_command;
typedef Build__Bazel__Remote__Execution__V2__Command__EnvironmentVariable pb_env;
typedef Build__Bazel__Remote__Execution__V2__Platform pb_platform;
typedef Build__Bazel__Remote__Execution__V2__Platform__Property pb_prop;
typedef Build__Bazel__Remote__Execution__V2__Directory pb_dir;
typedef Build__Bazel__Remote__Execution__V2__FileNode pb_file;
typedef Build__Bazel__Remote__Execution__V2__DirectoryNode pb_dirnode;
typedef Google__Protobuf__Duration pb_duration;

/* A bump allocator for one build's message structs: reset keeps the
 * newest (largest) block, so a warm builder allocates nothing. */
struct sblock {
	struct sblock *next; /* older block */
	size_t size;         /* usable bytes in data */
	_Alignas(16) unsigned char data[];
};

struct scratch {
	struct sblock *head; /* newest block */
	size_t used;         /* bytes used in head */
};

/* A file node with its digest and hex, one per input. */
struct fnode {
	pb_file f;
	pb_digest d;
	char hex[65];
};

/* A Directory message seen before and its digest. */
struct memo {
	uint64_t sum;         /* check64 of the bytes; 0: empty slot */
	unsigned char *bytes; /* the encoded message, d.size long; owned */
	size_t cap;           /* bytes allocated */
	struct reapi_digest d;
};

enum {
	MEMO_SLOTS = 1024,   /* direct-mapped by sum */
	MEMO_MAX = 4096,     /* larger messages are hashed every time */
};

struct reapi_builder {
	struct memo memo[MEMO_SLOTS]; /* Directory messages, kept across builds */
	struct scratch sc;           /* this build's structs and strings */
	unsigned char *out;          /* the encoded messages, back to back */
	size_t outlen, outcap;
	struct reapi_blob *blobs;    /* one per message; p set at the end */
	size_t *offs;                /* each blob's offset in out */
	size_t nblobs, blobcap, offcap;
	const struct reapi_input **sorted; /* the inputs in tree order */
	size_t sortcap;
	struct fnode *fn;            /* file nodes, by position in sorted */
	size_t fncap;
	pb_file **fstk;              /* files of the directories being built */
	size_t fstop, fstcap;
	pb_dirnode **dstk;           /* subdirectories of the same */
	size_t dstop, dstcap;
};

static void *sc_alloc(struct scratch *s, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (!s->head || s->used + n > s->head->size) {
		size_t sz = s->head ? 2 * s->head->size : 64 * 1024;
		while (sz < n)
			sz *= 2;
		struct sblock *b = xmalloc(sizeof *b + sz);
		b->size = sz;
		b->next = s->head;
		s->head = b;
		s->used = 0;
	}
	void *p = s->head->data + s->used;
	s->used += n;
	return p;
}

static char *sc_strndup(struct scratch *s, const char *p, size_t n)
{
	char *q = sc_alloc(s, n + 1);
	memcpy(q, p, n);
	q[n] = 0;
	return q;
}

static void sc_reset(struct scratch *s)
{
	if (!s->head)
		return;
	struct sblock *b = s->head->next;
	while (b) {
		struct sblock *n = b->next;
		free(b);
		b = n;
	}
	s->head->next = NULL;
	s->used = 0;
}

struct reapi_builder *reapi_builder_new(void)
{
	return xcalloc(1, sizeof(struct reapi_builder));
}

void reapi_builder_free(struct reapi_builder *b)
{
	if (!b)
		return;
	sc_reset(&b->sc);
	free(b->sc.head);
	for (size_t i = 0; i < MEMO_SLOTS; i++)
		free(b->memo[i].bytes);
	free(b->out);
	free(b->blobs);
	free(b->offs);
	free(b->sorted);
	free(b->fn);
	free(b->fstk);
	free(b->dstk);
	free(b);
}

void reapi_digest_of(const void *p, size_t n, struct reapi_digest *d)
{
	sha_buf(n ? p : "", n, &d->hash);
	d->size = n;
}

void reapi_digest_str(const struct reapi_digest *d, char out[REAPI_DIGEST_STR])
{
	digest_hex(&d->hash, out);
	snprintf(out + 64, REAPI_DIGEST_STR - 64, "/%" PRIu64, d->size);
}

/* d as a Digest message, hex into hex[65]. */
static void pb_digest_set(pb_digest *m, char *hex, const struct reapi_digest *d)
{
	build__bazel__remote__execution__v2__digest__init(m);
	digest_hex(&d->hash, hex);
	m->hash = hex;
	m->size_bytes = (int64_t)d->size;
}

static pb_digest *pb_digest_new(struct scratch *s, const struct reapi_digest *d)
{
	pb_digest *m = sc_alloc(s, sizeof *m);
	pb_digest_set(m, sc_alloc(s, 65), d);
	return m;
}

/* Encode m at the end of b->out, hash it in place, list it as a blob. */
static struct reapi_digest put_msg(struct reapi_builder *b, const ProtobufCMessage *m,
                                   enum reapi_kind kind)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	vec_reserve(&b->out, &b->outcap, b->outlen + n + 1, 1);
	if (protobuf_c_message_pack(m, b->out + b->outlen) != n)
		die_internal("protobuf-c packed another size than it announced");
	const unsigned char *p = b->out + b->outlen;
	struct reapi_digest d;
	struct memo *me = NULL;
	uint64_t sum = 0;
	if (kind == REAPI_DIRECTORY && n && n <= MEMO_MAX) {
		sum = check64(p, n) ^ n;
		sum += !sum;
		me = &b->memo[sum % MEMO_SLOTS];
	}
	if (me && me->sum == sum && me->d.size == n && !memcmp(me->bytes, p, n)) {
		d = me->d;
	} else {
		reapi_digest_of(p, n, &d);
		if (me) {
			vec_reserve(&me->bytes, &me->cap, n, 1);
			memcpy(me->bytes, p, n);
			me->sum = sum;
			me->d = d;
		}
	}
	vec_reserve(&b->blobs, &b->blobcap, b->nblobs + 1, sizeof *b->blobs);
	vec_reserve(&b->offs, &b->offcap, b->nblobs + 1, sizeof *b->offs);
	b->blobs[b->nblobs] = (struct reapi_blob){.kind = kind, .d = d};
	b->offs[b->nblobs++] = b->outlen;
	b->outlen += n;
	return d;
}


/* Tree order: bytes, with '/' below every other byte, so that within a
 * directory its entries come by name, and everything under a directory is
 * one contiguous run right after it. */
static int tree_cmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	int x = *a == '/' ? 1 : *a ? (unsigned char)*a + 1 : 0;
	int y = *b == '/' ? 1 : *b ? (unsigned char)*b + 1 : 0;
	return x - y;
}

static int cmp_tree(const void *x, const void *y)
{
	return tree_cmp((*(const struct reapi_input *const *)x)->path,
	                (*(const struct reapi_input *const *)y)->path);
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static int cmp_env(const void *x, const void *y)
{
	return strcmp((*(pb_env *const *)x)->name, (*(pb_env *const *)y)->name);
}

static int cmp_prop(const void *x, const void *y)
{
	const pb_prop *a = *(pb_prop *const *)x, *b = *(pb_prop *const *)y;
	int c = strcmp(a->name, b->name);
	return c ? c : strcmp(a->value, b->value);
}

/* Split "NAME=VALUE" into a name copied into the scratch and a value that
 * points into s; -1 without '='. */
static int split_kv(struct scratch *sc, const char *s, char **name, char **value)
{
	const char *eq = strchr(s, '=');
	if (!eq)
		return -1;
	*name = sc_strndup(sc, s, (size_t)(eq - s));
	*value = (char *)eq + 1;
	return 0;
}

static pb_platform *make_platform(struct reapi_builder *b, const struct reapi_spec *s,
                                  struct err *e)
{
	if (!s->nprops)
		return NULL;
	pb_platform *pl = sc_alloc(&b->sc, sizeof *pl);
	build__bazel__remote__execution__v2__platform__init(pl);
	pl->properties = sc_alloc(&b->sc, s->nprops * sizeof *pl->properties);
	for (size_t i = 0; i < s->nprops; i++) {
		pb_prop *p = sc_alloc(&b->sc, sizeof *p);
		build__bazel__remote__execution__v2__platform__property__init(p);
		if (split_kv(&b->sc, s->props[i], &p->name, &p->value) < 0) {
			err_input(e, NULL, "platform property '%s' is not name=value", s->props[i]);
			return NULL;
		}
		pl->properties[i] = p;
	}
	pl->n_properties = s->nprops;
	xqsort(pl->properties, pl->n_properties, sizeof *pl->properties, cmp_prop);
	return pl;
}

static int put_command(struct reapi_builder *b, const struct reapi_spec *s, pb_platform *pl,
                       struct reapi_digest *d, struct err *e)
{
	pb_command c;
	build__bazel__remote__execution__v2__command__init(&c);
	c.n_arguments = s->argc;
	c.arguments = (char **)s->argv;

	pb_env **env = sc_alloc(&b->sc, (s->nenv + 1) * sizeof *env);
	for (size_t i = 0; i < s->nenv; i++) {
		env[i] = sc_alloc(&b->sc, sizeof *env[i]);
		build__bazel__remote__execution__v2__command__environment_variable__init(env[i]);
		if (split_kv(&b->sc, s->env[i], &env[i]->name, &env[i]->value) < 0)
			return err_input(e, NULL, "environment entry '%s' is not NAME=VALUE", s->env[i]);
	}
	xqsort(env, s->nenv, sizeof *env, cmp_env);
	for (size_t i = 1; i < s->nenv; i++)
		if (!strcmp(env[i - 1]->name, env[i]->name))
			return err_input(e, NULL, "environment variable '%s' is set twice", env[i]->name);
	c.n_environment_variables = s->nenv;
	c.environment_variables = env;

	char **out = sc_alloc(&b->sc, (s->noutputs + 1) * sizeof *out);
	size_t nout = 0;
	for (size_t i = 0; i < s->noutputs; i++) {
		if (!path_components_ok(s->outputs[i]))
			return err_input(e, NULL, "output path '%s' is not a relative path in canonical form",
			                 s->outputs[i]);
		out[i] = (char *)s->outputs[i];
	}
	xqsort(out, s->noutputs, sizeof *out, cmp_str);
	for (size_t i = 0; i < s->noutputs; i++)
		if (!nout || strcmp(out[nout - 1], out[i]))
			out[nout++] = out[i];
	c.n_output_files = c.n_output_paths = nout;
	c.output_files = c.output_paths = out;
	c.platform = pl;
	*d = put_msg(b, &c.base, REAPI_COMMAND);
	return 0;
}

/* Encode the directory whose entries are b->sorted[lo..) sharing the first
 * off bytes of their paths (the directory's path and its '/'), children
 * first. *end gets the index after its run. */
static struct reapi_digest put_dir(struct reapi_builder *b, size_t lo, size_t nin, size_t off,
                                   size_t *end)
{
	const char *pre = b->sorted[lo]->path;
	size_t fbase = b->fstop, dbase = b->dstop, i = lo;
	while (i < nin && (off == 0 || !memcmp(b->sorted[i]->path, pre, off))) {
		const char *name = b->sorted[i]->path + off;
		const char *slash = strchr(name, '/');
		if (!slash) {
			vec_reserve(&b->fstk, &b->fstcap, b->fstop + 1, sizeof *b->fstk);
			b->fstk[b->fstop++] = &b->fn[i].f;
			i++;
			continue;
		}
		size_t len = (size_t)(slash - name);
		struct reapi_digest d = put_dir(b, i, nin, off + len + 1, &i);
		pb_dirnode *dn = sc_alloc(&b->sc, sizeof *dn);
		build__bazel__remote__execution__v2__directory_node__init(dn);
		dn->name = sc_strndup(&b->sc, name, len);
		dn->digest = pb_digest_new(&b->sc, &d);
		vec_reserve(&b->dstk, &b->dstcap, b->dstop + 1, sizeof *b->dstk);
		b->dstk[b->dstop++] = dn;
	}
	*end = i;
	pb_dir m;
	build__bazel__remote__execution__v2__directory__init(&m);
	m.n_files = b->fstop - fbase;
	m.files = b->fstk ? b->fstk + fbase : NULL;
	m.n_directories = b->dstop - dbase;
	m.directories = b->dstk ? b->dstk + dbase : NULL;
	struct reapi_digest d = put_msg(b, &m.base, REAPI_DIRECTORY);
	b->fstop = fbase;
	b->dstop = dbase;
	return d;
}

static int put_input_root(struct reapi_builder *b, const struct reapi_spec *s,
                          struct reapi_digest *root, struct err *e)
{
	size_t n = s->nin;
	vec_reserve(&b->sorted, &b->sortcap, n + 1, sizeof *b->sorted);
	int sorted = 1;
	for (size_t i = 0; i < n; i++) {
		if (!path_components_ok(s->in[i].path))
			return err_input(e, NULL, "input path '%s' is not a relative path in canonical form",
			                 s->in[i].path);
		b->sorted[i] = &s->in[i];
		if (i && tree_cmp(s->in[i - 1].path, s->in[i].path) >= 0)
			sorted = 0;
	}
	if (!sorted)
		xqsort(b->sorted, n, sizeof *b->sorted, cmp_tree);
	vec_reserve(&b->fn, &b->fncap, n + 1, sizeof *b->fn);
	for (size_t i = 0; i < n; i++) {
		const char *p = b->sorted[i]->path;
		if (i + 1 < n) {
			const char *q = b->sorted[i + 1]->path;
			size_t len = strlen(p);
			if (!strcmp(p, q))
				return err_input(e, NULL, "input path '%s' is given twice", p);
			/* in tree order, a directory's contents follow right after a
			 * file of the same name */
			if (!strncmp(p, q, len) && q[len] == '/')
				return err_input(e, NULL, "input path '%s' is both a file and a directory", p);
		}
		struct fnode *f = &b->fn[i];
		build__bazel__remote__execution__v2__file_node__init(&f->f);
		const char *slash = strrchr(p, '/');
		f->f.name = (char *)(slash ? slash + 1 : p);
		pb_digest_set(&f->d, f->hex, &b->sorted[i]->d);
		f->f.digest = &f->d;
		f->f.is_executable = b->sorted[i]->exec != 0;
	}
	if (!n) {
		pb_dir m;
		build__bazel__remote__execution__v2__directory__init(&m);
		*root = put_msg(b, &m.base, REAPI_DIRECTORY);
		return 0;
	}
	size_t end;
	*root = put_dir(b, 0, n, 0, &end);
	return 0;
}

int reapi_build(struct reapi_builder *b, const struct reapi_spec *s, struct reapi_action *out,
                struct err *e)
{
	sc_reset(&b->sc);
	b->outlen = b->nblobs = b->fstop = b->dstop = 0;
	memset(out, 0, sizeof *out);
	pb_platform *pl = NULL;
	if (s->nprops && !(pl = make_platform(b, s, e)))
		return -1;
	if (put_command(b, s, pl, &out->command, e) < 0 ||
	    put_input_root(b, s, &out->input_root, e) < 0)
		return -1;

	pb_action a;
	build__bazel__remote__execution__v2__action__init(&a);
	pb_digest cd, rd;
	char chex[65], rhex[65];
	pb_digest_set(&cd, chex, &out->command);
	pb_digest_set(&rd, rhex, &out->input_root);
	a.command_digest = &cd;
	a.input_root_digest = &rd;
	pb_duration t;
	if (s->timeout_ms) {
		google__protobuf__duration__init(&t);
		t.seconds = (int64_t)(s->timeout_ms / 1000);
		t.nanos = (int32_t)(s->timeout_ms % 1000 * 1000000);
		a.timeout = &t;
	}
	a.do_not_cache = s->do_not_cache != 0;
	if (s->salt_len)
		a.salt = (ProtobufCBinaryData){s->salt_len, (uint8_t *)s->salt};
	a.platform = pl;
	out->action = put_msg(b, &a.base, REAPI_ACTION);

	for (size_t i = 0; i < b->nblobs; i++)
		b->blobs[i].p = b->out + b->offs[i];
	out->blobs = b->blobs;
	out->nblobs = b->nblobs;
	return 0;
}
