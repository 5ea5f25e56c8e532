/* Unit tests of the action result as REAPI's ActionResult
 * (remote/result.c): the bytes are the protocol's, a round trip keeps
 * what the protocol has a field for, and what a server could send that
 * cairn must not take is refused.
 *
 * The expected bytes were made by protoc from the protocol's own
 * remote_execution.proto (Debian's bazel-bootstrap-source):
 *   T=/usr/src/bazel-bootstrap/third_party
 *   protoc -I$T/remoteapis -I$T/googleapis -I/usr/include \
 *     --encode=build.bazel.remote.execution.v2.ActionResult \
 *     build/bazel/remote/execution/v2/remote_execution.proto < ar.txt
 * with ar.txt:
 *   output_files { path: "a/out.o" digest { hash: "2cf2...9824" size_bytes: 5 } }
 *   output_files { path: "bin/tool" digest { hash: "e3b0...b855" size_bytes: 0 }
 *                  is_executable: true }
 *   stdout_digest { hash: "486e...b8a7" size_bytes: 5 }                         */
#include "remote/result.h"
#include "remote_execution.pb-c.h"
#include "test.h"
#include "util/util.h"
#include <stdlib.h>

static const char WANT[] =
	"124f0a07612f6f75742e6f12440a4032636632346462613566623061333065323665383362326163356239"
	"653239653162313631653563316661373432356537333034333336323933386239383234100512500a0862"
	"696e2f746f6f6c12420a40653362306334343239386663316331343961666266346338393936666239323432"
	"3761653431653436343962393334636134393539393162373835326238353520013244"
	"0a40343836656134363232346431626234666236383066333466376339616439366138663234656338386265"
	"373365613865356136633635323630653963623861371005";

static void result_of(struct action_result *r)
{
	memset(r, 0, sizeof *r);
	r->noutputs = 2;
	r->outputs = xcalloc(2, sizeof *r->outputs);
	r->outputs[0].path = xstrdup("a/out.o");
	sha_buf("hello", 5, &r->outputs[0].d);
	r->outputs[0].size = 5;
	r->outputs[0].mode = 0644;
	r->outputs[1].path = xstrdup("bin/tool");
	sha_buf("", 0, &r->outputs[1].d);
	r->outputs[1].mode = 0755;
	sha_buf("world", 5, &r->log);
	r->log_size = 5;
}

static char *hex_of(const struct buf *b)
{
	char *s = xmalloc(2 * b->len + 1);
	for (size_t i = 0; i < b->len; i++)
		sprintf(s + 2 * i, "%02x", (unsigned char)b->s[i]);
	s[2 * b->len] = 0;
	return s;
}

TEST(result_encode_is_the_protocols_bytes)
{
	struct action_result r;
	result_of(&r);
	r.discovered = xcalloc(2, sizeof *r.discovered);
	r.discovered[0] = xstrdup("a/x.h"); /* no field: left out */
	r.ndiscovered = 1;
	struct buf b = {0};
	result_encode(&r, &b);
	char *h = hex_of(&b);
	CHECK_STR(h, WANT);
	free(h);
	buf_free(&b);
	action_result_free(&r);
}

TEST(result_round_trip)
{
	struct action_result r, back;
	result_of(&r);
	r.exit_code = 0;
	struct buf b = {0};
	result_encode(&r, &b);
	const char *why = "unset";
	CHECK(result_decode(b.s, b.len, &back, NULL, &why) == 0);
	CHECK(why == NULL);
	CHECK(back.noutputs == 2 && back.exit_code == 0);
	if (back.noutputs == 2) {
		CHECK_STR(back.outputs[0].path, "a/out.o");
		CHECK(digest_eq(&back.outputs[0].d, &r.outputs[0].d) && back.outputs[0].size == 5);
		CHECK(back.outputs[0].mode == 0644);
		CHECK_STR(back.outputs[1].path, "bin/tool");
		CHECK(digest_eq(&back.outputs[1].d, &r.outputs[1].d) && back.outputs[1].size == 0);
		CHECK(back.outputs[1].mode == 0755);
	}
	CHECK(digest_eq(&back.log, &r.log) && back.log_size == 5);
	CHECK(back.discovered == NULL && back.ndiscovered == 0);
	action_result_free(&back);
	buf_free(&b);
	action_result_free(&r);
}

TEST(result_decode_empty_message_is_an_empty_result)
{
	struct action_result r;
	const char *why;
	CHECK(result_decode("", 0, &r, NULL, &why) == 0);
	CHECK(r.noutputs == 0 && r.exit_code == 0 && r.log_size == 0);
	struct digest empty;
	sha_buf("", 0, &empty);
	CHECK(digest_eq(&r.log, &empty));
	action_result_free(&r);
}

/* result_of's encoding, changed by f, is refused with why == want. */
static void refused(void (*f)(Build__Bazel__Remote__Execution__V2__ActionResult *), const char *want)
{
	struct action_result r;
	result_of(&r);
	struct buf b = {0};
	result_encode(&r, &b);
	action_result_free(&r);
	Build__Bazel__Remote__Execution__V2__ActionResult *m =
		build__bazel__remote__execution__v2__action_result__unpack(NULL, b.len, (uint8_t *)b.s);
	CHECK(m != NULL);
	if (!m)
		return;
	f(m);
	size_t n = build__bazel__remote__execution__v2__action_result__get_packed_size(m);
	uint8_t *p = xmalloc(n + 1);
	build__bazel__remote__execution__v2__action_result__pack(m, p);
	const char *why = NULL;
	CHECK(result_decode(p, n, &r, NULL, &why) == -1);
	CHECK_STR(why, want);
	CHECK(r.outputs == NULL && r.noutputs == 0);
	free(p);
	build__bazel__remote__execution__v2__action_result__free_unpacked(m, NULL);
	buf_free(&b);
}

static char *str(const char *s) { return xstrdup(s); }
static void abs_path(Build__Bazel__Remote__Execution__V2__ActionResult *m)
{
	free(m->output_files[1]->path);
	m->output_files[1]->path = str("/etc/passwd");
}
static void up_path(Build__Bazel__Remote__Execution__V2__ActionResult *m)
{
	free(m->output_files[1]->path);
	m->output_files[1]->path = str("a/../../x");
}
static void dot_path(Build__Bazel__Remote__Execution__V2__ActionResult *m)
{
	free(m->output_files[0]->path);
	m->output_files[0]->path = str("a/./b");
}
static void short_hash(Build__Bazel__Remote__Execution__V2__ActionResult *m)
{
	m->output_files[0]->digest->hash[10] = 0;
}
static void bad_hex(Build__Bazel__Remote__Execution__V2__ActionResult *m)
{
	m->stdout_digest->hash[3] = 'z';
}
static void neg_size(Build__Bazel__Remote__Execution__V2__ActionResult *m)
{
	m->output_files[0]->digest->size_bytes = -1;
}
static void inlined(Build__Bazel__Remote__Execution__V2__ActionResult *m)
{
	m->stdout_raw.data = (uint8_t *)str("x");
	m->stdout_raw.len = 1;
}

TEST(result_decode_refuses_what_cairn_must_not_take)
{
	refused(abs_path, "an output path that is not relative and canonical");
	refused(up_path, "an output path that is not relative and canonical");
	refused(dot_path, "an output path that is not relative and canonical");
	refused(short_hash, "a bad output digest");
	refused(bad_hex, "a bad stdout digest");
	refused(neg_size, "a bad output digest");
	refused(inlined, "inlined stdout or stderr");
	const char *why;
	struct action_result r;
	CHECK(result_decode("\xff\xff\xff", 3, &r, NULL, &why) == -1);
	CHECK_STR(why, "not an ActionResult");
}
