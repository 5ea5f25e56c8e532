/* serve/worker: the process that runs `cairn serve`'s actions.
 *
 * A worker is forked by the server (execute.c) and lives across actions:
 * it opens the store and its runner once, then for each request reads the
 * Action, its Command and its input tree from the store, lays the tree out
 * in a directory of its own (STORE/exec/PID), runs the command in cairn's
 * namespace sandbox (exec/runner.h, as a build does: only the inputs
 * visible, read-only; loopback only), stores the outputs and the log,
 * records the result (unless the action failed, timed out or says
 * do_not_cache), and answers on its pipe (worker.h). Everything an action
 * allocated is freed before the next, so a worker's memory stays flat. */
#include "serve/worker.h"
#include "exec/runner.h"
#include "exec/sandbox.h"
#include "remote/grpc.h"
#include "remote/result.h"
#include "store/store.h"
#include "util/fs.h"
#include "util/sha.h"
#include "util/str.h"
#include "util/util.h"
#include "remote_execution.pb-c.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define V2(x) Build__Bazel__Remote__Execution__V2__##x
#define D(x) build__bazel__remote__execution__v2__##x##__descriptor

enum { DEFAULT_TIMEOUT = 3600 };

/* One record: kind, n (exit code or gRPC code), then len bytes of p
 * (worker.h), in one write. */
static void put_record(int fd, char kind, uint32_t n, const void *p, size_t len)
{
	struct buf b = {0};
	buf_putc(&b, kind);
	buf_put_u32(&b, n);
	buf_put_lstr(&b, p, len);
	fs_write_full(fd, b.s, b.len);
	buf_free(&b);
}

/* Blob d (size) of the store, unpacked as desc; NULL when missing. */
static void *blob_msg(struct store *st, const V2(Digest) * m, const ProtobufCMessageDescriptor *desc)
{
	struct digest d;
	struct buf b = {0};
	if (!m || !m->hash || digest_parse(m->hash, &d) < 0 ||
	    (m->size_bytes > 0 && st->ops->get_blob(st, &d, &b) < 0))
		return NULL;
	void *x = protobuf_c_message_unpack(desc, NULL, b.len, (const uint8_t *)(b.s ? b.s : ""));
	buf_free(&b);
	return x;
}

/* A path component the tree may use. */
static int name_ok(const char *n)
{
	return n && *n && strcmp(n, ".") && strcmp(n, "..") && !strchr(n, '/');
}

/* Lay the tree dir out under root/rel; its files' paths (relative) go to
 * *files. 0, or -1 with *why (static). */
static int lay_out(struct store *st, const V2(Directory) * dir, const char *rel, char ***files,
                   size_t *n, size_t *cap, int depth, const char **why)
{
	if (depth > 64)
		return *why = "the input tree is too deep", -1;
	for (size_t i = 0; i < dir->n_files; i++) {
		V2(FileNode) *f = dir->files[i];
		struct digest d;
		if (!name_ok(f->name) || !f->digest || !f->digest->hash ||
		    digest_parse(f->digest->hash, &d) < 0)
			return *why = "a bad file node in the input tree", -1;
		char *p = *rel ? xasprintf("%s/%s", rel, f->name) : xstrdup(f->name);
		unsigned mode = f->is_executable ? 0555 : 0444;
		int rc;
		if (f->digest->size_bytes == 0) {
			int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
			rc = fd < 0 ? -1 : close(fd);
		} else {
			rc = st->ops->get_file(st, &d, p, mode);
		}
		if (rc < 0) {
			free(p);
			return *why = "an input blob is not in the CAS", -1;
		}
		vec_reserve(files, cap, *n + 2, sizeof **files);
		(*files)[(*n)++] = p;
		(*files)[*n] = NULL;
	}
	for (size_t i = 0; i < dir->n_directories; i++) {
		V2(DirectoryNode) *dn = dir->directories[i];
		if (!name_ok(dn->name))
			return *why = "a bad directory node in the input tree", -1;
		V2(Directory) *sub = blob_msg(st, dn->digest, &D(directory));
		if (!sub)
			return *why = "an input directory is not in the CAS", -1;
		char *p = *rel ? xasprintf("%s/%s", rel, dn->name) : xstrdup(dn->name);
		int rc = mkdir(p, 0755) < 0 && errno != EEXIST ? -1 : 0;
		if (rc == 0)
			rc = lay_out(st, sub, p, files, n, cap, depth + 1, why);
		else
			*why = "cannot make an input directory";
		free(p);
		protobuf_c_message_free_unpacked(&sub->base, NULL);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* A worker's directories, the same for all its actions: the sandbox
 * prepares once per process, for one workspace root. */
struct place {
	char *base;                /* STORE/exec/PID */
	char *root;                /* base/root: the input tree */
	char *state;               /* base/sandbox: the sandbox's image */
	char *out;                 /* base/sandbox/out/1: where outputs land */
};

/* What one action holds, freed by act_free. */
struct act {
	V2(Action) *a;
	V2(Command) *cmd;
	V2(Directory) *root;
	const struct place *at;
	char **files, **dirs;
	size_t nfiles, cap, ndirs;
	const char **argv;
	char **envs;
	size_t nenvs;
	struct job_done d;
	struct action_result res;
	struct buf enc;
};

/* Remove everything in dir, but not dir. */
static void empty_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			char *p = xasprintf("%s/%s", dir, e->d_name);
			fs_rm_rf(p);
			free(p);
		}
	closedir(d);
}

static void act_free(struct act *x)
{
	if (x->a)
		protobuf_c_message_free_unpacked(&x->a->base, NULL);
	if (x->cmd)
		protobuf_c_message_free_unpacked(&x->cmd->base, NULL);
	if (x->root)
		protobuf_c_message_free_unpacked(&x->root->base, NULL);
	for (size_t i = 0; i < x->nfiles; i++)
		free(x->files[i]);
	free(x->files);
	for (size_t i = 0; i < x->ndirs; i++)
		free(x->dirs[i]);
	free(x->dirs);
	for (size_t i = 0; i < x->nenvs; i++)
		free(x->envs[i]);
	free(x->envs);
	free(x->argv);
	free(x->d.output);
	action_result_free(&x->res);
	buf_free(&x->enc);
	/* the next action starts from an empty tree and no outputs; the
	 * root itself stays, as the sandbox bound it once */
	if (x->at && chdir("/") == 0) {
		empty_dir(x->at->root);
		fs_rm_rf(x->at->out);
	}
}

/* The output paths' directories, parents before children, into x->dirs.
 * 0, or -1 when a path leaves the input root. */
static int out_dirs(struct act *x, char **outs, size_t nouts)
{
	x->dirs = xcalloc(nouts + 1, sizeof *x->dirs);
	for (size_t i = 0; i < nouts; i++) {
		if (!*outs[i] || outs[i][0] == '/' || !path_components_ok(outs[i]))
			return -1;
		const char *sl = strrchr(outs[i], '/');
		char *d = sl ? xstrndup(outs[i], (size_t)(sl - outs[i])) : xstrdup(".");
		size_t k = 0;
		while (k < x->ndirs && strcmp(x->dirs[k], d))
			k++;
		if (k < x->ndirs)
			free(d);
		else
			x->dirs[x->ndirs++] = d;
	}
	for (size_t i = 0; i < x->ndirs; i++)
		for (size_t j = i + 1; j < x->ndirs; j++)
			if (strlen(x->dirs[j]) < strlen(x->dirs[i])) {
				char *t = x->dirs[i];
				x->dirs[i] = x->dirs[j];
				x->dirs[j] = t;
			}
	return 0;
}

/* Run the action hex (size) and answer on out. */
static void run_action(struct store *st, struct runner *r, const struct place *at, const char *hex,
                       uint64_t size, int out)
{
	struct act x = {0};
	struct digest key;
	const char *why = NULL;
	int code = GRPC_INTERNAL;
	if (digest_parse(hex, &key) < 0) {
		why = "a bad action digest";
		goto fail;
	}
	V2(Digest) kd = BUILD__BAZEL__REMOTE__EXECUTION__V2__DIGEST__INIT;
	kd.hash = (char *)hex;
	kd.size_bytes = (int64_t)size;
	x.a = blob_msg(st, &kd, &D(action));
	x.cmd = x.a ? blob_msg(st, x.a->command_digest, &D(command)) : NULL;
	x.root = x.a ? blob_msg(st, x.a->input_root_digest, &D(directory)) : NULL;
	code = GRPC_FAILED_PRECONDITION;
	if (!x.a || !x.cmd || !x.root) {
		why = "the Action, its Command or its input root is not in the CAS";
		goto fail;
	}
	code = GRPC_INVALID_ARGUMENT;
	if (x.cmd->n_arguments == 0) {
		why = "the Command has no arguments";
		goto fail;
	}
	char **outs = x.cmd->n_output_paths ? x.cmd->output_paths : x.cmd->output_files;
	size_t nouts = x.cmd->n_output_paths ? x.cmd->n_output_paths : x.cmd->n_output_files;
	if (out_dirs(&x, outs, nouts) < 0) {
		why = "an output path that leaves the input root";
		goto fail;
	}
	/* the work directory: the input root, the sandbox's image beside it */
	code = GRPC_INTERNAL;
	x.at = at;
	if (fs_mkdir_p(at->root) < 0 || fs_mkdir_p(at->out) < 0 || chdir(at->root) < 0) {
		why = "cannot make the work directory";
		goto fail;
	}
	x.files = xcalloc(1, sizeof *x.files);
	x.cap = 1;
	if (lay_out(st, x.root, "", &x.files, &x.nfiles, &x.cap, 0, &why) < 0) {
		code = GRPC_FAILED_PRECONDITION;
		goto fail;
	}
	x.argv = xcalloc(x.cmd->n_arguments + 1, sizeof *x.argv);
	for (size_t i = 0; i < x.cmd->n_arguments; i++)
		x.argv[i] = x.cmd->arguments[i];
	x.envs = xcalloc(x.cmd->n_environment_variables + 2, sizeof *x.envs);
	int have_path = 0;
	for (size_t i = 0; i < x.cmd->n_environment_variables; i++) {
		V2(Command__EnvironmentVariable) *v = x.cmd->environment_variables[i];
		x.envs[x.nenvs++] = xasprintf("%s=%s", v->name ? v->name : "", v->value ? v->value : "");
		have_path |= v->name && !strcmp(v->name, "PATH");
	}
	if (!have_path)
		x.envs[x.nenvs++] = xstrdup("PATH=/usr/local/bin:/usr/bin:/bin");
	struct sandbox_spec sp = {.root = at->root, .state = at->state, .dir = at->out,
	                          .inputs = (const char *const *)x.files, .ninputs = x.nfiles,
	                          .outdirs = (const char *const *)x.dirs, .noutdirs = x.ndirs};
	uint64_t timeout = x.a->timeout && x.a->timeout->seconds > 0 ? (uint64_t)x.a->timeout->seconds
	                                                             : DEFAULT_TIMEOUT;
	struct job j = {.id = 1, .argv = x.argv, .envp = (const char **)x.envs,
	                .timeout_ms = timeout * 1000, .sandbox = &sp};
	struct err e = {0};
	if (runner_run(r, &j, &x.d, &e) < 0) {
		put_record(out, 'E', GRPC_INTERNAL, e.msg ? e.msg : "cannot start the action",
		           strlen(e.msg ? e.msg : "cannot start the action"));
		err_clear(&e);
		act_free(&x);
		return;
	}
	/* the outputs out of the sandbox, into the store */
	x.res.exit_code = x.d.timed_out ? 124 : x.d.exit_code;
	x.res.outputs = xcalloc(nouts + 1, sizeof *x.res.outputs);
	for (size_t i = 0; i < nouts; i++) {
		/* copied out of the sandbox first, as a build does: the file there
		 * is the sandboxed user's, and only a copy of ours may become a
		 * blob */
		char *p = xasprintf("%s/out/%s", at->out, outs[i]), *copy = xasprintf("%s/out.%zu", at->base, i);
		struct stat sb;
		struct result_output *o = &x.res.outputs[x.res.noutputs];
		if (lstat(p, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    fs_copy_atomic(p, copy, (sb.st_mode & 0111) ? 0755 : 0644, NULL, NULL) == 0 &&
		    st->ops->put_file(st, copy, &o->d, &o->size) == 0) {
			o->path = xstrdup(outs[i]);
			o->mode = (sb.st_mode & 0111) ? 0755 : 0644;
			x.res.noutputs++;
		}
		unlink(copy);
		free(p);
		free(copy);
	}
	if (x.d.outlen && st->ops->put_blob(st, x.d.output, x.d.outlen, &x.res.log) == 0)
		x.res.log_size = x.d.outlen;
	if (x.res.exit_code == 0 && !x.d.timed_out && !x.a->do_not_cache)
		st->ops->put_result(st, &key, size, &x.res);
	result_encode(&x.res, &x.enc);
	put_record(out, x.d.timed_out ? 'T' : 'R', (uint32_t)x.res.exit_code, x.enc.s ? x.enc.s : "",
	           x.enc.len);
	act_free(&x);
	return;
fail:
	put_record(out, 'E', (uint32_t)code, why, strlen(why));
	act_free(&x);
}

/* One request line from in: 1, 0 at its end, -1 when malformed. */
static int read_request(int in, char *hex, uint64_t *size)
{
	char line[128];
	size_t n = 0;
	for (;;) {
		ssize_t k = read(in, line + n, 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return n ? -1 : 0;
		if (line[n] == '\n')
			break;
		if (++n == sizeof line)
			return -1;
	}
	line[n] = 0;
	unsigned long long s;
	char h[65];
	if (sscanf(line, "%64s %llu", h, &s) != 2 || strlen(h) != 64)
		return -1;
	memcpy(hex, h, 65);
	*size = s;
	return 1;
}

/* The store and the worker's directories, at its first request (a warm
 * worker may start before the server has made the store). 0, or -1. */
static int open_store(const char *dir, struct store **st, struct place *at)
{
	if (*st)
		return 0;
	/* absolute: an action's work runs in a directory of its own */
	char *abs = realpath(dir, NULL);
	if (!abs || !(*st = store_local_open(abs))) {
		free(abs);
		return -1;
	}
	at->base = xasprintf("%s/exec/%ld", abs, (long)getpid());
	at->root = xasprintf("%s/root", at->base);
	at->state = xasprintf("%s/sandbox", at->base);
	at->out = xasprintf("%s/out/1", at->state);
	fs_rm_rf(at->base);
	free(abs);
	return 0;
}

_Noreturn void worker_main(const char *dir, int in, int out)
{
	struct store *st = NULL;
	struct runner *r = runner_local_new();
	struct place at = {0};
	char hex[65];
	uint64_t size;
	int rc;
	while ((rc = read_request(in, hex, &size)) > 0) {
		if (!r || open_store(dir, &st, &at) < 0)
			put_record(out, 'E', GRPC_INTERNAL, "cannot open the store", 21);
		else
			run_action(st, r, &at, hex, size, out);
	}
	_exit(rc < 0 ? 2 : 0);
}
