/* args: the command line and the .cairnrc files. Flags may come before or
 * after the command; both "--flag value" and "--flag=value" work. */
#ifndef CAIRN_ARGS_H
#define CAIRN_ARGS_H
#include "remote/url.h"
#include "util/arena.h"
#include <stddef.h>
#include <stdint.h>

#define CAIRN_VERSION "0.1.0"

enum color_mode { COLOR_AUTO, COLOR_ALWAYS, COLOR_NEVER };
enum sandbox_mode { SANDBOX_STRICT, SANDBOX_AUTO, SANDBOX_NONE };
enum remote_download { DOWNLOAD_ALL, DOWNLOAD_TOPLEVEL };

/* One --remote_header. */
struct remote_header {
	char *name;  /* owned; lowercased, as gRPC metadata wants it */
	char *value; /* owned; may be empty */
};

struct opts {
	const char *cmd;          /* "build", "plan", ... */
	const char **args;        /* positional arguments after the command */
	size_t nargs;
	const char **run_args;    /* after "--" (cairn run) */
	size_t nrun_args;
	int jobs;                 /* -j; 0 = number of CPUs */
	int keep_going;           /* -k */
	int explain;              /* --explain */
	int verbose;              /* -v */
	const char *events;       /* --events FILE */
	const char *profile;      /* --profile FILE */
	const char *cache_dir;    /* --cache-dir DIR */
	enum color_mode color;    /* --color */
	const char *test_output;  /* --test_output: errors (default), all, summary */
	int watch;                /* --watch: rebuild on every change */
	enum sandbox_mode sandbox; /* --sandbox */
	int all;                  /* clean --all */
	uint64_t max_size;        /* gc --max-size, bytes */
	int have_max_size;
	int version, help;

	/* Deployments (SPEC section 7). */
	int plan;                 /* deploy --plan */
	int promote, abort_rollout; /* deploy --promote, --abort */
	int json;                 /* status --json */
	int lock_timeout;         /* deploy --lock-timeout, seconds; -1: unset */
	int every;                /* reconcile --every, seconds; 0: once */
	const char *stage, *to;   /* rollback --stage, --to */

	/* cairn serve */
	const char *listen;       /* --listen HOST:PORT */
	const char *store;        /* --store DIR (default: the user's cache) */
	const char *auth_token_file; /* --auth-token-file F */
	const char *metrics;      /* --metrics HOST:PORT: /metrics, /healthz, / */
	const char *workers;      /* --workers MIN:MAX: execute, with MAX at once */
	int worker_idle;          /* --worker-idle SECONDS: a worker above MIN exits (0: 60) */
	int queue;                /* --queue N: at most N actions wait (0: 4096) */
	const char *tls_cert, *tls_key; /* --tls-cert, --tls-key: serve grpcs */

	/* The remote (SPEC section 6), parsed and checked; nothing uses it yet. */
	struct url remote_cache;          /* --remote_cache; host NULL: none */
	struct url remote_executor;       /* --remote_executor (grpc, grpcs only) */
	const char *remote_instance_name; /* --remote_instance_name, or NULL */
	struct remote_header *remote_headers; /* --remote_header, in order (owned) */
	size_t nremote_headers;
	int remote_timeout;               /* --remote_timeout, seconds; default 60 */
	int remote_upload_local_results;  /* default 1 */
	enum remote_download remote_download; /* --remote_download; default all */

	/* The .cairnrc files (args_rc). */
	int home_rc;        /* read ~/.cairnrc (default 1; --nohome_rc) */
	int workspace_rc;   /* read ROOT/.cairnrc (default 1; --noworkspace_rc) */
	int announce_rc;    /* --announce_rc: print the rc lines that applied */
	char *cwd;          /* where cairn runs (owned; set before args_rc) */
	char *root;         /* the workspace root above cwd, or NULL (owned; ditto) */
	struct arena rc_mem; /* the rc files' text and the paths made from it */
};

/* Parse argv; 0, or -1 after printing "cairn: error: ..." to stderr. */
int args_parse(int argc, char **argv, struct opts *o);
/* Apply $HOME/.cairnrc, then o->root/.cairnrc (when o->root), under the
 * command line argv that args_parse gave o: o is parsed again, rc lines
 * first, so the command line wins and --remote_header accumulates. With
 * neither file there, o is left as it is (two failed opens). 0, or -1
 * after printing "PATH:LINE: error: ..." to stderr. */
int args_rc(int argc, char **argv, struct opts *o);
void args_free(struct opts *o);
/* "10G", "512M", "64k", "1000" -> bytes; 0 or -1. */
int parse_size(const char *s, uint64_t *out);
void usage(void);

#endif
