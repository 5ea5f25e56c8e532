/* hook: fault injection for the tests, compiled in by a switch, as Lua's
 * ltests.h is. In the `cairn-hooks` binary (its hooked files built with
 * -DCAIRN_HOOKS), hook("NAME") is true while the environment variable
 * CAIRN_HOOK_NAME is set; in `cairn` it is the constant 0, so the
 * production binary reads no such variable and the faults behind it are
 * dead code. A file that calls hook() is listed in HOOK_SRCS in the
 * Makefile. */
#ifndef CAIRN_HOOK_H
#define CAIRN_HOOK_H

#ifdef CAIRN_HOOKS
/* Is the fault NAME switched on (CAIRN_HOOK_NAME set)? */
int hook(const char *name);
#else
#define hook(name) 0
#endif

#endif
