/* audit: the audit log's commands (deploy/audit.h).
 *   audit            the log, one line per entry
 *   audit --json     the log as it is stored, one JSON object a line
 *   audit verify     the chain and the anchor in .cairn/state.db: exit 0
 *                    intact, 1 naming the first bad line
 * Neither writes: a torn tail is repaired by the next command that
 * appends (deploy, rollback, reconcile), not here. */
#include "cli/cmds.h"
#include "deploy/audit.h"
#include "deploy/state.h"
#include "util/util.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define AUDIT_LOG ".cairn/audit.log"
#define STATE_DB ".cairn/state.db"

int cmd_audit(const struct opts *o)
{
	int verify = o->nargs == 1 && !strcmp(o->args[0], "verify");
	if (o->nargs > 1 || (o->nargs == 1 && !verify)) {
		fprintf(stderr, "cairn: error: audit takes no argument but 'verify': cairn audit [--json],"
		        " cairn audit verify\n");
		return 2;
	}
	struct ws w;
	ws_open(&w, o, 0);
	struct err e = {0};
	int code = 0;
	if (!verify) {
		if (audit_print(AUDIT_LOG, o->json, stdout, &e) < 0) {
			fprintf(stderr, "cairn: error: %s\n", e.msg);
			err_clear(&e);
			code = 2;
		}
		ws_close(&w);
		return code;
	}
	/* no store: nothing was ever deployed, and there is no anchor */
	struct dstate *st = NULL;
	if (access(STATE_DB, F_OK) == 0 && dstate_open(STATE_DB, &st, &e) < 0) {
		fprintf(stderr, "cairn: %s\n", e.msg);
		err_clear(&e);
		ws_close(&w);
		return 2;
	}
	fflush(stdout);
	code = audit_verify(AUDIT_LOG, st, stdout);
	dstate_close(st);
	ws_close(&w);
	return code;
}
