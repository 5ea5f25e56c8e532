/* serve/worker: the process that runs `cairn serve`'s actions, one at a
 * time, each in cairn's namespace sandbox (worker.c says how). */
#ifndef CAIRN_SERVE_WORKER_H
#define CAIRN_SERVE_WORKER_H

/* The worker's side of its two pipes. It reads requests from in, one
 * line each:
 *   HEX SIZE\n                the action to run (a digest in the store)
 * and answers each on out with one record:
 *   'R' exit_code(4) length(4) ActionResult    the action ran
 *   'T' exit_code(4) length(4) ActionResult    it ran past its timeout
 *   'E' code(4) length(4) message              a gRPC error before the run
 * (integers little-endian, as util/str.h writes them). It exits when in closes. Never returns. */
_Noreturn void worker_main(const char *storedir, int in, int out);

#endif
