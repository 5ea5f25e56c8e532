/* runner: what every runner offers on top of its four operations. */
#include "exec/runner.h"
#include <errno.h>
#include <stdlib.h>

int runner_run(struct runner *r, const struct job *j, struct job_done *d, struct err *e)
{
	if (r->start(r, j, e) < 0)
		return -1;
	for (;;) {
		int rc = r->wait(r, d);
		if (rc == 1 && d->id == j->id)
			return 0;
		if (rc == 1) {
			free(d->output); /* not ours: r ran other jobs too */
			continue;
		}
		r->cancel(r);
		if (rc == 0) {
			errno = EINTR;
			return err_sys(e, "interrupted");
		}
		return err_sys(e, "waiting for '%s'", j->argv[0]);
	}
}
