/* exec: the remote executor (REAPI Execution), as a runner wrapping the
 * local one; see exec.c. Used through remote.h. */
#ifndef CAIRN_REMOTE_EXEC_H
#define CAIRN_REMOTE_EXEC_H
#include "exec/runner.h"
#include "remote/cas.h"
#include "store/store.h"

struct grpc;
/* Jobs with a REAPI spec run on g's server (inputs through cas, results
 * adopted into store, a remote_store); the others, and those the remote
 * cannot run, on local (taken). g, cas and store are not owned. */
struct runner *remote_exec_new(struct runner *local, struct grpc *g, struct cas *cas,
                               struct store *store, const char *instance);
/* How many jobs ran remotely. */
size_t remote_exec_count(struct runner *r);

#endif
