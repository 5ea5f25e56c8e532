/* sched_fake: the scheduler tests' fake runner and workspace fixture
 * (see sched_fake.h). */
#include "sched_fake.h"
#include "test.h"
#include "util/util.h"
#include <stdlib.h>

static int fake_start(struct runner *r, const struct job *j, struct err *e)
{
	struct fake_runner *f = (struct fake_runner *)r;
	struct action *a = f->g->actions[j->id];
	if (f->nstarted == FX_MAX || f->qlen == FX_MAX)
		return err_input(e, NULL, "fake runner full");
	if (!strcmp(a->argv[0], "nostart"))
		return err_input(e, NULL, "cannot start %s", a->argv[0]);
	f->started[f->nstarted++] = a->label;
	struct job_done d = {.id = j->id, .start_ns = f->clock_ns};
	uint64_t ms = 1;
	for (size_t i = 0; i < a->argc; i++)
		if (!strncmp(a->argv[i], "ms=", 3))
			ms = strtoull(a->argv[i] + 3, NULL, 10);
	f->clock_ns += ms * 1000000;
	d.end_ns = f->clock_ns;
	struct buf content = {0}, log = {0};
	if (!strcmp(a->argv[0], "fail")) {
		d.exit_code = 1;
		buf_puts(&log, "boom\n");
	} else if (!strcmp(a->argv[0], "none")) {
		buf_puts(&log, "forgot\n");
	} else {
		if (!strcmp(a->argv[0], "const"))
			buf_puts(&content, a->argv[1]);
		else
			for (size_t i = 0; i < a->ninputs; i++)
				CHECK(f->fs->read(f->fs, a->inputs[i]->path, &content) == 0);
		for (size_t i = 0; i < a->noutputs; i++)
			CHECK(f->fs->write(f->fs, a->outputs[i]->path, content.s ? content.s : "",
			                   content.len, 0644) == 0);
		buf_printf(&log, "ran %s\n", a->label);
	}
	d.outlen = log.len;
	d.output = buf_take(&log);
	buf_free(&content);
	f->q[(f->qhead + f->qlen++) % FX_MAX] = d;
	return 0;
}

static int fake_wait(struct runner *r, struct job_done *d)
{
	struct fake_runner *f = (struct fake_runner *)r;
	if (!f->qlen)
		return -1;
	*d = f->q[f->qhead];
	f->qhead = (f->qhead + 1) % FX_MAX;
	f->qlen--;
	return 1;
}

static void fake_cancel(struct runner *r)
{
	(void)r;
}

static void fake_free(struct runner *r)
{
	(void)r;
}

static void on_finished(void *ctx, const struct sched_event *ev)
{
	struct seen *s = ctx;
	if (s->n == FX_MAX)
		return;
	s->label[s->n] = ev->a->label;
	s->status[s->n] = ev->status;
	s->output[s->n] = xstrndup(ev->output ? ev->output : "", ev->outlen);
	s->exit_code[s->n] = ev->exit_code;
	s->reason[s->n++] = ev->reason ? xstrdup(ev->reason) : NULL;
}

static void seen_clear(struct seen *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->reason[i]);
		free(s->output[i]);
	}
	memset(s, 0, sizeof *s);
}

/* The fixture open now (one at a time), for fx_put and its kin. */
static struct fx *current;

void fx_put(const char *path, const char *text)
{
	memfs_put(&current->mem, path, text);
}

void fx_check_file(const char *path, const char *text)
{
	char *got = memfs_get(&current->mem, path);
	CHECK_STR(got, text);
	free(got);
}

void fx_rm(const char *path)
{
	current->mem.base.remove(&current->mem.base, path);
}

int fx_exists(const char *path)
{
	return memfs_exists(&current->mem, path);
}

void fx_open(struct fx *f)
{
	memset(f, 0, sizeof *f);
	current = f;
	memfs_init(&f->mem);
	int corrupt;
	f->st = state_load(".cairn/state", &f->mem.base, &corrupt);
	f->store = memstore_open(&f->mem);
	f->run.base = (struct runner){fake_start, fake_wait, fake_cancel, fake_free};
	f->run.g = &f->g;
	f->run.fs = &f->mem.base;
}

void fx_close(struct fx *f)
{
	seen_clear(&f->seen);
	free(f->err);
	state_free(f->st);
	f->store->ops->close(f->store);
	graph_free(&f->g);
	memfs_free(&f->mem);
	current = NULL;
}

void fx_add(struct fx *f, const char *label, const char **argv, const char **in,
            const char **out)
{
	struct action_spec s = {.label = label, .argv = argv, .inputs = in, .outputs = out};
	while (argv[s.argc])
		s.argc++;
	while (in[s.ninputs])
		s.ninputs++;
	while (out[s.noutputs])
		s.noutputs++;
	struct err e = {0};
	CHECK(graph_add_action(&f->g, &s, &e) != NULL);
	err_clear(&e);
}

void fx_want(struct fx *f, const char *path)
{
	graph_request(&f->g, graph_file(&f->g, path));
}

void fx_check(struct fx *f)
{
	struct err e = {0};
	CHECK(graph_check(&f->g, &e) == 0);
	if (e.msg)
		fprintf(stderr, "  graph_check: %s\n", e.msg);
	err_clear(&e);
}

int fx_run(struct fx *f, int jobs, int keep_going, int plan)
{
	seen_clear(&f->seen);
	f->run.nstarted = 0;
	struct sched_observer obs = {.ctx = &f->seen, .finished = on_finished};
	struct sched_env env = {
		.g = &f->g, .st = f->st, .store = f->store, .fs = f->fs ? f->fs : &f->mem.base,
		.runner = &f->run.base, .obs = &obs,
		.opts = {.jobs = jobs, .keep_going = keep_going, .plan = plan, .props = "test",
		         .stat_threads = f->stat_threads},
	};
	struct err e = {0};
	memset(&f->res, 0, sizeof f->res);
	int rc = sched_run(&env, &f->res, &e);
	free(f->err);
	f->err = rc < 0 && e.msg ? xstrdup(e.msg) : NULL;
	err_clear(&e);
	return rc;
}

int fx_status(struct fx *f, const char *label)
{
	for (size_t i = f->seen.n; i-- > 0;)
		if (!strcmp(f->seen.label[i], label))
			return (int)f->seen.status[i];
	return -1;
}

const char *fx_why(struct fx *f, const char *label)
{
	for (size_t i = f->seen.n; i-- > 0;)
		if (!strcmp(f->seen.label[i], label))
			return f->seen.reason[i];
	return NULL;
}

const char *fx_output(struct fx *f, const char *label)
{
	for (size_t i = f->seen.n; i-- > 0;)
		if (!strcmp(f->seen.label[i], label))
			return f->seen.output[i];
	return NULL;
}

char *fx_order(struct fx *f)
{
	struct buf b = {0};
	for (size_t i = 0; i < f->run.nstarted; i++)
		buf_printf(&b, "%s%s", i ? "," : "", f->run.started[i]);
	return buf_take(&b);
}
