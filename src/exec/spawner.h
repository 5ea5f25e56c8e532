/* spawner: sandboxed spawns on worker threads. sandbox_spawn holds its
 * caller until the child has set up its namespaces and mounts and exec'd
 * (CLONE_VFORK), most of a millisecond; on the build loop's thread that
 * would idle the other job slots. The workers take the requests in order,
 * and each result comes back through a pipe the loop polls. */
#ifndef CAIRN_SPAWNER_H
#define CAIRN_SPAWNER_H
#include "exec/sandbox.h"
#include <stddef.h>
#include <sys/types.h>

struct spawn_done {
	size_t id;       /* as submitted */
	pid_t pid;       /* the child, or -1 */
	int err;         /* errno when pid is -1 */
};

/* Start the workers, once per process, after sandbox_init (they inherit
 * its namespaces). 0, or -1 (then spawn on the caller's thread). */
int spawner_start(int nthreads);
/* Queue a spawn with sandbox_spawn's arguments, all copied; outfd is
 * closed once the child has it. */
void spawner_submit(size_t id, const struct sandbox_spec *sp, const char *prog,
                    const char *const argv[], const char *const envp[], const char *in,
                    const char *out, int append, int outfd);
/* Readable while results wait. */
int spawner_fd(void);
/* Take one result: 1, or 0 when none is ready. */
int spawner_result(struct spawn_done *d);

#endif
