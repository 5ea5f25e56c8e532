/* reapi_bench: what the REAPI action key costs (reapi/reapi.c), beside
 * today's key (exec/key.c) on the same actions.
 *   make bench-reapi    (or build/bench/reapi_bench [ROUNDS])
 * Two shapes: 10,000 compile-like actions of 20 inputs each (a source, a
 * header beside it, 18 headers from 6 library directories), and one link
 * of 5,000 objects in 100 directories. Input digests are made up front;
 * only the key is timed, in CPU time of the thread (steadier than wall
 * time on a shared machine). Each figure is the best of ROUNDS (default 5). */
#include "exec/key.h"
#include "reapi/reapi.h"
#include "util/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct shape {
	size_t nact, nin;       /* actions, inputs per action */
	struct reapi_input *in; /* nact * nin */
	char **paths;           /* the same, as strings to free */
	struct graph g;         /* the same actions for key.c */
	struct action **acts;
};

static uint64_t cpu_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static const char *env[] = {"LANG=C", "PATH=/usr/bin:/bin", NULL};
static const char *props[] = {"platform=linux-x86_64", "sandbox=linux-ns"};

static char *input_path(size_t a, size_t i, size_t nin)
{
	if (nin > 1000) /* the link: objects of 100 packages */
		return xasprintf("pkg%03zu/_objs/lib/obj%04zu.o", i % 100, i);
	if (i == 0)
		return xasprintf("lib%03zu/src/file%03zu.c", a / 100, a % 100);
	if (i == 1)
		return xasprintf("lib%03zu/src/file%03zu.h", a / 100, a % 100);
	size_t lib = (a / 100 + 1 + i % 6) % 100;
	return xasprintf("lib%03zu/include/lib%03zu/h%02zu.h", lib, lib, i);
}

static void shape_make(struct shape *s, size_t nact, size_t nin)
{
	memset(s, 0, sizeof *s);
	s->nact = nact;
	s->nin = nin;
	s->in = xcalloc(nact * nin, sizeof *s->in);
	s->paths = xcalloc(nact * nin, sizeof *s->paths);
	s->acts = xcalloc(nact, sizeof *s->acts);
	for (size_t a = 0; a < nact; a++) {
		const char **ins = xcalloc(nin, sizeof *ins);
		for (size_t i = 0; i < nin; i++) {
			char *p = input_path(a, i, nin);
			s->paths[a * nin + i] = p;
			ins[i] = p;
		}
		char *out = xasprintf("out/a%zu.o", a);
		const char *argv[] = {"cc", "-c", ins[0], "-o", out, "-Iinclude", "-O2"};
		const char *outs[] = {out};
		struct action_spec sp = {.label = "//b:b", .argv = argv, .argc = 7, .env = env,
		                         .nenv = 2, .inputs = ins, .ninputs = nin, .outputs = outs,
		                         .noutputs = 1};
		struct err e = {0};
		if (!(s->acts[a] = graph_add_action(&s->g, &sp, &e)))
			fatal("graph_add_action: %s", e.msg);
		/* in the graph's order (sorted by path), as decide.c gives them */
		for (size_t i = 0; i < nin; i++) {
			struct reapi_input *r = &s->in[a * nin + i];
			r->path = s->acts[a]->inputs[i]->path;
			reapi_digest_of(r->path, strlen(r->path), &r->d);
			r->d.size = 1000 + i;
		}
		free(out);
		free(ins);
	}
}

static void shape_free(struct shape *s)
{
	for (size_t i = 0; i < s->nact * s->nin; i++)
		free(s->paths[i]);
	free(s->paths);
	free(s->in);
	free(s->acts);
	graph_free(&s->g);
}

/* ns for keying every action of s with reapi_build, best of rounds. */
static uint64_t time_reapi(struct shape *s, int rounds, struct digest *sink)
{
	struct reapi_builder *b = reapi_builder_new();
	const char **outs = xcalloc(1, sizeof *outs);
	uint64_t best = UINT64_MAX;
	for (int r = 0; r < rounds; r++) {
		uint64_t t0 = cpu_ns();
		for (size_t a = 0; a < s->nact; a++) {
			const struct action *ac = s->acts[a];
			outs[0] = ac->outputs[0]->path;
			struct reapi_spec sp = {.argv = (const char *const *)ac->argv, .argc = ac->argc,
			                        .env = env, .nenv = 2, .outputs = outs, .noutputs = 1,
			                        .props = props, .nprops = 2, .in = s->in + a * s->nin,
			                        .nin = s->nin};
			struct reapi_action out;
			struct err e = {0};
			if (reapi_build(b, &sp, &out, &e) < 0)
				fatal("reapi_build: %s", e.msg);
			sink->b[a % 32] ^= out.action.hash.b[0];
		}
		uint64_t t = cpu_ns() - t0;
		if (t < best)
			best = t;
	}
	free(outs);
	reapi_builder_free(b);
	return best;
}

/* The same with today's key_compute. */
static uint64_t time_key(struct shape *s, int rounds, struct digest *sink)
{
	struct key_input *kin = xcalloc(s->nin, sizeof *kin);
	uint64_t best = UINT64_MAX;
	for (int r = 0; r < rounds; r++) {
		uint64_t t0 = cpu_ns();
		for (size_t a = 0; a < s->nact; a++) {
			const struct action *ac = s->acts[a];
			for (size_t i = 0; i < ac->ninputs; i++)
				kin[i] = (struct key_input){ac->inputs[i]->path, s->in[a * s->nin + i].d.hash};
			struct digest key, cmd;
			uint64_t key_size;
			key_compute(ac, env, kin, ac->ninputs, "platform=linux-x86_64;sandbox=linux-ns",
			            &key, &key_size, &cmd);
			sink->b[a % 32] ^= key.b[0];
		}
		uint64_t t = cpu_ns() - t0;
		if (t < best)
			best = t;
	}
	free(kin);
	return best;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 5;
	if (rounds < 1)
		rounds = 1;
	struct digest sink = {{0}};
	struct {
		const char *name;
		size_t nact, nin;
	} rows[] = {
		{"10k actions x 20 inputs", 10000, 20},
		{"1 action x 5,000 inputs", 1, 5000},
	};
	printf("%-26s %12s %12s %8s\n", "", "reapi", "key.c", "ratio");
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
		struct shape s;
		shape_make(&s, rows[i].nact, rows[i].nin);
		uint64_t tr = time_reapi(&s, rounds, &sink);
		uint64_t tk = time_key(&s, rounds, &sink);
		printf("%-26s %9.2f ms %9.2f ms %7.1fx\n", rows[i].name, tr / 1e6, tk / 1e6,
		       (double)tr / (double)tk);
		shape_free(&s);
	}
	/* keep the work from being optimised away */
	char hx[65];
	digest_hex(&sink, hx);
	fprintf(stderr, "(sink %.8s)\n", hx);
	return 0;
}
