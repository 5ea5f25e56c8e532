/* Unit tests of the remote CAS's rules (remote/cas.c) on a scripted
 * backend (fake_cas.h): a fault is tried again, three give the remote up
 * for good (and every later call fails without asking), an answer that
 * cannot change gives it up at once, a miss is no fault, a fetched blob
 * is checked against its digest and size, and the empty blob is never
 * asked for. Each retry sleeps 50-150 ms: few tests retry. */
#include "fake_cas.h"
#include "test.h"
#include "util/util.h"
#include <stdlib.h>

static const char NAME[] = "grpc://cache.test:9092";

/* A blob for v, by its text (the fake holds it when held). */
static struct cas_blob blob_of(const char *text)
{
	struct cas_blob b = {.size = strlen(text)};
	sha_buf(text, strlen(text), &b.d);
	return b;
}

static int has(const char *s, const char *part)
{
	return s && strstr(s, part) != NULL;
}

TEST(cas_fault_twice_then_ok_succeeds)
{
	struct fake_cas *f = fake_new();
	struct digest key;
	sha_buf("key", 3, &key);
	fake_put_raw(f, &key, "entry", 5);
	fake_script(f, F_GET_RESULT, CAS_RETRY, "connection refused");
	fake_script(f, F_GET_RESULT, CAS_RETRY, "UNAVAILABLE");
	struct cas *c = cas_new(&f->base, NAME);
	struct buf out = {0};
	CHECK(cas_get_result(c, &key, 0, &out) == CAS_OK);
	CHECK(out.len == 5 && memcmp(out.s, "entry", 5) == 0);
	CHECK(f->calls[F_GET_RESULT] == 3);
	CHECK(!cas_absent(c));
	char *why = cas_why(c);
	CHECK(why == NULL);
	free(why);
	buf_free(&out);
	cas_free(c);
	CHECK(f->freed == 1);
	fake_free(f);
}

TEST(cas_three_faults_give_up_for_good)
{
	struct fake_cas *f = fake_new();
	struct digest key;
	sha_buf("key", 3, &key);
	fake_put_raw(f, &key, "entry", 5);
	fake_put_blob(f, "hello", NULL);
	fake_script(f, F_GET_RESULT, CAS_RETRY, "connection refused");
	fake_script(f, F_GET_RESULT, CAS_RETRY, "timed out");
	fake_script(f, F_GET_RESULT, CAS_RETRY, "RESOURCE_EXHAUSTED: slow down");
	struct cas *c = cas_new(&f->base, NAME);
	struct buf out = {0};
	CHECK(cas_get_result(c, &key, 0, &out) == CAS_FATAL);
	CHECK(out.len == 0);
	CHECK(f->calls[F_GET_RESULT] == 3);
	CHECK(cas_absent(c));
	char *why = cas_why(c);
	CHECK(has(why, NAME));
	CHECK(has(why, "RESOURCE_EXHAUSTED: slow down"));
	CHECK(!has(why, "timed out"));
	free(why);

	/* given up: every op fails at once, the backend not asked */
	int before = fake_calls(f);
	CHECK(cas_get_result(c, &key, 0, &out) == CAS_FATAL);
	struct cas_blob v = blob_of("hello");
	CHECK(cas_get_blobs(c, &v, 1) == CAS_FATAL);
	buf_free(&v.data);
	v = blob_of("hello");
	CHECK(cas_find_missing(c, &v, 1) == CAS_FATAL);
	v.missing = 1;
	buf_puts(&v.data, "hello");
	CHECK(cas_put_blobs(c, &v, 1) == CAS_FATAL);
	buf_free(&v.data);
	struct buf val = {0};
	buf_puts(&val, "entry");
	uint64_t key_size = 0;
	CHECK(cas_put_results(c, &key, &key_size, &val, 1) == CAS_FATAL);
	buf_free(&val);
	CHECK(fake_calls(f) == before);
	why = cas_why(c); /* still the first reason */
	CHECK(has(why, "RESOURCE_EXHAUSTED: slow down"));
	free(why);
	buf_free(&out);
	cas_free(c);
	fake_free(f);
}

TEST(cas_fatal_gives_up_at_once)
{
	struct fake_cas *f = fake_new();
	struct digest key;
	sha_buf("key", 3, &key);
	fake_script(f, F_GET_RESULT, CAS_FATAL, "PERMISSION_DENIED: no");
	struct cas *c = cas_new(&f->base, NAME);
	struct buf out = {0};
	CHECK(cas_get_result(c, &key, 0, &out) == CAS_FATAL);
	CHECK(f->calls[F_GET_RESULT] == 1);
	CHECK(cas_absent(c));
	char *why = cas_why(c);
	CHECK(has(why, NAME) && has(why, "PERMISSION_DENIED: no"));
	free(why);
	buf_free(&out);
	cas_free(c);
	fake_free(f);
}

TEST(cas_miss_is_no_fault)
{
	struct fake_cas *f = fake_new();
	struct digest key;
	sha_buf("key", 3, &key);
	struct cas *c = cas_new(&f->base, NAME);
	struct buf out = {0};
	for (int i = 0; i < 4; i++)
		CHECK(cas_get_result(c, &key, 0, &out) == CAS_MISS);
	CHECK(f->calls[F_GET_RESULT] == 4); /* each asked once, none again */
	CHECK(out.len == 0);
	struct cas_blob v = blob_of("not there");
	CHECK(cas_get_blobs(c, &v, 1) == CAS_MISS);
	CHECK(f->calls[F_GET_BLOBS] == 1);
	buf_free(&v.data);
	CHECK(!cas_absent(c));
	buf_free(&out);
	cas_free(c);
	fake_free(f);
}

TEST(cas_get_blobs_never_returns_bytes_that_do_not_match)
{
	struct fake_cas *f = fake_new();
	fake_put_blob(f, "hello", NULL);
	f->corrupt = 3; /* every try: same size, one byte flipped */
	struct cas *c = cas_new(&f->base, NAME);
	struct cas_blob v = blob_of("hello");
	CHECK(cas_get_blobs(c, &v, 1) == CAS_FATAL);
	CHECK(f->calls[F_GET_BLOBS] == 3);
	CHECK(f->resets == 3); /* each bad answer dropped its connection */
	CHECK(cas_absent(c));
	char *why = cas_why(c);
	CHECK(has(why, "does not match its digest"));
	free(why);
	buf_free(&v.data);
	cas_free(c);
	fake_free(f);
}

TEST(cas_get_blobs_wrong_size_is_tried_again)
{
	struct fake_cas *f = fake_new();
	fake_put_blob(f, "hello", NULL);
	f->longer = 1; /* the first answer has a byte too many */
	struct cas *c = cas_new(&f->base, NAME);
	struct cas_blob v = blob_of("hello");
	CHECK(cas_get_blobs(c, &v, 1) == CAS_OK);
	CHECK(v.data.len == 5 && memcmp(v.data.s, "hello", 5) == 0);
	CHECK(f->calls[F_GET_BLOBS] == 2);
	CHECK(f->resets == 1);
	CHECK(!cas_absent(c));
	buf_free(&v.data);
	cas_free(c);
	fake_free(f);
}

TEST(cas_get_blobs_never_asks_for_the_empty_blob)
{
	struct fake_cas *f = fake_new();
	fake_put_blob(f, "hello", NULL);
	struct cas *c = cas_new(&f->base, NAME);
	struct cas_blob v[3] = {blob_of(""), blob_of("hello"), blob_of("")};
	CHECK(cas_get_blobs(c, v, 3) == CAS_OK);
	CHECK(f->calls[F_GET_BLOBS] == 1 && f->asked == 1 && !f->asked_empty);
	CHECK(v[0].data.len == 0 && v[2].data.len == 0);
	CHECK(v[1].data.len == 5 && memcmp(v[1].data.s, "hello", 5) == 0);
	for (int i = 0; i < 3; i++)
		buf_free(&v[i].data);

	/* only empty ones: the backend is not called at all */
	struct cas_blob e[2] = {blob_of(""), blob_of("")};
	CHECK(cas_get_blobs(c, e, 2) == CAS_OK);
	CHECK(f->calls[F_GET_BLOBS] == 1);
	CHECK(e[0].data.len == 0 && e[1].data.len == 0);
	cas_free(c);
	fake_free(f);
}

TEST(cas_find_missing_without_the_op_says_all_are_missing)
{
	struct fake_cas *f = fake_new();
	fake_put_blob(f, "hello", NULL);
	f->ops.find_missing = NULL;
	struct cas *c = cas_new(&f->base, NAME);
	struct cas_blob v[2] = {blob_of("hello"), blob_of("world")};
	CHECK(cas_find_missing(c, v, 2) == CAS_OK);
	CHECK(v[0].missing && v[1].missing);
	CHECK(fake_calls(f) == 0);
	cas_free(c);
	fake_free(f);
}

TEST(cas_find_missing_marks_only_what_the_remote_lacks)
{
	struct fake_cas *f = fake_new();
	fake_put_blob(f, "hello", NULL);
	struct cas *c = cas_new(&f->base, NAME);
	struct cas_blob v[2] = {blob_of("hello"), blob_of("world")};
	CHECK(cas_find_missing(c, v, 2) == CAS_OK);
	CHECK(!v[0].missing && v[1].missing);
	CHECK(f->calls[F_FIND_MISSING] == 1);
	/* put_blobs sends only the one missing */
	buf_puts(&v[1].data, "world");
	CHECK(cas_put_blobs(c, v, 2) == CAS_OK);
	CHECK(f->nup == 1 && digest_eq(&f->up[0], &v[1].d));
	/* nothing missing: no call */
	v[1].missing = 0;
	CHECK(cas_put_blobs(c, v, 2) == CAS_OK);
	CHECK(f->calls[F_PUT_BLOBS] == 1);
	buf_free(&v[1].data);
	cas_free(c);
	fake_free(f);
}
