/* Unit tests of the scheduler's ordering (longest remaining path first,
 * weighted by remembered durations) and of plan mode, which decides and
 * reports but runs nothing. The fixture is in sched_fake.c. */
#include "sched_fake.h"
#include "test.h"
#include "util/util.h"
#include <stdlib.h>
#include <sys/stat.h>

/* s.txt -> //p:q -> out/q, and s.txt -> //p:p1 -> out/p1 -> //p:p2 ->
 * out/p2; q is added first so it wins ties. */
static void fan(struct fx *f, const char *qms)
{
	fx_put("s.txt", "s");
	fx_add(f, "//p:q", L("cat", qms), L("s.txt"), L("out/q"));
	fx_add(f, "//p:p1", L("cat"), L("s.txt"), L("out/p1"));
	fx_add(f, "//p:p2", L("cat"), L("out/p1"), L("out/p2"));
	fx_want(f, "out/q");
	fx_want(f, "out/p2");
	fx_check(f);
}

static void remember_ms(struct fx *f, const char *id, uint64_t ms)
{
	struct act_rec *r = xcalloc(1, sizeof *r);
	r->id = xstrdup(id);
	r->ms = ms;
	state_set_action(f->st, r);
}

/* The start order with jobs=1 after remembering the given durations. */
static void check_order(uint64_t q_ms, uint64_t p2_ms, const char *want)
{
	struct fx f;
	fx_open(&f);
	fan(&f, "ms=1");
	if (q_ms)
		remember_ms(&f, "out/q", q_ms);
	if (p2_ms)
		remember_ms(&f, "out/p2", p2_ms);
	CHECK(fx_run(&f, 1, 0, 0) == 0);
	char *got = fx_order(&f);
	CHECK_STR(got, want);
	free(got);
	CHECK(f.res.c.executed == 3);
	fx_close(&f);
}

TEST(sched_critical_path_first)
{
	/* nothing remembered: the longer chain (p1 -> p2) goes first */
	check_order(0, 0, "//p:p1,//p:q,//p:p2");
	/* q took long last time: it is the critical path now */
	check_order(1000, 0, "//p:q,//p:p1,//p:p2");
	/* p2 took longer still: its producer p1 inherits the priority */
	check_order(1000, 5000, "//p:p1,//p:p2,//p:q");
}

TEST(sched_critical_path_from_measured_durations)
{
	struct fx f;
	fx_open(&f);
	fan(&f, "ms=1000"); /* the fake clock says q takes a second */
	CHECK(fx_run(&f, 1, 0, 0) == 0);
	char *got = fx_order(&f);
	CHECK_STR(got, "//p:p1,//p:q,//p:p2");
	free(got);
	struct act_rec *r = state_action(f.st, "out/q");
	CHECK(r && r->ms == 1000);
	fx_put("s.txt", "changed");
	CHECK(fx_run(&f, 1, 0, 0) == 0);
	got = fx_order(&f);
	CHECK_STR(got, "//p:q,//p:p1,//p:p2");
	free(got);
	fx_close(&f);
}

/* src.txt -> //p:a -> out/a -> //p:b -> out/b; other.txt -> //p:d -> out/d */
static void pair(struct fx *f)
{
	fx_put("src.txt", "x");
	fx_put("other.txt", "d");
	fx_add(f, "//p:a", L("cat"), L("src.txt"), L("out/a"));
	fx_add(f, "//p:b", L("cat"), L("out/a"), L("out/b"));
	fx_add(f, "//p:d", L("cat"), L("other.txt"), L("out/d"));
	fx_want(f, "out/b");
	fx_want(f, "out/d");
	fx_check(f);
}


TEST(sched_plan_fresh_runs_nothing)
{
	struct fx f;
	fx_open(&f);
	pair(&f);
	CHECK(fx_run(&f, 1, 0, 1) == 0);
	CHECK(f.run.nstarted == 0);
	CHECK(fx_status(&f, "//p:a") == AS_WOULD_RUN && fx_status(&f, "//p:b") == AS_WOULD_RUN &&
	      fx_status(&f, "//p:d") == AS_WOULD_RUN);
	CHECK_STR(fx_why(&f, "//p:a"), "new");
	CHECK_STR(fx_why(&f, "//p:b"), "input will change: out/a");
	CHECK_STR(fx_why(&f, "//p:d"), "new");
	CHECK(f.res.c.executed == 0 && f.res.c.cached == 0 && f.res.c.done == 3);
	CHECK(!fx_exists("out/a") && !fx_exists("out/b") && !fx_exists("out/d"));
	CHECK(state_action(f.st, "out/a") == NULL);
	/* planning left nothing behind: a real run does all the work */
	CHECK(fx_run(&f, 1, 0, 0) == 0);
	CHECK(f.run.nstarted == 3);
	fx_close(&f);
}

TEST(sched_plan_after_change)
{
	struct fx f;
	fx_open(&f);
	pair(&f);
	CHECK(fx_run(&f, 1, 0, 0) == 0);
	/* unchanged: the plan has nothing to run */
	CHECK(fx_run(&f, 1, 0, 1) == 0);
	CHECK(f.run.nstarted == 0 && f.res.c.cached == 3);
	CHECK(fx_status(&f, "//p:b") == AS_UPTODATE);

	fx_put("src.txt", "xyz");
	CHECK(fx_run(&f, 1, 0, 1) == 0);
	CHECK(f.run.nstarted == 0);
	CHECK(fx_status(&f, "//p:a") == AS_WOULD_RUN && fx_status(&f, "//p:b") == AS_WOULD_RUN);
	CHECK_STR(fx_why(&f, "//p:a"), "input changed: src.txt");
	CHECK_STR(fx_why(&f, "//p:b"), "input will change: out/a");
	CHECK(fx_status(&f, "//p:d") == AS_UPTODATE);
	fx_check_file("out/b", "x"); /* untouched */
	/* the plan was right: exactly a and b run */
	CHECK(fx_run(&f, 1, 0, 0) == 0);
	char *got = fx_order(&f);
	CHECK_STR(got, "//p:a,//p:b");
	free(got);
	fx_check_file("out/b", "xyz");
	fx_close(&f);
}

TEST(sched_plan_does_not_restore)
{
	struct fx f;
	fx_open(&f);
	pair(&f);
	CHECK(fx_run(&f, 1, 0, 0) == 0);
	fx_rm("out");
	/* the store would answer: reported as cached, but nothing is written */
	CHECK(fx_run(&f, 1, 0, 1) == 0);
	CHECK(f.run.nstarted == 0);
	CHECK(fx_status(&f, "//p:a") == AS_CACHED && fx_status(&f, "//p:b") == AS_CACHED);
	CHECK(!fx_exists("out/a") && !fx_exists("out/b"));
	CHECK(fx_run(&f, 1, 0, 0) == 0);
	CHECK(f.run.nstarted == 0 && fx_status(&f, "//p:b") == AS_CACHED);
	fx_check_file("out/b", "x");
	fx_close(&f);
}
