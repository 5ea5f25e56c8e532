/* Unit tests of the remote cache behind the local store
 * (remote/remote_store.c), on an in-memory local store (memfs.h) seen
 * through a tracing wrapper, and a scripted remote (fake_cas.h): a remote
 * hit stores its blobs then its result, a result with a blob missing or
 * bad stores nothing, uploads go after close (blobs first, only the
 * missing ones), lazy mode fetches blobs on first use, and a separate
 * stderr is merged into the log. */
#include "fake_cas.h"
#include "memfs.h"
#include "remote/remote_store.h"
#include "remote/result.h"
#include "remote_execution.pb-c.h"
#include "test.h"
#include "util/util.h"
#include <stdlib.h>

/* ---- a store that notes the puts it passes on to memstore ---- */

struct tstore {
	struct store base;   /* first */
	struct store *inner; /* owned */
	char trace[64];      /* b put_blob (or put_file), r put_result */
	size_t n;
};

static void tnote(struct tstore *t, char c)
{
	if (t->n + 1 < sizeof t->trace)
		t->trace[t->n++] = c;
}

static int t_get_result(struct store *s, const struct digest *key, uint64_t key_size,
                        struct action_result *r)
{
	struct tstore *t = (struct tstore *)s;
	return t->inner->ops->get_result(t->inner, key, key_size, r);
}

static int t_put_result(struct store *s, const struct digest *key, uint64_t key_size,
                        const struct action_result *r)
{
	struct tstore *t = (struct tstore *)s;
	tnote(t, 'r');
	return t->inner->ops->put_result(t->inner, key, key_size, r);
}

static int t_put_file(struct store *s, const char *path, struct digest *d, uint64_t *size)
{
	struct tstore *t = (struct tstore *)s;
	tnote(t, 'b');
	return t->inner->ops->put_file(t->inner, path, d, size);
}

static int t_put_blob(struct store *s, const void *p, size_t n, struct digest *d)
{
	struct tstore *t = (struct tstore *)s;
	tnote(t, 'b');
	return t->inner->ops->put_blob(t->inner, p, n, d);
}

static int t_get_file(struct store *s, const struct digest *d, const char *dst, unsigned mode)
{
	struct tstore *t = (struct tstore *)s;
	return t->inner->ops->get_file(t->inner, d, dst, mode);
}

static int t_get_blob(struct store *s, const struct digest *d, struct buf *b)
{
	struct tstore *t = (struct tstore *)s;
	return t->inner->ops->get_blob(t->inner, d, b);
}

static void t_close(struct store *s)
{
	struct tstore *t = (struct tstore *)s;
	t->inner->ops->close(t->inner);
	free(t);
}

static const struct store_ops tstore_ops = {
	.get_result = t_get_result,
	.put_result = t_put_result,
	.put_file = t_put_file,
	.put_blob = t_put_blob,
	.get_file = t_get_file,
	.get_blob = t_get_blob,
	.close = t_close,
};

/* ---- the rig: memfs, the local store, the fake remote, the store ---- */

struct rig {
	struct memfs m;
	struct tstore *local; /* owned by s */
	struct fake_cas *f;
	struct cas *c;
	struct store *s;
};

static void rig_open(struct rig *g, int upload, int lazy)
{
	memfs_init(&g->m);
	g->local = xcalloc(1, sizeof *g->local);
	g->local->base.ops = &tstore_ops;
	g->local->inner = memstore_open(&g->m);
	g->f = fake_new();
	g->c = cas_new(&g->f->base, "http://cache.test");
	g->s = remote_store_open(&g->local->base, g->c, upload, lazy);
}

/* Close the store (its uploads finish), keeping the fake to look at. */
static void rig_close_store(struct rig *g)
{
	if (g->s)
		g->s->ops->close(g->s);
	g->s = NULL;
	g->local = NULL;
}

static void rig_close(struct rig *g)
{
	rig_close_store(g);
	cas_free(g->c);
	fake_free(g->f);
	memfs_free(&g->m);
}

/* Does the local store (below the remote one) hold text's blob? */
static int local_has(struct rig *g, const char *text)
{
	struct digest d;
	sha_buf(text, strlen(text), &d);
	struct buf b = {0};
	int ok = g->local->inner->ops->get_blob(g->local->inner, &d, &b) == 0 &&
	         b.len == strlen(text) && memcmp(b.s ? b.s : "", text, b.len) == 0;
	buf_free(&b);
	return ok;
}

static int local_has_result(struct rig *g, const struct digest *key)
{
	struct action_result r;
	int hit = g->local->inner->ops->get_result(g->local->inner, key, 0, &r) == 1;
	if (hit)
		action_result_free(&r);
	return hit;
}

/* A result with outputs named by their texts, and a log. */
static void result_of(struct action_result *r, const char *log, const char *a, const char *b)
{
	memset(r, 0, sizeof *r);
	const char *txt[2] = {a, b};
	r->outputs = xcalloc(2, sizeof *r->outputs);
	for (int i = 0; i < 2 && txt[i]; i++) {
		struct result_output *o = &r->outputs[r->noutputs++];
		o->path = xasprintf("out/%c", 'a' + i);
		sha_buf(txt[i], strlen(txt[i]), &o->d);
		o->size = strlen(txt[i]);
		o->mode = 0644;
	}
	sha_buf(log, strlen(log), &r->log);
	r->log_size = strlen(log);
}

static void key_of(struct digest *key, const char *name)
{
	sha_buf(name, strlen(name), key);
}

static int blob_is(const struct buf *b, const char *text)
{
	return b->len == strlen(text) && memcmp(b->s ? b->s : "", text, b->len) == 0;
}

/* The remote holds result "k1": log "log one", outputs "alpha" and "beta",
 * every blob there too. */
static void seed_k1(struct rig *g, struct digest *key, struct action_result *want)
{
	key_of(key, "k1");
	result_of(want, "log one", "alpha", "beta");
	fake_put_blob(g->f, "log one", NULL);
	fake_put_blob(g->f, "alpha", NULL);
	fake_put_blob(g->f, "beta", NULL);
	fake_put_result(g->f, key, want);
}

TEST(remote_store_hit_stores_blobs_then_result)
{
	struct rig g;
	rig_open(&g, 0, 0);
	struct digest key;
	struct action_result want;
	seed_k1(&g, &key, &want);

	struct action_result r;
	CHECK(g.s->ops->get_result(g.s, &key, 321, &r) == 1);
	CHECK(r.remote == 1);
	CHECK(g.f->key_size == 321); /* the whole Action digest went out */
	CHECK(r.noutputs == 2 && digest_eq(&r.log, &want.log) && r.log_size == 7);
	if (r.noutputs == 2)
		CHECK_STR(r.outputs[1].path, "out/b");
	action_result_free(&r);
	CHECK(remote_store_hits(g.s) == 1);
	CHECK(local_has(&g, "alpha") && local_has(&g, "beta") && local_has(&g, "log one"));
	CHECK(local_has_result(&g, &key));
	CHECK_STR(g.local->trace, "bbbr"); /* every blob, then the result */

	/* the second lookup is local */
	int calls = fake_calls(g.f);
	CHECK(g.s->ops->get_result(g.s, &key, 0, &r) == 1);
	CHECK(fake_calls(g.f) == calls);
	CHECK(remote_store_hits(g.s) == 1);
	action_result_free(&r);
	action_result_free(&want);
	rig_close(&g);
}

TEST(remote_store_missing_blob_is_a_miss_storing_nothing)
{
	struct rig g;
	rig_open(&g, 0, 0);
	struct digest key;
	key_of(&key, "k1");
	struct action_result want;
	result_of(&want, "log one", "alpha", "beta");
	fake_put_blob(g.f, "log one", NULL);
	fake_put_blob(g.f, "alpha", NULL); /* beta is not there */
	fake_put_result(g.f, &key, &want);

	struct action_result r;
	CHECK(g.s->ops->get_result(g.s, &key, 0, &r) == 0);
	CHECK(g.f->calls[F_GET_BLOBS] == 1);
	CHECK(!local_has(&g, "alpha") && !local_has(&g, "log one"));
	CHECK(!local_has_result(&g, &key));
	CHECK(g.local->n == 0);
	CHECK(remote_store_hits(g.s) == 0);
	CHECK(!cas_absent(g.c)); /* a miss, no fault */
	action_result_free(&want);
	rig_close(&g);
}

TEST(remote_store_failed_remote_result_is_a_miss)
{
	struct rig g;
	rig_open(&g, 0, 0);
	struct digest key;
	key_of(&key, "k1");
	struct action_result want;
	result_of(&want, "log one", "alpha", NULL);
	want.exit_code = 1;
	fake_put_blob(g.f, "log one", NULL);
	fake_put_blob(g.f, "alpha", NULL);
	fake_put_result(g.f, &key, &want);
	struct action_result r;
	CHECK(g.s->ops->get_result(g.s, &key, 0, &r) == 0);
	CHECK(g.f->calls[F_GET_BLOBS] == 0 && g.local->n == 0);
	action_result_free(&want);
	rig_close(&g);
}

TEST(remote_store_given_up_is_local_only)
{
	struct rig g;
	rig_open(&g, 1, 0);
	struct digest k1, k2, d;
	key_of(&k1, "k1");
	key_of(&k2, "k2");
	fake_script(g.f, F_GET_RESULT, CAS_FATAL, "PERMISSION_DENIED");
	struct action_result r;
	CHECK(g.s->ops->get_result(g.s, &k1, 0, &r) == 0);
	CHECK(cas_absent(g.c) && fake_calls(g.f) == 1);
	CHECK(g.s->ops->get_result(g.s, &k2, 0, &r) == 0);
	CHECK(g.s->ops->put_blob(g.s, "alpha", 5, &d) == 0);
	result_of(&r, "", "alpha", NULL);
	CHECK(g.s->ops->put_result(g.s, &k2, 0, &r) == 0); /* kept locally, not queued */
	action_result_free(&r);
	CHECK(g.s->ops->get_result(g.s, &k2, 0, &r) == 1 && r.remote == 0);
	action_result_free(&r);
	rig_close_store(&g);
	CHECK(fake_calls(g.f) == 1);
	rig_close(&g);
}

TEST(remote_store_corrupt_blob_stores_nothing)
{
	struct rig g;
	rig_open(&g, 0, 0);
	struct digest key;
	key_of(&key, "k1");
	struct action_result want;
	result_of(&want, "log one", "alpha", NULL);
	fake_put_blob(g.f, "alpha", NULL);
	fake_put_blob(g.f, "log one", NULL);
	fake_put_result(g.f, &key, &want);
	g.f->corrupt = 3;

	struct action_result r;
	CHECK(g.s->ops->get_result(g.s, &key, 0, &r) == 0);
	CHECK(g.f->calls[F_GET_BLOBS] == 3);
	CHECK(g.local->n == 0);
	CHECK(!local_has_result(&g, &key));
	CHECK(cas_absent(g.c));
	action_result_free(&want);
	rig_close(&g);
}

TEST(remote_store_uploads_after_close_blobs_first_only_missing)
{
	struct rig g;
	rig_open(&g, 1, 0);
	struct digest key, da, db, dl;
	key_of(&key, "k1");
	fake_put_blob(g.f, "beta", NULL); /* the remote has this one */
	CHECK(g.s->ops->put_blob(g.s, "alpha", 5, &da) == 0);
	CHECK(g.s->ops->put_blob(g.s, "beta", 4, &db) == 0);
	CHECK(g.s->ops->put_blob(g.s, "the log", 7, &dl) == 0);
	struct action_result r;
	result_of(&r, "the log", "alpha", "beta");
	CHECK(g.s->ops->put_result(g.s, &key, 0, &r) == 0);
	CHECK(local_has_result(&g, &key));
	rig_close_store(&g); /* the uploads finish */

	CHECK_STR(g.f->trace, "mbR");
	CHECK(g.f->nup == 2);
	CHECK(fake_has_blob(g.f, &da) && fake_has_blob(g.f, &dl));
	for (size_t i = 0; i < g.f->nup; i++)
		CHECK(!digest_eq(&g.f->up[i], &db));
	CHECK(g.f->nresults == 1 && digest_eq(&g.f->rk[0], &key));
	if (g.f->nresults == 1) {
		struct buf want = {0};
		result_encode(&r, &want);
		CHECK(g.f->rv[0].len == want.len && memcmp(g.f->rv[0].s, want.s, want.len) == 0);
		buf_free(&want);
	}
	action_result_free(&r);
	rig_close(&g);
}

/* upload_batch's comment: a result naming a blob the local store lacks
 * "is not sent". The others in its batch must still go up. The uploaders
 * (4) are each held in find_missing with a batch of one, so that the next
 * two results, one of them naming a blob not had locally, make one batch. */
TEST(remote_store_upload_a_result_lacking_a_blob_does_not_sink_its_batch)
{
	struct rig g;
	rig_open(&g, 1, 0);
	struct digest d, empty;
	sha_buf("", 0, &empty);
	fake_hold(g.f);
	char text[8];
	for (int i = 0; i < 4; i++) {
		snprintf(text, sizeof text, "g%d", i);
		CHECK(g.s->ops->put_blob(g.s, text, strlen(text), &d) == 0);
		struct digest key;
		key_of(&key, text);
		struct action_result r;
		result_of(&r, "", text, NULL);
		CHECK(g.s->ops->put_result(g.s, &key, 0, &r) == 0);
		action_result_free(&r);
		fake_wait_inside(g.f, i + 1); /* taken alone */
	}
	struct digest kbad, kgood;
	key_of(&kbad, "bad");
	key_of(&kgood, "good");
	struct action_result bad, good;
	result_of(&bad, "", "never stored locally", NULL);
	result_of(&good, "", "good", NULL);
	CHECK(g.s->ops->put_blob(g.s, "good", 4, &d) == 0);
	CHECK(g.s->ops->put_result(g.s, &kbad, 0, &bad) == 0);
	CHECK(g.s->ops->put_result(g.s, &kgood, 0, &good) == 0);
	fake_release(g.f);
	rig_close_store(&g);

	CHECK(g.f->calls[F_FIND_MISSING] == 5); /* bad and good went as one batch */
	int has_bad = 0, has_good = 0;
	for (size_t i = 0; i < g.f->nresults; i++) {
		has_bad |= digest_eq(&g.f->rk[i], &kbad);
		has_good |= digest_eq(&g.f->rk[i], &kgood);
	}
	CHECK(!has_bad);                  /* it names a blob the remote lacks */
	CHECK(g.f->nresults >= 4);        /* the four alone went up */
	CHECK(has_good);                  /* FAILS: dropped with its batch */
	CHECK(fake_has_blob(g.f, &d));    /* FAILS: its blob too */
	action_result_free(&bad);
	action_result_free(&good);
	rig_close(&g);
}

TEST(remote_store_upload_off_uploads_nothing)
{
	struct rig g;
	rig_open(&g, 0, 0);
	struct digest key, d;
	key_of(&key, "k1");
	CHECK(g.s->ops->put_blob(g.s, "alpha", 5, &d) == 0);
	CHECK(g.s->ops->put_blob(g.s, "the log", 7, &d) == 0);
	struct action_result r;
	result_of(&r, "the log", "alpha", NULL);
	CHECK(g.s->ops->put_result(g.s, &key, 0, &r) == 0);
	rig_close_store(&g);
	CHECK(fake_calls(g.f) == 0);
	CHECK(g.f->nresults == 0 && g.f->nblobs == 0);
	action_result_free(&r);
	rig_close(&g);
}

TEST(remote_store_lazy_hit_fetches_blobs_on_first_use)
{
	struct rig g;
	rig_open(&g, 0, 1);
	struct digest key;
	struct action_result want;
	seed_k1(&g, &key, &want);

	struct action_result r;
	CHECK(g.s->ops->get_result(g.s, &key, 0, &r) == 1);
	CHECK(r.remote == 1);
	action_result_free(&r);
	CHECK(g.f->calls[F_GET_BLOBS] == 0);
	CHECK(local_has_result(&g, &key));
	CHECK(!local_has(&g, "alpha") && !local_has(&g, "beta") && !local_has(&g, "log one"));

	/* get_blob fetches, verified: a first bad answer is not kept */
	g.f->corrupt = 1;
	struct buf b = {0};
	CHECK(g.s->ops->get_blob(g.s, &want.outputs[0].d, &b) == 0);
	CHECK(blob_is(&b, "alpha"));
	CHECK(g.f->calls[F_GET_BLOBS] == 2 && g.f->resets == 1);
	CHECK(local_has(&g, "alpha"));
	buf_free(&b);

	/* get_file too */
	CHECK(g.s->ops->get_file(g.s, &want.outputs[1].d, "ws/out/b", 0644) == 0);
	char *got = memfs_get(&g.m, "ws/out/b");
	CHECK_STR(got, "beta");
	free(got);
	CHECK(g.f->calls[F_GET_BLOBS] == 3);
	CHECK(local_has(&g, "beta"));

	/* a blob no remote result named is not asked for */
	struct digest other;
	sha_buf("other", 5, &other);
	CHECK(g.s->ops->get_blob(g.s, &other, &b) == -1);
	CHECK(g.f->calls[F_GET_BLOBS] == 3);
	buf_free(&b);
	action_result_free(&want);
	rig_close(&g);
}

TEST(remote_store_empty_output_blob_is_a_hit)
{
	struct rig g;
	rig_open(&g, 0, 0);
	struct digest key;
	key_of(&key, "k1");
	struct action_result want;
	result_of(&want, "", "", NULL); /* an empty output, an empty log */
	fake_put_result(g.f, &key, &want); /* and no blob at all */

	struct action_result r;
	CHECK(g.s->ops->get_result(g.s, &key, 0, &r) == 1);
	CHECK(r.noutputs == 1 && r.log_size == 0);
	action_result_free(&r);
	CHECK(g.f->calls[F_GET_BLOBS] == 0);
	CHECK(local_has(&g, "")); /* the local store has it now */
	CHECK(local_has_result(&g, &key));
	action_result_free(&want);
	rig_close(&g);
}

/* An ActionResult as an executor sends it: stdout and stderr apart. */
static void executor_result(struct buf *out, const char *o, const char *e, const char *a)
{
	typedef Build__Bazel__Remote__Execution__V2__Digest Digest;
	typedef Build__Bazel__Remote__Execution__V2__OutputFile OutputFile;
	char ho[65], he[65], ha[65];
	struct digest d;
	Digest so = BUILD__BAZEL__REMOTE__EXECUTION__V2__DIGEST__INIT;
	Digest se = BUILD__BAZEL__REMOTE__EXECUTION__V2__DIGEST__INIT;
	Digest sa = BUILD__BAZEL__REMOTE__EXECUTION__V2__DIGEST__INIT;
	sha_buf(o, strlen(o), &d);
	digest_hex(&d, ho);
	so.hash = ho;
	so.size_bytes = (int64_t)strlen(o);
	sha_buf(e, strlen(e), &d);
	digest_hex(&d, he);
	se.hash = he;
	se.size_bytes = (int64_t)strlen(e);
	sha_buf(a, strlen(a), &d);
	digest_hex(&d, ha);
	sa.hash = ha;
	sa.size_bytes = (int64_t)strlen(a);
	OutputFile f = BUILD__BAZEL__REMOTE__EXECUTION__V2__OUTPUT_FILE__INIT;
	f.path = (char *)"out/a";
	f.digest = &sa;
	OutputFile *fp = &f;
	Build__Bazel__Remote__Execution__V2__ActionResult m =
		BUILD__BAZEL__REMOTE__EXECUTION__V2__ACTION_RESULT__INIT;
	m.n_output_files = 1;
	m.output_files = &fp;
	m.stdout_digest = &so;
	m.stderr_digest = &se;
	size_t n = build__bazel__remote__execution__v2__action_result__get_packed_size(&m);
	uint8_t *p = xmalloc(n + 1);
	build__bazel__remote__execution__v2__action_result__pack(&m, p);
	buf_putn(out, p, n);
	free(p);
}

TEST(remote_store_adopt_merges_stderr_into_the_log)
{
	struct rig g;
	rig_open(&g, 0, 0);
	fake_put_blob(g.f, "to stdout\n", NULL);
	fake_put_blob(g.f, "to stderr\n", NULL);
	fake_put_blob(g.f, "alpha", NULL);
	struct buf msg = {0};
	executor_result(&msg, "to stdout\n", "to stderr\n", "alpha");
	struct action_result r;
	char *why = NULL;
	CHECK(remote_store_adopt(g.s, msg.s, msg.len, &r, &why) == 0);
	CHECK(why == NULL);
	struct digest log;
	sha_buf("to stdout\nto stderr\n", 20, &log);
	CHECK(digest_eq(&r.log, &log) && r.log_size == 20);
	CHECK(local_has(&g, "to stdout\nto stderr\n"));
	CHECK(local_has(&g, "alpha"));
	CHECK(r.noutputs == 1);
	CHECK(strchr(g.local->trace, 'r') == NULL); /* nothing put under a key */
	action_result_free(&r);
	free(why);
	buf_free(&msg);
	rig_close(&g);
}

TEST(remote_store_prefetch_answers_the_lookup)
{
	struct rig g;
	rig_open(&g, 0, 0);
	struct digest keys[2];
	key_of(&keys[0], "k1");
	key_of(&keys[1], "k2"); /* not there */
	struct action_result want;
	result_of(&want, "log one", "alpha", NULL);
	fake_put_blob(g.f, "log one", NULL);
	fake_put_blob(g.f, "alpha", NULL);
	fake_put_result(g.f, &keys[0], &want);

	uint64_t sizes[2] = {0, 0};
	g.s->ops->prefetch(g.s, keys, sizes, 2);
	struct action_result r;
	CHECK(g.s->ops->get_result(g.s, &keys[0], 0, &r) == 1);
	CHECK(r.remote == 1);
	action_result_free(&r);
	CHECK(g.s->ops->get_result(g.s, &keys[1], 0, &r) == 0);
	CHECK(g.f->calls[F_GET_RESULT] == 2); /* each key asked once */
	CHECK(remote_store_hits(g.s) == 1);
	CHECK(local_has(&g, "alpha"));
	action_result_free(&want);
	rig_close(&g);
}
