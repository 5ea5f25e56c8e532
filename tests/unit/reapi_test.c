/* Unit tests of the REAPI messages and digests (reapi/reapi.c): the bytes
 * of a Command, a tree of Directory messages and an Action are the
 * protocol's, the order things are given in does not matter, nested and
 * empty input roots, the executable bit, and the paths refused.
 *
 * The expected bytes were made by protoc from the protocol's own
 * remote_execution.proto (Debian's bazel-bootstrap-source), not from
 * cairn's subset, so they check the subset's field numbers too:
 *   T=/usr/src/bazel-bootstrap/third_party
 *   protoc -I$T/remoteapis -I$T/googleapis -I/usr/include \
 *     --encode=build.bazel.remote.execution.v2.Command \
 *     build/bazel/remote/execution/v2/remote_execution.proto < cmd.txt
 * with the text form written above each constant. */
#include "reapi/reapi.h"
#include "test.h"
#include "util/util.h"
#include <stdlib.h>

static char *hex_of(const unsigned char *p, size_t n)
{
	char *s = xmalloc(2 * n + 1);
	for (size_t i = 0; i < n; i++)
		sprintf(s + 2 * i, "%02x", p[i]);
	s[2 * n] = 0;
	return s;
}

static void check_blob(const struct reapi_blob *b, enum reapi_kind kind, const char *hex,
                       const char *sha)
{
	CHECK(b->kind == kind);
	char *h = hex_of(b->p, b->d.size);
	CHECK_STR(h, hex);
	free(h);
	char dh[65];
	digest_hex(&b->d.hash, dh);
	CHECK_STR(dh, sha);
}

static struct reapi_input in_of(const char *path, const char *content, int exec)
{
	struct reapi_input in = {.path = path, .exec = exec};
	reapi_digest_of(content, strlen(content), &in.d);
	return in;
}

static const char *argv3[] = {"cc", "-c", "x.c"};
/* out of order: by whole string "A+=1" < "A=2", by name "A" < "A+" */
static const char *env3[] = {"LANG=C", "A+=1", "A=2"};
static const char *outs3[] = {"x.o", "b/y.o", "x.o"};
static const char *props2[] = {"sandbox=none", "platform=linux-x86_64"};

/* The action of the known-bytes test; its inputs are filled by the caller. */
static struct reapi_spec spec3(const struct reapi_input *in, size_t nin)
{
	return (struct reapi_spec){
		.argv = argv3, .argc = 3, .env = env3, .nenv = 3, .outputs = outs3, .noutputs = 3,
		.props = props2, .nprops = 2, .in = in, .nin = nin, .timeout_ms = 1500,
		.salt = "cairn-3", .salt_len = 7,
	};
}

static void inputs4(struct reapi_input in[4])
{
	in[0] = in_of("x.c", "x", 0);
	in[1] = in_of("lib-b/c.h", "c", 0);
	in[2] = in_of("tool.sh", "t", 1);
	in[3] = in_of("lib/a.h", "a", 0);
}

/* The digests of a build, as text, to compare builds. */
static char *key_of(struct reapi_builder *b, const struct reapi_spec *s)
{
	struct reapi_action a;
	struct err e = {0};
	if (reapi_build(b, s, &a, &e) < 0) {
		fprintf(stderr, "  reapi_build: %s\n", e.msg);
		err_clear(&e);
		test_failures++;
		return xstrdup("(error)");
	}
	char x[REAPI_DIGEST_STR], c[REAPI_DIGEST_STR], r[REAPI_DIGEST_STR];
	reapi_digest_str(&a.action, x);
	reapi_digest_str(&a.command, c);
	reapi_digest_str(&a.input_root, r);
	return xasprintf("action %s command %s root %s", x, c, r);
}

TEST(reapi_known_bytes)
{
	struct reapi_input in[4];
	inputs4(in);
	struct reapi_spec s = spec3(in, 4);
	struct reapi_builder *b = reapi_builder_new();
	struct reapi_action a;
	struct err e = {0};
	CHECK(reapi_build(b, &s, &a, &e) == 0);
	CHECK(a.nblobs == 5);
	if (a.nblobs != 5)
		goto done;
	/* arguments: "cc" arguments: "-c" arguments: "x.c"
	 * environment_variables { name: "A" value: "2" }
	 * environment_variables { name: "A+" value: "1" }
	 * environment_variables { name: "LANG" value: "C" }
	 * output_files: "b/y.o" output_files: "x.o"
	 * platform { properties { name: "platform" value: "linux-x86_64" }
	 *            properties { name: "sandbox" value: "none" } }
	 * output_paths: "b/y.o" output_paths: "x.o" */
	check_blob(&a.blobs[0], REAPI_COMMAND,
	           "0a0263630a022d630a03782e6312060a014112013212070a02412b12013112090a044c414e4712"
	           "01431a05622f792e6f1a03782e6f2a2b0a180a08706c6174666f726d120c6c696e75782d783836"
	           "5f36340a0f0a0773616e64626f7812046e6f6e653a05622f792e6f3a03782e6f",
	           "46440eb3695f468fcfc0b4961edb1cd37d0c76a10380a0b9e2ec1075cd5542a8");
	CHECK(a.command.size == 110);
	/* lib: files { name: "a.h" digest { hash: sha256("a") size_bytes: 1 } } */
	check_blob(&a.blobs[1], REAPI_DIRECTORY,
	           "0a4b0a03612e6812440a40636139373831313263613162626463616661633233316233396132"
	           "336463346461373836656666383134376334653732623938303737383561666565343862621001",
	           "bd67dbd505352cca0bc40ba3a8761da278a6ae44a9eaf08f2eb3e1f019ce667e");
	/* lib-b: files { name: "c.h" digest { hash: sha256("c") size_bytes: 1 } } */
	check_blob(&a.blobs[2], REAPI_DIRECTORY,
	           "0a4b0a03632e6812440a40326537643263303361393530376165323635656366356235333536"
	           "383835613533333933613230323964323431333934393937323635613161323561656663361001",
	           "6c2ffb277ff65b288d973602f12839340d51cbcddeac079936c031e62a603cea");
	/* files { name: "tool.sh" digest { sha256("t") 1 } is_executable: true }
	 * files { name: "x.c" digest { sha256("x") 1 } }
	 * directories { name: "lib" digest { bd67dbd5... 77 } }
	 * directories { name: "lib-b" digest { 6c2ffb27... 77 } }
	 * ("lib" before "lib-b", though "lib-b/" < "lib/" as strings) */
	check_blob(&a.blobs[3], REAPI_DIRECTORY,
	           "0a510a07746f6f6c2e736812440a406533623938613464613331613132376434626465366534"
	           "33303333663636626132373463616230656237656231633730656334313430326266363237"
	           "3364643810012001"
	           "0a4b0a03782e6312440a40326437313136343262373236623034343031363237636139666261"
	           "6333326635633835333066623139303363633464623032323538373137393231613438383110"
	           "01"
	           "124b0a036c696212440a406264363764626435303533353263636130626334306261336138"
	           "3736316461323738613661653434613965616630386632656233653166303139636536363765"
	           "104d"
	           "124d0a056c69622d6212440a40366332666662323737666636356232383864393733363032"
	           "6631323833393334306435316362636464656163303739393336633033316536326136303363"
	           "6561104d",
	           "64e1c3364361087a1930595984c01b6fe676b466c770ddedf947944098bdf3b7");
	CHECK(a.input_root.size == 316);
	/* command_digest { 46440eb3... 110 } input_root_digest { 64e1c336... 316 }
	 * timeout { seconds: 1 nanos: 500000000 } salt: "cairn-3"
	 * platform { the same two properties } */
	check_blob(&a.blobs[4], REAPI_ACTION,
	           "0a440a4034363434306562333639356634363866636663306234393631656462316364333764"
	           "306337366131303338306130623965326563313037356364353534326138106e12450a4036"
	           "3465316333333634333631303837613139333035393539383463303162366665363736623436"
	           "3663373730646465646639343739343430393862646633623710bc02320808011080cab5ee01"
	           "4a07636169726e2d33522b0a180a08706c6174666f726d120c6c696e75782d7838365f36340a"
	           "0f0a0773616e64626f7812046e6f6e65",
	           "633fce75d01030bb44eab80b0e945d3395cd5e8aa0781ee1225cde3bbe9782dd");
	char x[REAPI_DIGEST_STR];
	reapi_digest_str(&a.action, x);
	CHECK_STR(x, "633fce75d01030bb44eab80b0e945d3395cd5e8aa0781ee1225cde3bbe9782dd/205");
done:
	reapi_builder_free(b);
}

/* Inputs, env, outputs and properties in any order: the same digests. */
TEST(reapi_order_independent)
{
	struct reapi_input in[4], rev[4];
	inputs4(in);
	for (int i = 0; i < 4; i++)
		rev[i] = in[3 - i];
	const char *env_r[] = {"A=2", "LANG=C", "A+=1"};
	const char *outs_r[] = {"b/y.o", "x.o"};
	const char *props_r[] = {"platform=linux-x86_64", "sandbox=none"};
	struct reapi_builder *b = reapi_builder_new();
	struct reapi_spec s = spec3(in, 4);
	char *k1 = key_of(b, &s);
	s = spec3(rev, 4);
	s.env = env_r;
	s.outputs = outs_r;
	s.noutputs = 2;
	s.props = props_r;
	char *k2 = key_of(b, &s);
	CHECK_STR(k1, k2);
	/* sorted in tree order already (no sort taken): still the same */
	struct reapi_input tree[4] = {in[2], in[0], in[3], in[1]};
	s = spec3(tree, 4);
	char *k3 = key_of(b, &s);
	CHECK_STR(k1, k3);
	/* but argv's order is the command's */
	const char *argv_r[] = {"cc", "x.c", "-c"};
	s.argv = argv_r;
	char *k4 = key_of(b, &s);
	CHECK(strcmp(k1, k4) != 0);
	free(k1);
	free(k2);
	free(k3);
	free(k4);
	reapi_builder_free(b);
}

/* A deep tree: one Directory per directory, children before parents, each
 * blob's digest that of its bytes, and a change deep down reaches the root. */
TEST(reapi_nested)
{
	struct reapi_input in[] = {
		in_of("a/b/c/d.txt", "d", 0), in_of("a/e.txt", "e", 0), in_of("a/b/f.txt", "f", 0),
		in_of("g.txt", "g", 0),       in_of("h/i.txt", "i", 0),
	};
	struct reapi_spec s = {.argv = argv3, .argc = 3, .in = in, .nin = 5};
	struct reapi_builder *b = reapi_builder_new();
	struct reapi_action a;
	struct err e = {0};
	CHECK(reapi_build(b, &s, &a, &e) == 0);
	/* Command, a/b/c, a/b, a, h, root, Action */
	CHECK(a.nblobs == 7);
	for (size_t i = 0; i < a.nblobs; i++) {
		struct reapi_digest d;
		reapi_digest_of(a.blobs[i].p, a.blobs[i].d.size, &d);
		CHECK(digest_eq(&d.hash, &a.blobs[i].d.hash));
		CHECK(a.blobs[i].kind == (i == 0 ? REAPI_COMMAND : i == a.nblobs - 1 ? REAPI_ACTION
		                                                                     : REAPI_DIRECTORY));
	}
	CHECK(digest_eq(&a.blobs[5].d.hash, &a.input_root.hash));
	CHECK(a.blobs[5].d.size == a.input_root.size);
	/* a/b/c holds one file, d.txt: its Directory is a known message */
	CHECK(a.blobs[1].d.size == 2 + (2 + 5) + 2 + (2 + 64) + 2);
	char *k1 = key_of(b, &s);
	in[0] = in_of("a/b/c/d.txt", "D", 0);
	char *k2 = key_of(b, &s);
	CHECK(strcmp(k1, k2) != 0);
	CHECK(!strncmp(strstr(k1, "command"), strstr(k2, "command"),
	               (size_t)(strstr(k1, " root") - strstr(k1, "command"))));
	/* a file moved to another directory changes the tree too */
	in[0] = in_of("a/b/d.txt", "d", 0);
	char *k3 = key_of(b, &s);
	CHECK(strcmp(k1, k3) != 0);
	free(k1);
	free(k2);
	free(k3);
	reapi_builder_free(b);
}

/* No inputs: the root is an empty Directory, zero bytes, e3b0c442.../0. */
TEST(reapi_empty_root)
{
	struct reapi_spec s = {.argv = argv3, .argc = 3};
	struct reapi_builder *b = reapi_builder_new();
	struct reapi_action a;
	struct err e = {0};
	CHECK(reapi_build(b, &s, &a, &e) == 0);
	char r[REAPI_DIGEST_STR];
	reapi_digest_str(&a.input_root, r);
	CHECK_STR(r, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/0");
	CHECK(a.nblobs == 3);
	CHECK(a.blobs[1].kind == REAPI_DIRECTORY && a.blobs[1].d.size == 0);
	/* the Command is only arguments; the Action has no timeout, salt,
	 * platform: its size_bytes 0 for the root is left out */
	CHECK(a.command.size == 4 + 4 + 5);
	CHECK(a.action.size == 2 + 2 + 64 + 2 + 2 + 2 + 64);
	reapi_builder_free(b);
}

/* The executable bit, the timeout, do_not_cache and the salt are in the key;
 * only the bit is in the input root, none in the command. */
TEST(reapi_exec_bit_and_action_fields)
{
	struct reapi_input in[4];
	inputs4(in);
	struct reapi_builder *b = reapi_builder_new();
	struct reapi_spec s = spec3(in, 4);
	char *k0 = key_of(b, &s);
	in[0].exec = 1;
	char *k1 = key_of(b, &s);
	CHECK(strcmp(k0, k1) != 0);
	CHECK(strcmp(strstr(k0, "root"), strstr(k1, "root")) != 0);
	in[0].exec = 7; /* any nonzero is the bit */
	char *k2 = key_of(b, &s);
	CHECK_STR(k1, k2);
	in[0].exec = 0;
	s.timeout_ms = 1501;
	char *k3 = key_of(b, &s);
	s.timeout_ms = 1500;
	s.do_not_cache = 1;
	char *k4 = key_of(b, &s);
	s.do_not_cache = 0;
	s.salt = "cairn-4";
	char *k5 = key_of(b, &s);
	const char *k[] = {k3, k4, k5};
	for (int i = 0; i < 3; i++) {
		CHECK(strcmp(k0, k[i]) != 0);
		CHECK_STR(strstr(k0, "command"), strstr(k[i], "command"));
	}
	free(k0);
	free(k1);
	free(k2);
	free(k3);
	free(k4);
	free(k5);
	reapi_builder_free(b);
}

static void refused(struct reapi_builder *b, const struct reapi_spec *s, const char *want)
{
	struct reapi_action a;
	struct err e = {0};
	CHECK(reapi_build(b, s, &a, &e) == -1);
	CHECK(e.kind == ERR_INPUT);
	if (!e.msg || !strstr(e.msg, want)) {
		fprintf(stderr, "  message '%s' lacks '%s'\n", e.msg ? e.msg : "(null)", want);
		test_failures++;
	}
	err_clear(&e);
}

TEST(reapi_refuses)
{
	static const char *bad[] = {"", "/etc/passwd", "..", "../x", "a/../b", "a/..", "./a",
	                            "a/./b", "a//b", "a/", "."};
	struct reapi_builder *b = reapi_builder_new();
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct reapi_input in[2] = {in_of("ok.c", "o", 0), in_of(bad[i], "x", 0)};
		struct reapi_spec s = {.argv = argv3, .argc = 3, .in = in, .nin = 2};
		char *want = xasprintf("input path '%s'", bad[i]);
		refused(b, &s, want);
		free(want);
		const char *outs[] = {"ok.o", bad[i]};
		s = (struct reapi_spec){.argv = argv3, .argc = 3, .outputs = outs, .noutputs = 2};
		want = xasprintf("output path '%s'", bad[i]);
		refused(b, &s, want);
		free(want);
	}
	struct reapi_input dup[3] = {in_of("a/b", "1", 0), in_of("c", "2", 0), in_of("a/b", "1", 0)};
	struct reapi_spec s = {.argv = argv3, .argc = 3, .in = dup, .nin = 3};
	refused(b, &s, "'a/b' is given twice");
	struct reapi_input both[3] = {in_of("a/b/c", "1", 0), in_of("a/b-c", "2", 0),
	                              in_of("a/b", "3", 0)};
	s.in = both;
	refused(b, &s, "'a/b' is both a file and a directory");
	const char *env_noeq[] = {"A=1", "B"};
	s = (struct reapi_spec){.argv = argv3, .argc = 3, .env = env_noeq, .nenv = 2};
	refused(b, &s, "environment entry 'B'");
	const char *env_dup[] = {"A=1", "B=2", "A=3"};
	s.env = env_dup;
	s.nenv = 3;
	refused(b, &s, "'A' is set twice");
	const char *prop_noeq[] = {"os"};
	s = (struct reapi_spec){.argv = argv3, .argc = 3, .props = prop_noeq, .nprops = 1};
	refused(b, &s, "platform property 'os'");
	/* after a refusal the builder works as new */
	struct reapi_input in[4];
	inputs4(in);
	s = spec3(in, 4);
	char *k = key_of(b, &s);
	CHECK(strstr(k, "action 633fce75d01030bb44eab80b0e945d3395cd5e8aa0781ee1225cde3bbe9782dd/205"));
	free(k);
	reapi_builder_free(b);
}

/* A builder reused across a large and a small build gives what fresh
 * builders give (its scratch and buffers are reset, not stale). */
TEST(reapi_builder_reuse)
{
	enum { N = 3000 };
	struct reapi_input *in = xcalloc(N, sizeof *in);
	char **paths = xcalloc(N, sizeof *paths);
	for (int i = 0; i < N; i++) {
		paths[i] = xasprintf("d%d/s%d/f%d.c", i % 7, i % 13, i);
		in[i] = in_of(paths[i], paths[i], i % 5 == 0);
	}
	struct reapi_spec big = {.argv = argv3, .argc = 3, .in = in, .nin = N};
	struct reapi_input small[4];
	inputs4(small);
	struct reapi_spec sm = spec3(small, 4);
	struct reapi_builder *b = reapi_builder_new(), *f1 = reapi_builder_new(),
	                     *f2 = reapi_builder_new();
	char *kb1 = key_of(b, &big), *ks1 = key_of(b, &sm), *kb2 = key_of(b, &big);
	char *kbf = key_of(f1, &big), *ksf = key_of(f2, &sm);
	CHECK_STR(kb1, kbf);
	CHECK_STR(kb2, kbf);
	CHECK_STR(ks1, ksf);
	struct reapi_action a;
	struct err e = {0};
	CHECK(reapi_build(b, &big, &a, &e) == 0);
	/* root, 7 d*, 7 * 13 d*\/s* (i % 7 and i % 13 meet in every pair) */
	CHECK(a.nblobs == 1 + 1 + 7 + 91 + 1);
	free(kb1);
	free(ks1);
	free(kb2);
	free(kbf);
	free(ksf);
	for (int i = 0; i < N; i++)
		free(paths[i]);
	free(paths);
	free(in);
	reapi_builder_free(b);
	reapi_builder_free(f1);
	reapi_builder_free(f2);
}
