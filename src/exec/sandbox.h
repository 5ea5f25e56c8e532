/* sandbox: running one action in Linux namespaces (user when not root,
 * mount, PID, network, IPC, UTS), so it sees only what it declared:
 *   /usr /bin /lib* /sbin /etc   the host's, read-only
 *   /dev/null zero full random urandom, a private /proc and /tmp
 *   <root>/<input>               each declared input, read-only
 *   <root>/<output dir>          writable: <dir>/out/<output dir> on disk
 * and loopback only (unless the action may use the network). The image
 * is built in <dir>/img (dir is on the workspace's file system); what the
 * action writes anywhere else stays there or in the image's private /tmp,
 * and the caller moves the declared outputs out of <dir>/out. PID 1 of the new PID namespace is the action itself: when
 * it exits, everything it left running is killed by the kernel. */
#ifndef CAIRN_SANDBOX_H
#define CAIRN_SANDBOX_H
#include <stddef.h>

struct sandbox_spec {
	const char *root;             /* absolute workspace root (also the cwd inside) */
	const char *dir;              /* absolute, empty: where the image is built */
	const char *const *inputs;    /* workspace-relative files, read-only */
	size_t ninputs;
	const char *const *outdirs;   /* workspace-relative directories, writable */
	size_t noutdirs;
	const char *const *rwdirs;    /* workspace directories shared read-write */
	size_t nrwdirs;
	int network;                  /* keep the host's network */
};

/* In a freshly forked child whose stdout/stderr are set: build the
 * sandbox and exec prog. Never returns; on failure it says why on fd 2
 * and exits 127. in/out are the simple command's redirections or NULL. */
_Noreturn void sandbox_exec(const struct sandbox_spec *sp, const char *prog,
                            char *const argv[], char *const envp[],
                            const char *in, const char *out, int append);

/* Can this process build a sandbox? 0, or -1 with a reason (static). */
int sandbox_probe(const char **why);

#endif
