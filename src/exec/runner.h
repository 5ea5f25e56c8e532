/* runner: how the scheduler runs commands. The scheduler sees only this
 * interface; os_posix.c implements it with posix_spawn and one poll()
 * loop, tests with a fake, a remote executor with RPCs. */
#ifndef CAIRN_RUNNER_H
#define CAIRN_RUNNER_H
#include "exec/sandbox.h"
#include "reapi/reapi.h"
#include "util/err.h"
#include <stddef.h>
#include <stdint.h>

struct job {
	size_t id;                /* the caller's name for the job */
	const char *const *argv;  /* NULL-terminated; argv[0] searched in PATH of envp */
	const char *const *envp;  /* NULL-terminated: the whole environment */
	uint64_t timeout_ms;      /* kill the job's process group after this; 0: never */
	const struct sandbox_spec *sandbox; /* run it in this sandbox, or NULL */
	const struct reapi_spec *remote; /* what it is in REAPI's terms: it may
	                                  * run remotely (NULL: only here) */
};

struct job_done {
	size_t id;
	int exit_code;            /* 0-255; 128+N when killed by signal N */
	char *output;             /* merged stdout+stderr; owned by the caller */
	size_t outlen;
	uint64_t start_ns, end_ns;
	int timed_out;            /* killed because it ran past its timeout */
	int remote;               /* it ran on a remote executor */
};

struct runner {
	/* Start a job. 0, or -1 with *e set (the job did not start). */
	int (*start)(struct runner *r, const struct job *j, struct err *e);
	/* Block until a job ends: 1 with *d filled; 0 when the user
	 * interrupted (SIGINT/SIGTERM); -1 on a system error. */
	int (*wait)(struct runner *r, struct job_done *d);
	/* Kill every running job's process group and reap them. */
	void (*cancel)(struct runner *r);
	void (*free)(struct runner *r);
};

/* Run j alone on r and wait for it: 0 with *d filled (the caller frees
 * d->output), or -1 with *e set (it did not start, the wait failed, or the
 * user interrupted; r's jobs are cancelled then). */
int runner_run(struct runner *r, const struct job *j, struct job_done *d, struct err *e);

/* The local runner: process groups, pipes, posix_spawn. NULL with errno
 * when the first call cannot make its signal self-pipe (no descriptors
 * left). */
struct runner *runner_local_new(void);
/* Also watch fd: wait() returns 2 as soon as it is readable (even with no
 * job running). -1: stop watching. For a runner that wraps this one. */
void runner_local_watch(struct runner *r, int fd);
/* Set once SIGINT or SIGTERM arrived (installed by runner_local_new). */
int runner_interrupted(void);
/* The read end of the signal self-pipe, for other poll() loops. */
int runner_signal_fd(void);

#endif
