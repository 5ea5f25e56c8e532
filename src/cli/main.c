/* main: parse the command line, apply the .cairnrc files under it, and
 * hand over to a command. */
#include "cli/args.h"
#include "cli/cmds.h"
#include "util/util.h"
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct opts o;
	if (args_parse(argc, argv, &o) < 0) {
		args_free(&o);
		return 2;
	}
	if (!o.version && !o.help) {
		/* the workspace's .cairnrc is at its root: find it once, here,
		 * and ws_open takes it from o */
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof cwd))
			fatal("getcwd:");
		o.cwd = xstrdup(cwd);
		o.root = ws_find_root(cwd);
		if (args_rc(argc, argv, &o) < 0) {
			args_free(&o);
			return 2;
		}
	}
	int code = 0;
	if (o.version) {
		puts("cairn " CAIRN_VERSION);
	} else if (o.help) {
		usage();
	} else if (!strcmp(o.cmd, "build")) {
		code = cmd_build(&o, MODE_BUILD);
	} else if (!strcmp(o.cmd, "plan")) {
		code = cmd_build(&o, MODE_PLAN);
	} else if (!strcmp(o.cmd, "test")) {
		code = cmd_build(&o, MODE_TEST);
	} else if (!strcmp(o.cmd, "run")) {
		code = cmd_build(&o, MODE_RUN);
	} else if (!strcmp(o.cmd, "compdb")) {
		code = cmd_build(&o, MODE_COMPDB);
	} else if (!strcmp(o.cmd, "query")) {
		code = cmd_query(&o);
	} else if (!strcmp(o.cmd, "clean")) {
		code = cmd_clean(&o);
	} else if (!strcmp(o.cmd, "gc")) {
		code = cmd_gc(&o);
	} else if (!strcmp(o.cmd, "deploy")) {
		code = cmd_deploy(&o);
	} else if (!strcmp(o.cmd, "status")) {
		code = cmd_status(&o);
	} else if (!strcmp(o.cmd, "rollback")) {
		code = cmd_rollback(&o);
	} else if (!strcmp(o.cmd, "reconcile")) {
		code = cmd_reconcile(&o);
	} else if (!strcmp(o.cmd, "serve")) {
		code = cmd_serve(&o);
	} else if (!strcmp(o.cmd, "audit")) {
		code = cmd_audit(&o);
	}
	args_free(&o);
	return code;
}
