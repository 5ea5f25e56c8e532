/* serve: `cairn serve`, a REAPI cache for a team on one machine
 * (serve/cache.c over serve/h2srv.c): the local store at --store (the
 * user's cache by default) served on --listen, kept under --max-size by
 * the store's LRU eviction, run every minute while serving, in a child
 * process, so that a big store's scan never pauses the serving loop.
 * Ctrl-C or SIGTERM stops it (exit 0). */
#include "cli/cmds.h"
#include "serve/auth.h"
#include "serve/cache.h"
#include "serve/execute.h"
#include "serve/h2srv.h"
#include "serve/http1.h"
#include "serve/status.h"
#include "store/store.h"
#include "util/util.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int stop_flag; /* set by SIGINT and SIGTERM */

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* The store's eviction and measure, once a minute while serving: a child
 * evicts (with --max-size), measures the store, and writes the bytes it
 * holds on a pipe; the loop reads them when the child is done. */
struct tick {
	const char *dir;
	uint64_t max;   /* --max-size */
	int on;         /* given */
	uint64_t next;  /* when next (ns) */
	struct status_src *status; /* or NULL */
	pid_t pid;      /* the child at work, or 0 */
	int fd;         /* its pipe */
	char got[32];   /* what it wrote */
	size_t ngot;
};

static void tick_start(struct tick *t)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		if (dup2(fds[1], 3) < 0)
			_exit(1);
		close_range(4, ~0u, 0); /* none of the server's sockets */
		uint64_t removed, kept;
		if (t->on)
			store_local_gc(t->dir, t->max, &removed, &kept);
		if (t->status)
			status_measure(t->status);
		dprintf(3, "%llu\n", (unsigned long long)(t->status ? t->status->store_bytes : 0));
		_exit(0);
	}
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return;
	}
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	t->pid = pid;
	t->fd = fds[0];
	t->ngot = 0;
}

/* Is the child done? Then take what it measured. */
static void tick_reap(struct tick *t)
{
	ssize_t r;
	while (t->ngot < sizeof t->got - 1 && (r = read(t->fd, t->got + t->ngot, sizeof t->got - 1 - t->ngot)) > 0)
		t->ngot += (size_t)r;
	if (waitpid(t->pid, NULL, WNOHANG) != t->pid)
		return;
	while (t->ngot < sizeof t->got - 1 && (r = read(t->fd, t->got + t->ngot, sizeof t->got - 1 - t->ngot)) > 0)
		t->ngot += (size_t)r;
	t->got[t->ngot] = 0;
	if (t->status && t->ngot && t->got[t->ngot - 1] == '\n')
		t->status->store_bytes = strtoull(t->got, NULL, 10);
	close(t->fd);
	t->pid = 0;
}

static void gc_tick(void *ctx)
{
	struct tick *t = ctx;
	if (t->pid)
		tick_reap(t);
	if (t->pid || now_ns() < t->next)
		return;
	tick_start(t);
	t->next = now_ns() + 60000000000ull;
}

static void tick_stop(struct tick *t)
{
	if (!t->pid)
		return;
	kill(t->pid, SIGKILL);
	waitpid(t->pid, NULL, 0);
	close(t->fd);
	t->pid = 0;
}

/* The loop's extra descriptors: the HTTP server's, then the workers'. */
struct extra {
	struct http1 *web;       /* or NULL */
	struct exec_pool *exec;  /* or NULL */
	size_t nweb;             /* how many of the last round were web's */
};

static size_t extra_fds(void *ctx, struct pollfd *pf, size_t max)
{
	struct extra *x = ctx;
	x->nweb = x->web ? http1_fds(x->web, pf, max) : 0;
	return x->nweb + (x->exec ? exec_fds(x->exec, pf + x->nweb, max - x->nweb) : 0);
}

static void extra_handle(void *ctx, const struct pollfd *pf, size_t n)
{
	struct extra *x = ctx;
	if (x->web)
		http1_handle(x->web, pf, x->nweb);
	if (x->exec)
		exec_handle(x->exec, pf + x->nweb, n - x->nweb);
}

/* "MIN:MAX" or "MAX" (MIN 0): 0 with *min and *max, or -1. */
static int parse_workers(const char *s, int *min, int *max)
{
	const char *colon = strchr(s, ':');
	char *end;
	long lo = colon ? strtol(s, &end, 10) : 0;
	if (colon && (end != colon || lo < 0))
		return -1;
	long hi = strtol(colon ? colon + 1 : s, &end, 10);
	if (*end || hi < 1 || hi > 1024 || lo > hi)
		return -1;
	*min = (int)lo;
	*max = (int)hi;
	return 0;
}

/* "HOST:PORT" or "[V6]:PORT": 0, or -1. */
static int split_listen(const char *s, char **host, int *port)
{
	const char *colon = strrchr(s, ':');
	if (!colon || !colon[1])
		return -1;
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (*end || p < 0 || p > 65535)
		return -1;
	size_t n = (size_t)(colon - s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']')
		*host = xstrndup(s + 1, n - 2);
	else
		*host = xstrndup(s, n);
	*port = (int)p;
	return **host ? 0 : (free(*host), -1);
}

int cmd_serve(const struct opts *o)
{
	if (!o->listen) {
		fprintf(stderr, "cairn: error: serve needs --listen HOST:PORT\n");
		return 2;
	}
	char *host = NULL, *mhost = NULL, *dir = NULL, *why = NULL;
	int port, mport = 0, code = 2;
	struct auth *auth = NULL;
	struct cache *k = NULL;
	struct srv *s = NULL;
	struct http1 *web = NULL;
	struct exec_pool *exec = NULL;
	struct err e = {0};
	if (split_listen(o->listen, &host, &port) < 0) {
		why = xasprintf("--listen wants HOST:PORT, not '%s'", o->listen);
		goto out;
	}
	if (o->metrics && split_listen(o->metrics, &mhost, &mport) < 0) {
		why = xasprintf("--metrics wants HOST:PORT, not '%s'", o->metrics);
		goto out;
	}
	if (o->auth_token_file && auth_load(o->auth_token_file, &auth, &e) < 0) {
		fprintf(stderr, "%s%s\n", strncmp(e.msg, "error: ", 7) ? "" : "cairn: ", e.msg);
		err_clear(&e);
		goto out;
	}
	struct exec_opts xo = {.idle_s = o->worker_idle ? (unsigned)o->worker_idle : 60,
	                       .queue = o->queue ? (size_t)o->queue : 4096};
	if (o->workers && parse_workers(o->workers, &xo.min, &xo.max) < 0) {
		why = xasprintf("--workers wants MIN:MAX (MAX from 1 to 1024), not '%s'", o->workers);
		goto out;
	}
	dir = o->store ? xstrdup(o->store) : ws_default_cache_dir();
	/* the methods: the cache's, and with --workers the executor's */
	size_t nc, ne = 0;
	const struct srv_method *cm = cache_methods(&nc), *em = NULL;
	if (xo.max && !(exec = exec_new(dir, &xo)))
		goto out;
	if (exec)
		em = exec_methods(exec, &ne);
	struct srv_method all[32];
	memcpy(all, cm, nc * sizeof *cm);
	memcpy(all + nc, em, ne * sizeof *em);
	if (!(k = cache_new(dir, &why)) || !(s = srv_new(host, port, all, nc + ne, k, &why)))
		goto out;
	cache_set_exec(k, exec != NULL);
	struct status_src status = {.srv = s, .cache = k, .exec = exec, .store_dir = dir,
	                            .max_size = o->have_max_size ? o->max_size : 0,
	                            .started = (int64_t)time(NULL)};
	if (mhost && !(web = http1_new(mhost, mport, status_page, &status, &why)))
		goto out;
	if (!o->tls_cert != !o->tls_key) {
		why = xstrdup("--tls-cert and --tls-key go together");
		goto out;
	}
	if (o->tls_cert && srv_set_tls(s, o->tls_cert, o->tls_key, &why) < 0)
		goto out;
	if (auth)
		srv_set_auth(s, auth_check, auth);
	struct extra x = {web, exec, 0};
	if (web || exec)
		srv_set_extra(s, extra_fds, extra_handle, &x);
	srv_set_log(s, o->verbose);
	struct sigaction sa = {.sa_handler = on_stop};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	printf("cairn: serving %s%s on %s:%d\n", dir, o->tls_cert ? " over TLS" : "", host, srv_port(s));
	if (web)
		printf("cairn: metrics and status on http://%s:%d/\n", mhost, http1_port(web));
	fflush(stdout);
	struct tick t = {.dir = dir, .max = o->max_size, .on = o->have_max_size, .next = now_ns(),
	                 .status = &status};
	code = 0;
	if (srv_run(s, &stop_flag, gc_tick, &t, &why) < 0)
		code = 1;
	else
		printf("cairn: serve: stopped\n");
	tick_stop(&t);
out:
	if (why)
		fprintf(stderr, "cairn: error: %s\n", why);
	free(why);
	http1_free(web);
	srv_free(s);
	exec_free(exec);
	cache_free(k);
	auth_free(auth);
	free(host);
	free(mhost);
	free(dir);
	return code;
}
