/* sandbox: running one action in Linux namespaces, so it sees only what it
 * declared:
 *   /usr /bin /lib* /sbin /etc   the host's, read-only
 *   /dev/null zero full random urandom, a private /proc and /tmp
 *   <root>/<input>               each declared input, read-only
 *   <root>/<output dir>          writable: <dir>/out/<output dir> on disk
 * and loopback only (unless the action may use the network).
 *
 * sandbox_init prepares, once per cairn process, what all sandboxes share:
 * cairn moves into a mount namespace of its own (and, when not root, a
 * user namespace where it may mount), builds a base image on a tmpfs with
 * the system directories bound read-only, and creates one network
 * namespace holding only an up loopback. Each action then costs a clone
 * into new mount, PID, IPC and UTS namespaces, a tmpfs for its workspace
 * image, a bind mount per input and per output directory, /tmp and /proc,
 * a pivot_root into the image (the host's root detached), and a user
 * namespace of its own where it is nobody with no capabilities and
 * no_new_privs: the mounts stay as cairn made them. Only stdin, stdout and
 * stderr reach it. The action is PID 1 of its PID namespace: when it
 * exits, everything it left running is killed by the kernel. */
#ifndef CAIRN_SANDBOX_H
#define CAIRN_SANDBOX_H
#include <stddef.h>
#include <sys/types.h>

struct sandbox_spec {
	const char *root;             /* absolute workspace root (the cwd) */
	const char *state;            /* absolute: where sandbox_init prepares */
	const char *dir;              /* absolute, under <state>/out (sandbox_init):
	                                 <dir>/out holds the outputs */
	const char *const *inputs;    /* workspace-relative files, read-only */
	size_t ninputs;
	const char *const *outdirs;   /* workspace-relative directories, writable;
	                                 parents before children */
	size_t noutdirs;
	const char *const *rwdirs;    /* workspace directories shared read-write */
	size_t nrwdirs;
	const char *const *rodirs;    /* absolute host directories, shown
	                                 read-only at the same path */
	size_t nrodirs;
	int network;                  /* keep the host's network */
};

/* Once, while cairn runs no other thread (the first sandboxed spawn calls
 * it on the build loop's thread, before the spawner's threads exist; the
 * threads of the no-op check and of the state load have ended by then):
 * root is the absolute workspace root (the cwd), state an absolute
 * directory for the base image. 0, or -1 with a reason (static). */
int sandbox_init(const char *root, const char *state, const char **why);
/* Start prog in a sandbox, stdin from /dev/null, stdout and stderr to
 * outfd, in/out its simple redirections (or NULL). The child is in a
 * process group of its own. The first call runs sandbox_init (so a build
 * with nothing to run never pays for it); when that fails, -1 with errno
 * EPERM and *why set. Returns the child's pid, or -1 with errno. Setup
 * failures inside end the child with exit 127 and a message on outfd. */
pid_t sandbox_spawn(const struct sandbox_spec *sp, const char *prog, char *const argv[],
                    char *const envp[], const char *in, const char *out, int append, int outfd,
                    const char **why);
/* Has sandbox_init succeeded in this process? */
int sandbox_ready(void);
/* Could sandbox_init work here? Tried in a child. 0, or -1 with a reason. */
int sandbox_probe(const char **why);

#endif
