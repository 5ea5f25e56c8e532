/* eval_int: what eval.c, bind.c and glob.c share; not for other modules. */
#ifndef CAIRN_EVAL_INT_H
#define CAIRN_EVAL_INT_H
#include "lang/eval.h"
#include <lua.h>

extern const char cairn_prelude[];

struct eval {
	lua_State *L;
	struct graph *g;    /* where actions go; not owned */
	char *context;      /* "while analyzing ...", or NULL; owned */
	char **files;       /* build files and modules compiled, in order */
	size_t nfiles, capfiles;
	int api;            /* registry ref of the prelude's entry table */
};

/* Push the table of C primitives the prelude receives. */
void bind_push(lua_State *L, struct eval *ev, const char *root_name);
/* Raise a formatted user error: `where` NULL means the innermost user
 * frame of the Lua stack. Does not return. */
int bind_raise(lua_State *L, const char *where, const char *msg, int context);
/* The message handler for lua_pcall: turns any error into a formatted one. */
int bind_msgh(lua_State *L);

/* glob{} of a package; pushes the sorted list of matching files. */
int glob_push(lua_State *L, const char *pkg, const char **inc, size_t ninc,
              const char **exc, size_t nexc);
/* Push the sorted list of packages at or below pkg. */
int packages_push(lua_State *L, const char *pkg);

#endif
