/* Unit tests of the scheduler (sched.c): dependency order, no-op and
 * restored runs, re-running downstream of a change, early cutoff,
 * failures with and without keep-going (including a missing input, a
 * missing output and a job that cannot start), one look-up per source
 * per run, and sources that are not regular files. The fixture is in sched_fake.c. */
#include "sched_fake.h"
#include "test.h"
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* src.txt -> //p:a -> out/a -> //p:b -> out/b -> //p:c -> out/c, plus an
 * independent other.txt -> //p:d -> out/d. bcmd is b's argv[0]. */
static void chain(struct fx *f, const char *bcmd)
{
	fx_put("src.txt", "x");
	fx_put("other.txt", "d");
	fx_add(f, "//p:a", L("cat", "ms=7"), L("src.txt"), L("out/a"));
	fx_add(f, "//p:b", L(bcmd, "fixed"), L("out/a"), L("out/b"));
	fx_add(f, "//p:c", L("cat"), L("out/b"), L("out/c"));
	fx_add(f, "//p:d", L("cat"), L("other.txt"), L("out/d"));
	fx_want(f, "out/c");
	fx_want(f, "out/d");
	fx_check(f);
}

TEST(sched_chain_first_run_then_noop)
{
	struct fx f;
	fx_open(&f);
	chain(&f, "cat");
	CHECK(fx_run(&f, 1, 0, 0) == 0);
	CHECK(f.run.nstarted == 4);
	/* a before b before c, whatever else interleaves */
	size_t pa = 9, pb = 9, pc = 9;
	for (size_t i = 0; i < f.run.nstarted; i++) {
		if (!strcmp(f.run.started[i], "//p:a")) pa = i;
		if (!strcmp(f.run.started[i], "//p:b")) pb = i;
		if (!strcmp(f.run.started[i], "//p:c")) pc = i;
	}
	CHECK(pa < pb && pb < pc && pc < 4);
	CHECK(fx_status(&f, "//p:c") == AS_EXECUTED);
	CHECK_STR(fx_why(&f, "//p:a"), "new");
	CHECK(f.res.c.total == 4 && f.res.c.executed == 4 && f.res.c.done == 4);
	fx_check_file("out/c", "x");
	/* the duration from the runner's clock is remembered */
	struct act_rec *r = state_action(f.st, "out/a");
	CHECK(r && r->ms == 7 && r->nins == 1);

	/* second run, state saved and reloaded: nothing to do */
	CHECK(state_save(f.st, ".cairn/state", &f.mem.base) == 0);
	state_free(f.st);
	int corrupt;
	f.st = state_load(".cairn/state", &f.mem.base, &corrupt);
	CHECK(corrupt == 0);
	CHECK(fx_run(&f, 1, 0, 0) == 0);
	CHECK(f.run.nstarted == 0);
	CHECK(f.res.c.cached == 4 && f.res.c.executed == 0);
	CHECK(fx_status(&f, "//p:a") == AS_UPTODATE && fx_status(&f, "//p:c") == AS_UPTODATE);
	fx_close(&f);
}

TEST(sched_restores_deleted_outputs_from_store)
{
	struct fx f;
	fx_open(&f);
	chain(&f, "cat");
	CHECK(fx_run(&f, 1, 0, 0) == 0);
	fx_rm("out");
	CHECK(fx_run(&f, 1, 0, 0) == 0);
	CHECK(f.run.nstarted == 0);
	CHECK(fx_status(&f, "//p:a") == AS_CACHED && fx_status(&f, "//p:c") == AS_CACHED);
	CHECK(f.res.c.cached == 4 && f.res.c.executed == 0);
	fx_check_file("out/a", "x");
	fx_check_file("out/c", "x");
	fx_check_file("out/d", "d");
	CHECK(fx_run(&f, 1, 0, 0) == 0);
	CHECK(f.run.nstarted == 0 && fx_status(&f, "//p:b") == AS_UPTODATE);
	/* an output edited by hand is put back, not trusted */
	fx_put("out/b", "edited by hand");
	CHECK(fx_run(&f, 1, 0, 0) == 0);
	CHECK(f.run.nstarted == 0);
	CHECK(fx_status(&f, "//p:b") == AS_CACHED && fx_status(&f, "//p:c") == AS_UPTODATE);
	fx_check_file("out/b", "x");
	fx_close(&f);
}

TEST(sched_source_change_reruns_downstream_only)
{
	struct fx f;
	fx_open(&f);
	chain(&f, "cat");
	CHECK(fx_run(&f, 1, 0, 0) == 0);
	fx_put("src.txt", "yy");
	CHECK(fx_run(&f, 1, 0, 0) == 0);
	CHECK(f.run.nstarted == 3);
	CHECK(fx_status(&f, "//p:a") == AS_EXECUTED && fx_status(&f, "//p:b") == AS_EXECUTED &&
	      fx_status(&f, "//p:c") == AS_EXECUTED && fx_status(&f, "//p:d") == AS_UPTODATE);
	CHECK_STR(fx_why(&f, "//p:a"), "input changed: src.txt");
	CHECK_STR(fx_why(&f, "//p:b"), "input changed: out/a");
	fx_check_file("out/c", "yy");
	fx_close(&f);
}

TEST(sched_early_cutoff)
{
	struct fx f;
	fx_open(&f);
	chain(&f, "const"); /* b writes "fixed" whatever out/a holds */
	CHECK(fx_run(&f, 1, 0, 0) == 0);
	fx_check_file("out/c", "fixed");
	fx_put("src.txt", "changed");
	CHECK(fx_run(&f, 1, 0, 0) == 0);
	CHECK(fx_status(&f, "//p:a") == AS_EXECUTED && fx_status(&f, "//p:b") == AS_EXECUTED);
	CHECK(fx_status(&f, "//p:c") == AS_UPTODATE && fx_status(&f, "//p:d") == AS_UPTODATE);
	CHECK(f.run.nstarted == 2);
	fx_close(&f);
}

/* //p:f fails; //p:g depends on it; //p:x and //p:y are independent. */
static void failing(struct fx *f)
{
	fx_put("src.txt", "s");
	fx_add(f, "//p:f", L("fail"), L("src.txt"), L("out/f"));
	fx_add(f, "//p:g", L("cat"), L("out/f"), L("out/g"));
	fx_add(f, "//p:x", L("cat"), L("src.txt"), L("out/x"));
	fx_add(f, "//p:y", L("cat"), L("src.txt"), L("out/y"));
	fx_want(f, "out/g");
	fx_want(f, "out/x");
	fx_want(f, "out/y");
	fx_check(f);
}

TEST(sched_failure_stops_the_build)
{
	struct fx f;
	fx_open(&f);
	failing(&f);
	/* f (longest path) and x start together; f fails first: x is let
	 * finish, y never starts, g is skipped */
	CHECK(fx_run(&f, 2, 0, 0) == 0);
	CHECK(f.run.nstarted == 2);
	CHECK(f.run.nstarted >= 1 && !strcmp(f.run.started[0], "//p:f"));
	CHECK(fx_status(&f, "//p:f") == AS_FAILED);
	CHECK(fx_status(&f, "//p:g") != AS_EXECUTED && fx_status(&f, "//p:y") == -1);
	CHECK(f.res.c.failed == 1 && f.res.c.executed == 1);
	CHECK(f.res.c.done == 3); /* f, g (skipped), x */
	CHECK(state_action(f.st, "out/f") == NULL && state_action(f.st, "out/g") == NULL);
	fx_close(&f);
}

TEST(sched_keep_going_runs_independent_branches)
{
	struct fx f;
	fx_open(&f);
	failing(&f);
	CHECK(fx_run(&f, 1, 1, 0) == 0);
	CHECK(f.run.nstarted == 3);
	for (size_t i = 0; i < f.run.nstarted; i++)
		CHECK(strcmp(f.run.started[i], "//p:g") != 0);
	CHECK(fx_status(&f, "//p:x") == AS_EXECUTED && fx_status(&f, "//p:y") == AS_EXECUTED);
	CHECK(f.res.c.failed == 1 && f.res.c.executed == 2 && f.res.c.done == 4);
	fx_close(&f);
}

TEST(sched_missing_input)
{
	struct fx f;
	fx_open(&f);
	failing(&f);
	fx_add(&f, "//p:m", L("cat"), L("src.txt", "nope.txt"), L("out/m"));
	fx_add(&f, "//p:n", L("cat"), L("out/m"), L("out/n"));
	fx_want(&f, "out/n");
	fx_check(&f);
	CHECK(fx_run(&f, 1, 1, 0) == 0);
	/* m fails without being started, n is skipped, the rest goes on */
	CHECK(fx_status(&f, "//p:m") == AS_FAILED);
	CHECK_STR(fx_why(&f, "//p:m"), "missing input");
	const char *out = fx_output(&f, "//p:m");
	CHECK(out && strstr(out, "cannot read input 'nope.txt'"));
	CHECK(fx_status(&f, "//p:n") == -1);
	for (size_t i = 0; i < f.run.nstarted; i++)
		CHECK(strcmp(f.run.started[i], "//p:m") && strcmp(f.run.started[i], "//p:n"));
	CHECK(fx_status(&f, "//p:x") == AS_EXECUTED);
	CHECK(f.res.c.failed == 2 && f.res.c.done == 6);
	/* in a plan it is reported the same way, and nothing runs */
	CHECK(fx_run(&f, 1, 1, 1) == 0);
	CHECK(f.run.nstarted == 0 && fx_status(&f, "//p:m") == AS_FAILED);
	fx_close(&f);
}

TEST(sched_action_without_output_or_start_fails)
{
	struct fx f;
	fx_open(&f);
	fx_put("src.txt", "s");
	fx_add(&f, "//p:none", L("none"), L("src.txt"), L("out/none"));
	fx_add(&f, "//p:nostart", L("nostart"), L("src.txt"), L("out/nostart"));
	fx_add(&f, "//p:ok", L("cat"), L("src.txt"), L("out/ok"));
	fx_want(&f, "out/none");
	fx_want(&f, "out/nostart");
	fx_want(&f, "out/ok");
	fx_check(&f);
	CHECK(fx_run(&f, 1, 1, 0) == 0);
	/* exit 0 without the output is a failure, with cairn's word first */
	CHECK(fx_status(&f, "//p:none") == AS_FAILED);
	const char *out = fx_output(&f, "//p:none");
	CHECK(out && strstr(out, "did not create its output 'out/none'") && strstr(out, "forgot"));
	for (size_t i = 0; i < f.seen.n; i++)
		if (!strcmp(f.seen.label[i], "//p:none"))
			CHECK(f.seen.exit_code[i] == 1);
	/* a runner that cannot start the job fails the action, not the build */
	CHECK(fx_status(&f, "//p:nostart") == AS_FAILED);
	out = fx_output(&f, "//p:nostart");
	CHECK(out && strstr(out, "cannot start nostart"));
	CHECK(fx_status(&f, "//p:ok") == AS_EXECUTED);
	CHECK(f.res.c.failed == 2 && f.res.c.executed == 1);
	CHECK(!state_action(f.st, "out/none") && !state_action(f.st, "out/nostart"));
	/* nothing was cached for them: the next run tries again */
	CHECK(fx_run(&f, 1, 1, 0) == 0);
	CHECK(fx_status(&f, "//p:none") == AS_FAILED && fx_status(&f, "//p:ok") == AS_UPTODATE);
	fx_close(&f);
}

TEST(sched_source_looked_up_once_per_run)
{
	struct fx f;
	fx_open(&f);
	f.mem.count = "src.txt";
	failing(&f); /* f, x and y all read src.txt */
	CHECK(fx_run(&f, 1, 1, 0) == 0);
	CHECK(f.mem.nstat == 1);
	f.mem.nstat = 0;
	CHECK(fx_run(&f, 1, 1, 0) == 0);
	CHECK(f.mem.nstat == 1 && fx_status(&f, "//p:x") == AS_UPTODATE);
	fx_close(&f);
}

/* A source that is not a regular file is a user error (at the build
 * file's line: exit 2), never a read that waits on a FIFO for good. With
 * sources pre-stat'ed it is found before anything starts; without, where
 * the source is hashed. */
TEST(sched_source_that_is_not_a_file_is_an_input_error)
{
	for (int threads = 0; threads < 2; threads++) {
		struct fx f;
		fx_open(&f);
		f.stat_threads = threads;
		fx_put("src.txt", "s");
		memfs_mkfifo(&f.mem, "fifo.txt");
		memfs_mkdir(&f.mem, "dir.txt");
		fx_add(&f, "//p:ok", L("cat"), L("src.txt"), L("out/ok"));
		fx_add(&f, "//p:f", L("cat"), L("fifo.txt"), L("out/f"));
		fx_add(&f, "//p:d", L("cat"), L("dir.txt"), L("out/d"));
		fx_want(&f, "out/ok");
		fx_want(&f, "out/f");
		fx_check(&f);
		CHECK(fx_run(&f, 1, 1, 0) == -1);
		CHECK(f.err && strstr(f.err, "error: //p:f: source 'fifo.txt' is a FIFO, "
		                             "not a regular file"));
		if (threads)
			CHECK(f.run.nstarted == 0);
		/* in a plan the same */
		CHECK(fx_run(&f, 1, 1, 1) == -1);
		CHECK(f.err && strstr(f.err, "source 'fifo.txt' is a FIFO"));
		/* a directory */
		fx_put("fifo.txt", "now a file");
		fx_want(&f, "out/d");
		fx_check(&f);
		CHECK(fx_run(&f, 1, 1, 0) == -1);
		CHECK(f.err && strstr(f.err, "//p:d: source 'dir.txt' is a directory"));
		fx_close(&f);
	}
}
