/* Unit tests of the action graph (graph.c, check.c): duplicate outputs,
 * cycles printed as a path, missing sources, and the canonical (sorted,
 * de-duplicated) order of an action's lists. */
#include "graph/graph.h"
#include "test.h"
#include "util/util.h"
#include <stdlib.h>

static size_t count(const char **v)
{
	size_t n = 0;
	while (v[n])
		n++;
	return n;
}

#define L(...) ((const char *[]){__VA_ARGS__, NULL})
static const char *none[] = {NULL};

static struct action *add(struct graph *g, const char *label, const char *where,
                          const char **in, const char **out, struct err *e)
{
	struct action_spec s = {
		.label = label, .where = where, .argv = L("true"), .argc = 1,
		.inputs = in, .ninputs = count(in), .outputs = out, .noutputs = count(out),
	};
	return graph_add_action(g, &s, e);
}

static int has(const char *msg, const char *part)
{
	if (msg && strstr(msg, part))
		return 1;
	fprintf(stderr, "  '%s' not in '%s'\n", part, msg ? msg : "(null)");
	return 0;
}

TEST(graph_duplicate_output)
{
	struct graph g = {0};
	struct err e = {0};
	CHECK(add(&g, "//a:one", "a/BUILD.lua:7", none, L("gen/x"), &e) != NULL);
	CHECK(e.msg == NULL);
	/* gen/z sorts after gen/x: nothing of the failed action may stick */
	CHECK(add(&g, "//b:two", "b/BUILD.lua:3", none, L("gen/z", "gen/x"), &e) == NULL);
	CHECK(e.kind == ERR_INPUT);
	CHECK(has(e.msg, "b/BUILD.lua:3: error: "));
	CHECK(has(e.msg, "'gen/x'"));
	CHECK(has(e.msg, "//b:two"));
	CHECK(has(e.msg, "//a:one (a/BUILD.lua:7)"));
	CHECK(g.nactions == 1);
	CHECK(graph_file(&g, "gen/x")->producer == g.actions[0]);
	CHECK(graph_file(&g, "gen/z")->producer == NULL);
	/* the free output is still free for another action */
	err_clear(&e);
	CHECK(add(&g, "//c:three", "c/BUILD.lua:1", none, L("gen/z"), &e) != NULL);
	err_clear(&e);
	graph_free(&g);
}

TEST(graph_cycle_is_printed_as_a_path)
{
	struct graph g = {0};
	struct err e = {0};
	add(&g, "//a:x", "a/BUILD.lua:1", L("y.out"), L("x.out"), &e);
	add(&g, "//b:y", "b/BUILD.lua:1", L("x.out"), L("y.out"), &e);
	CHECK(e.msg == NULL);
	graph_request(&g, graph_file(&g, "x.out"));
	CHECK(graph_check(&g, &e) < 0);
	CHECK(e.kind == ERR_INPUT);
	/* since 5ef2e09 each step names its first output as well */
	CHECK(has(e.msg, "dependency cycle: //a:x (x.out) -> //b:y (y.out) -> //a:x (x.out)"));
	err_clear(&e);
	graph_free(&g);
}

TEST(graph_cycle_entered_from_outside)
{
	struct graph g = {0};
	struct err e = {0};
	add(&g, "//r:r", "r/BUILD.lua:1", L("a.out", "src.c"), L("r.out"), &e);
	add(&g, "//l:a", "l/BUILD.lua:1", L("b.out"), L("a.out"), &e);
	add(&g, "//l:b", "l/BUILD.lua:2", L("c.out"), L("b.out"), &e);
	add(&g, "//l:c", "l/BUILD.lua:3", L("a.out"), L("c.out"), &e);
	graph_request(&g, graph_file(&g, "r.out"));
	CHECK(graph_check(&g, &e) < 0);
	/* only the loop itself, starting where it closes; not //r:r */
	CHECK(has(e.msg, "l/BUILD.lua:1: error: dependency cycle: //l:a (a.out) -> "
	                 "//l:b (b.out) -> //l:c (c.out) -> //l:a (a.out)"));
	CHECK(e.msg && !strstr(e.msg, "//r:r"));
	err_clear(&e);
	graph_free(&g);

	/* an action reading its own output */
	struct graph g2 = {0};
	add(&g2, "//s:self", "s/BUILD.lua:1", L("x.out"), L("x.out"), &e);
	graph_request(&g2, graph_file(&g2, "x.out"));
	CHECK(graph_check(&g2, &e) < 0);
	CHECK(has(e.msg, "dependency cycle: //s:self (x.out) -> //s:self (x.out)"));
	err_clear(&e);
	graph_free(&g2);
}

TEST(graph_check_marks_wanted)
{
	struct graph g = {0};
	struct err e = {0};
	/* src.c -> //w:lib -> lib.a -> //w:bin -> bin; //w:other and //w:dead
	 * are not needed; //w:dead's input exists nowhere */
	add(&g, "//w:lib", "w/BUILD.lua:1", L("src.c"), L("lib.a"), &e);
	add(&g, "//w:bin", "w/BUILD.lua:2", L("lib.a", "main.c"), L("bin"), &e);
	add(&g, "//w:other", "w/BUILD.lua:3", L("lib.a"), L("other"), &e);
	add(&g, "//w:dead", "w/BUILD.lua:4", L("/nonexistent/cairn/gone.c"), L("dead"), &e);
	graph_request(&g, graph_file(&g, "bin"));
	graph_request(&g, graph_file(&g, "bin")); /* asked twice */
	/* Missing sources are not graph_check's business (see check.c): the
	 * scheduler fails the action that reads one (sched_missing_input). */
	CHECK(graph_check(&g, &e) == 0 && e.msg == NULL);
	CHECK(g.actions[0]->wanted && g.actions[1]->wanted);
	CHECK(!g.actions[2]->wanted && !g.actions[3]->wanted);
	/* a later request widens the wanted part */
	graph_request(&g, graph_file(&g, "other"));
	CHECK(graph_check(&g, &e) == 0);
	CHECK(g.actions[2]->wanted && !g.actions[3]->wanted);
	/* a requested source file has no producer to mark */
	graph_request(&g, graph_file(&g, "main.c"));
	CHECK(graph_check(&g, &e) == 0 && !g.actions[3]->wanted);
	err_clear(&e);
	graph_free(&g);
}

TEST(graph_lists_are_canonical)
{
	struct graph g = {0};
	struct err e = {0};
	const char *env[] = {"ZED=1", "A0=3", "A=2"};
	struct action_spec s = {
		.label = "//p:t", .argv = L("tool", "z", "a"), .argc = 3,
		.env = env, .nenv = 3,
		.inputs = L("b.c", "a.c", "b.c", "c.c", "a.c"), .ninputs = 5,
		.outputs = L("z.o", "y.o"), .noutputs = 2,
	};
	struct action *a = graph_add_action(&g, &s, &e);
	CHECK(a != NULL);
	if (!a)
		return;
	CHECK(a->ninputs == 3);
	const char *ins[] = {"a.c", "b.c", "c.c"};
	for (size_t i = 0; i < 3 && i < a->ninputs; i++) {
		CHECK_STR(a->inputs[i]->path, ins[i]);
		CHECK(a->inputs[i] == graph_file(&g, ins[i]));
		CHECK(a->inputs[i]->producer == NULL);
	}
	CHECK(a->noutputs == 2);
	CHECK_STR(a->outputs[0]->path, "y.o");
	CHECK_STR(a->outputs[1]->path, "z.o");
	CHECK(a->outputs[0]->producer == a);
	/* env sorted by name, not by the "K=V" string ("A0=" < "A=" bytewise) */
	CHECK(a->nenv == 3);
	CHECK_STR(a->env[0], "A=2");
	CHECK_STR(a->env[1], "A0=3");
	CHECK_STR(a->env[2], "ZED=1");
	/* argv keeps its order */
	CHECK_STR(a->argv[1], "z");
	CHECK_STR(a->argv[2], "a");
	/* the graph copied everything */
	CHECK(a->env != env && a->env[0] != env[2]);
	CHECK_STR(a->mnemonic, "Action");
	err_clear(&e);
	graph_free(&g);
}
