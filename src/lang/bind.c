/* bind: the C primitives the prelude calls (table `C`), and the shaping of
 * every Lua error into the user-facing form
 *   pkg/BUILD.lua:12: error: MESSAGE
 *     called from pkg/BUILD.lua:30      (a macro's caller)
 *     loaded from pkg/BUILD.lua:1       (the load() that ran a module)
 *     while analyzing //pkg:x (pkg/BUILD.lua:3)
 * An error raised here is formatted where it is raised and travels as a
 * table { cairn = TEXT }; any other (Lua's own, a failed allocation) is
 * formatted by bind_failure from the stack that its failed thread keeps.
 * User frames are those whose chunk name starts with '@' (build files and
 * modules); the prelude's is "=prelude" and never shows. A chain of more
 * than 2 * CHAIN_SHOWN frames shows the innermost and the outermost
 * CHAIN_SHOWN, and "... N more calls" between. */
#include "lang/eval_int.h"
#include "lang/label.h"
#include "util/fs.h"
#include "util/str.h"
#include "util/util.h"
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static struct eval *self(lua_State *L)
{
	return lua_touserdata(L, lua_upvalueindex(1));
}

/* A user frame: a function of a build file or module on the stack. */
struct uframe {
	const char *src; /* chunk name without its '@'; the function holds it */
	int line;
	int main;        /* the chunk itself, not a function it defines */
};

/* lua_getstack walks from the innermost level each time it is called, so
 * reading a stack level by level is quadratic in its depth, and a stack
 * overflow leaves some 500k levels. Only this many levels are read at each
 * end of a deeper stack; those between are counted, never read. */
enum { STACK_WINDOW = 50 };
/* Frames of a chain shown at each end; those between are counted. */
enum { CHAIN_SHOWN = 10 };

/* The number of levels on L's stack: doubling, then bisection, so
 * O(n log n) for n levels. */
static int stack_depth(lua_State *L)
{
	lua_Debug ar;
	if (!lua_getstack(L, 0, &ar))
		return 0;
	int lo = 0, hi = 1; /* level lo exists, level hi may not */
	while (lua_getstack(L, hi, &ar)) {
		lo = hi;
		hi *= 2;
	}
	while (hi - lo > 1) {
		int mid = lo + (hi - lo) / 2;
		if (lua_getstack(L, mid, &ar))
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

/* Up to max user frames of L, innermost first, into f; max is at most
 * 2 * STACK_WINDOW. On a deep stack the levels between the two windows
 * are skipped: *gap of them, which lie before f[*gap_at]. */
static int user_frames(lua_State *L, struct uframe *f, int max, int *gap_at, int *gap)
{
	lua_Debug ar;
	int k = 0, depth = -1;
	*gap_at = *gap = 0;
	for (int lv = 0; k < max && lua_getstack(L, lv, &ar); lv++) {
		if (lv == STACK_WINDOW && depth < 0) {
			depth = stack_depth(L);
			if (depth - lv > STACK_WINDOW) {
				*gap_at = k;
				*gap = depth - STACK_WINDOW - lv;
				lv = depth - STACK_WINDOW;
				lua_getstack(L, lv, &ar);
			}
		}
		if (lua_getinfo(L, "Sl", &ar) && ar.source[0] == '@' && ar.currentline > 0)
			f[k++] = (struct uframe){ar.source + 1, ar.currentline, strcmp(ar.what, "main") == 0};
	}
	return k;
}

/* Append the chain of user frames; skip the first `skip` of them. A long
 * chain (a runaway recursion) shows its CHAIN_SHOWN innermost and
 * outermost frames and the number of calls between them. */
static void chain(lua_State *L, struct buf *b, int skip, int first_loaded)
{
	struct uframe f[2 * STACK_WINDOW];
	int gap_at, gap;
	int n = user_frames(L, f, 2 * STACK_WINDOW, &gap_at, &gap);
	if (gap_at < skip)
		gap = 0; /* the gap is inside the frame the error names */
	/* f[from..to) are left out, and the gap with them */
	int from, to;
	if (n - skip > 2 * CHAIN_SHOWN) {
		from = skip + CHAIN_SHOWN;
		to = n - CHAIN_SHOWN;
	} else {
		from = to = gap ? gap_at : n;
	}
	if (gap && gap_at < from)
		from = gap_at;
	if (gap && gap_at > to)
		to = gap_at;
	int more = to - from + gap;
	int inner_main = first_loaded;
	for (int i = 0; i <= n; i++) {
		if (i == from && more)
			buf_printf(b, "\n  ... %d more calls", more);
		if (i == n)
			break;
		if (i >= skip && (i < from || i >= to))
			buf_printf(b, "\n  %s from %s:%d", inner_main ? "loaded" : "called",
			           f[i].src, f[i].line);
		inner_main = f[i].main;
	}
}

/* "file:line" of the innermost user frame into b; 0 if there is none. */
static int where_now(lua_State *L, struct buf *b)
{
	struct uframe f[1];
	int gap_at, gap;
	if (user_frames(L, f, 1, &gap_at, &gap) == 0)
		return 0;
	buf_printf(b, "%s:%d", f[0].src, f[0].line);
	return 1;
}

/* Text for a message: Lua strings may hold NUL bytes, which would cut the
 * message short in C; they show as \0. */
static void put_text(struct buf *b, const char *s, size_t n)
{
	for (const char *nul; (nul = memchr(s, 0, n)); n -= (size_t)(nul - s) + 1, s = nul + 1) {
		buf_putn(b, s, (size_t)(nul - s));
		buf_puts(b, "\\0");
	}
	buf_putn(b, s, n);
}

/* The user-facing text of a message into b (see the top of the file):
 * what is "error" or "warning". */
static void format_msg(lua_State *L, struct eval *ev, const char *what, const char *where,
                       const char *msg, size_t len, int context, struct buf *b)
{
	int from_stack = 0;
	if (where)
		buf_printf(b, "%s: ", where);
	else if (where_now(L, b)) {
		buf_puts(b, ": ");
		from_stack = 1;
	}
	buf_printf(b, "%s: ", what);
	put_text(b, msg, len);
	if (from_stack || where)
		chain(L, b, from_stack, where != NULL && context);
	if (context && ev && ev->context)
		buf_printf(b, "\n  %s", ev->context);
}

static void format_error(lua_State *L, struct eval *ev, const char *where, const char *msg,
                         size_t len, int context, struct buf *b)
{
	format_msg(L, ev, "error", where, msg, len, context, b);
}

static void push_formatted(lua_State *L, const char *where, const char *msg, size_t len,
                           int context)
{
	struct buf b = {0};
	format_error(L, self(L), where, msg, len, context, &b);
	lua_newtable(L);
	lua_pushlstring(L, b.s, b.len);
	lua_setfield(L, -2, "cairn");
	buf_free(&b);
}

int bind_raise(lua_State *L, const char *where, const char *msg, int context)
{
	push_formatted(L, where, msg, strlen(msg), context);
	return lua_error(L);
}

/* A Lua string may hold NUL bytes, and C sees it cut short at the first:
 * a name "a\0/../x" would be checked as "a", a command run without its
 * tail. Every string that crosses into C as data is checked whole. */
static int has_nul(const char *s, size_t n)
{
	return memchr(s, 0, n) != NULL;
}

/* Argument idx as a C string; one holding a NUL byte is an error where
 * the build file handed it over. */
static const char *arg_str(lua_State *L, int idx, const char *what)
{
	size_t n;
	const char *s = luaL_checklstring(L, idx, &n);
	if (has_nul(s, n)) {
		char *m = xasprintf("%s contains a NUL byte", what);
		push_formatted(L, NULL, m, strlen(m), 1);
		free(m);
		lua_error(L);
	}
	return s;
}

/* Strip a leading "chunk:line: " that Lua put in front of a message. */
static const char *strip_pos(const char *m)
{
	const char *c = strchr(m, ':');
	if (!c || c == m)
		return m;
	const char *d = c + 1;
	while (*d >= '0' && *d <= '9')
		d++;
	if (d == c + 1 || d[0] != ':' || d[1] != ' ')
		return m;
	return d + 2;
}

void bind_failure(lua_State *co, struct eval *ev, int status, struct err *e)
{
	struct buf b = {0};
	size_t len;
	if (lua_istable(co, -1) && lua_getfield(co, -1, "cairn") == LUA_TSTRING) {
		/* formatted where it was raised */
		const char *m = lua_tolstring(co, -1, &len);
		buf_putn(&b, m, len);
	} else if (status == LUA_ERRMEM) {
		/* Lua calls no message handler for a failed allocation, but the
		 * thread's stack still says where it happened */
		uint64_t max = ev->heap_max;
		int gib = max % (1u << 30) == 0;
		char *m = ev->heap_refused
		          ? xasprintf("out of memory: evaluation may take at most %llu %s (raise it "
		                      "with workspace{ lua_memory_limit = ... } in WORKSPACE.lua)",
		                      (unsigned long long)(max >> (gib ? 30 : 20)), gib ? "GiB" : "MiB")
		          : xstrdup("out of memory");
		format_error(co, ev, NULL, m, strlen(m), 1, &b);
		free(m);
	} else {
		if (lua_istable(co, -1))
			lua_pop(co, 1); /* the nil from "cairn" */
		const char *m = lua_tolstring(co, -1, &len);
		if (!m) {
			m = luaL_typename(co, -1);
			len = strlen(m);
		}
		const char *msg = strip_pos(m);
		format_error(co, ev, NULL, msg, len - (size_t)(msg - m), 1, &b);
	}
	err_take(e, ERR_INPUT, buf_take(&b));
}

static int c_fail(lua_State *L)
{
	size_t len;
	const char *msg = luaL_checklstring(L, 1, &len);
	push_formatted(L, NULL, msg, len, 1);
	return lua_error(L);
}

static int c_fail_at(lua_State *L)
{
	const char *where = lua_isnil(L, 1) ? NULL : luaL_checkstring(L, 1);
	size_t len;
	const char *msg = luaL_checklstring(L, 2, &len);
	if (!where) {
		/* no location: a command-line or workspace-wide problem */
		struct buf b = {0};
		buf_puts(&b, "error: ");
		put_text(&b, msg, len);
		lua_newtable(L);
		lua_pushlstring(L, b.s, b.len);
		buf_free(&b);
		lua_setfield(L, -2, "cairn");
		return lua_error(L);
	}
	push_formatted(L, where, msg, len, 0);
	return lua_error(L);
}

static int c_where(lua_State *L)
{
	struct buf b = {0};
	if (!where_now(L, &b))
		buf_puts(&b, "?");
	lua_pushlstring(L, b.s, b.len);
	buf_free(&b);
	return 1;
}

static int c_print(lua_State *L)
{
	size_t len;
	const char *msg = luaL_checklstring(L, 1, &len);
	struct buf b = {0};
	buf_puts(&b, "DEBUG: ");
	if (!where_now(L, &b))
		buf_puts(&b, "?");
	buf_puts(&b, ": ");
	put_text(&b, msg, len);
	fprintf(stderr, "%s\n", b.s);
	buf_free(&b);
	return 0;
}

/* A warning at the innermost user frame, with the chain that led there
 * (as an error shows it), on stderr; evaluation goes on. */
static int c_warn(lua_State *L)
{
	size_t len;
	const char *msg = luaL_checklstring(L, 1, &len);
	struct buf b = {0};
	format_msg(L, self(L), "warning", NULL, msg, len, 0, &b);
	fprintf(stderr, "%s\n", b.s);
	buf_free(&b);
	return 0;
}

static int c_set_context(lua_State *L)
{
	struct eval *ev = self(L);
	free(ev->context);
	ev->context = lua_isnoneornil(L, 1) ? NULL : xstrdup(luaL_checkstring(L, 1));
	return 0;
}

static int c_set_memory_limit(lua_State *L)
{
	self(L)->heap_max = (uint64_t)luaL_checkinteger(L, 1);
	return 0;
}

static int c_parse_label(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	const char *cur = lua_isnoneornil(L, 2) ? NULL : arg_str(L, 2, "a package name");
	struct label l;
	const char *why = "a label cannot contain a NUL byte";
	if (has_nul(s, n) || label_parse(s, cur, &l, &why) < 0) {
		lua_pushnil(L);
		lua_pushstring(L, why);
		return 2;
	}
	lua_pushstring(L, l.pkg);
	lua_pushstring(L, l.name);
	label_free(&l);
	return 2;
}

static int c_check_name(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	const char *why = "target name has a NUL byte";
	if (has_nul(s, n) || label_check_name(s, &why) < 0) {
		lua_pushboolean(L, 0);
		lua_pushstring(L, why);
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

static int c_check_pkg(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	const char *why;
	lua_pushboolean(L, !has_nul(s, n) && label_check_pkg(s, &why) == 0);
	return 1;
}

static int c_exists(lua_State *L)
{
	struct stat st;
	const char *p = arg_str(L, 1, "a path");
	eval_note(self(L), p, DEP_EXISTS);
	if (stat(*p ? p : ".", &st) < 0)
		lua_pushnil(L);
	else
		lua_pushstring(L, S_ISDIR(st.st_mode) ? "dir" : "file");
	return 1;
}

static int c_is_package(lua_State *L)
{
	const char *pkg = arg_str(L, 1, "a package name");
	char *p = *pkg ? xasprintf("%s/BUILD.lua", pkg) : xstrdup("BUILD.lua");
	eval_note(self(L), p, DEP_EXISTS);
	free(p);
	lua_pushboolean(L, package_exists(pkg));
	return 1;
}

static int c_list_packages(lua_State *L)
{
	return packages_push(L, self(L), arg_str(L, 1, "a package name"));
}

/* The Lua list of strings at idx as a C array (pointers into the Lua
 * strings, valid while the table is on the stack; free the array), or
 * NULL when it is no table or element *bad (from 1) is no string or holds
 * a NUL byte. Raises no error, so callers free what they hold first. */
static const char **str_array(lua_State *L, int idx, size_t *n, size_t *bad)
{
	*bad = 0;
	if (!lua_istable(L, idx))
		return NULL;
	*n = (size_t)lua_rawlen(L, idx);
	const char **v = xcalloc(*n + 1, sizeof *v);
	for (size_t i = 0; i < *n; i++) {
		size_t len = 0;
		lua_rawgeti(L, idx, (lua_Integer)i + 1);
		v[i] = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
		lua_pop(L, 1); /* the table keeps the string alive */
		if (!v[i] || has_nul(v[i], len)) {
			free(v);
			*bad = i + 1;
			return NULL;
		}
	}
	return v;
}

static int c_glob(lua_State *L)
{
	const char *pkg = arg_str(L, 1, "a package name");
	size_t ninc, nexc, bad, badx;
	const char **inc = str_array(L, 2, &ninc, &bad);
	const char **exc = str_array(L, 3, &nexc, &badx);
	if (!inc || !exc) {
		free(inc);
		free(exc);
		return luaL_error(L, "glob: pattern %d is not a string or contains a NUL byte",
		                  (int)(inc ? badx : bad));
	}
	int r = glob_push(L, self(L), pkg, inc, ninc, exc, nexc);
	free(inc);
	free(exc);
	return r;
}

static int c_compile(lua_State *L)
{
	struct eval *ev = self(L);
	const char *path = arg_str(L, 1, "a path");
	luaL_checktype(L, 2, LUA_TTABLE);
	struct buf b = {0};
	eval_note(ev, path, DEP_STAT);
	if (fs_read_all(path, &b) < 0) {
		buf_free(&b);
		char *m = xasprintf("cannot read %s", path);
		push_formatted(L, NULL, m, strlen(m), 1);
		free(m);
		return lua_error(L);
	}
	lua_pushfstring(L, "@%s", path);
	int r = luaL_loadbufferx(L, b.s, b.len, lua_tostring(L, -1), "t");
	buf_free(&b);
	if (r != LUA_OK) {
		/* "path:line: message" from the parser */
		const char *m = lua_tostring(L, -1);
		const char *msg = strip_pos(m);
		char *where = xstrndup(m, msg == m ? 0 : (size_t)(msg - m - 2));
		char *copy = xstrdup(msg);
		lua_pop(L, 2);
		push_formatted(L, *where ? where : path, copy, strlen(copy), 1);
		free(where);
		free(copy);
		return lua_error(L);
	}
	lua_pushvalue(L, 2);
	lua_setupvalue(L, -2, 1); /* _ENV */
	return 1;
}

/* Field `field` of the action table, a list of strings, as a C array
 * (free it); *bad names the first bad field (not such a list, or a string
 * that holds a NUL byte). */
static const char **field_strs(lua_State *L, const char *field, size_t *n, const char **bad)
{
	lua_getfield(L, 1, field); /* stays on the stack until the caller returns */
	size_t at;
	const char **v = lua_isnil(L, -1) ? NULL : str_array(L, lua_gettop(L), n, &at);
	if (!v) {
		if (!lua_isnil(L, -1) && !*bad)
			*bad = field;
		*n = 0;
		v = xcalloc(1, sizeof *v);
	}
	return v;
}

/* Field `field` of the action table, a string or nil; *bad as above. */
static const char *field_str(lua_State *L, const char *field, const char **bad)
{
	lua_getfield(L, 1, field); /* stays on the stack until the caller returns */
	size_t n;
	const char *s = lua_tolstring(L, -1, &n);
	if (s && has_nul(s, n) && !*bad)
		*bad = field;
	return s;
}

static int c_add_action(lua_State *L)
{
	struct eval *ev = self(L);
	luaL_checktype(L, 1, LUA_TTABLE);
	struct action_spec s = {0};
	const char *bad = NULL;
	s.label = field_str(L, "label", &bad);
	s.mnemonic = field_str(L, "mnemonic", &bad);
	s.progress = field_str(L, "progress", &bad);
	s.where = field_str(L, "where", &bad);
	s.argv = field_strs(L, "argv", &s.argc, &bad);
	s.env = field_strs(L, "env", &s.nenv, &bad);
	s.inputs = field_strs(L, "inputs", &s.ninputs, &bad);
	s.pinputs = field_strs(L, "pinputs", &s.npinputs, &bad);
	s.depfile = field_str(L, "depfile", &bad);
	s.outputs = field_strs(L, "outputs", &s.noutputs, &bad);
	lua_getfield(L, 1, "flags");
	s.flags = (unsigned)lua_tointeger(L, -1);
	struct err e = {0};
	struct action *a = NULL;
	if (!bad)
		a = graph_add_action(ev->g, &s, &e);
	free(s.argv);
	free(s.env);
	free(s.inputs);
	free(s.pinputs);
	free(s.outputs);
	if (bad) {
		/* at the ctx.action of a rule module, else at the target */
		struct buf here = {0};
		const char *where = where_now(L, &here) ? NULL : s.where;
		buf_free(&here);
		char *m = xasprintf("%s: the '%s' of an action must be a string (or a list of "
		                    "strings) without NUL bytes", s.label ? s.label : "?", bad);
		push_formatted(L, where, m, strlen(m), 1);
		free(m);
		return lua_error(L);
	}
	if (!a) {
		lua_newtable(L);
		lua_pushstring(L, e.msg);
		lua_setfield(L, -2, "cairn");
		err_clear(&e);
		return lua_error(L);
	}
	return 0;
}

static int c_test_target(lua_State *L)
{
	struct eval *ev = self(L);
	const char *label = arg_str(L, 1, "a label");
	const char *dir = arg_str(L, 2, "a path");
	graph_add_test(ev->g, label, dir, (int)luaL_checkinteger(L, 3));
	return 0;
}

static int c_deployment(lua_State *L)
{
	struct eval *ev = self(L);
	graph_add_deploy(ev->g, arg_str(L, 1, "a label"), arg_str(L, 2, "a text"),
	                 arg_str(L, 3, "a text"));
	return 0;
}

static int c_request(lua_State *L)
{
	struct eval *ev = self(L);
	graph_request(ev->g, graph_file(ev->g, arg_str(L, 1, "a path")));
	return 0;
}

void bind_push(lua_State *L, struct eval *ev, const char *root_name, const struct cc_config *cc)
{
	static const luaL_Reg fns[] = {
		{"fail", c_fail}, {"fail_at", c_fail_at}, {"where", c_where},
		{"print", c_print}, {"warn", c_warn}, {"set_context", c_set_context},
		{"set_memory_limit", c_set_memory_limit},
		{"parse_label", c_parse_label}, {"check_name", c_check_name},
		{"check_pkg", c_check_pkg}, {"exists", c_exists},
		{"is_package", c_is_package}, {"list_packages", c_list_packages},
		{"glob", c_glob}, {"compile", c_compile},
		{"add_action", c_add_action}, {"request", c_request},
		{"test_target", c_test_target}, {"deployment", c_deployment},
		{NULL, NULL},
	};
	lua_newtable(L);
	lua_pushlightuserdata(L, ev);
	luaL_setfuncs(L, fns, 1);
	lua_pushstring(L, root_name);
	lua_setfield(L, -2, "root_name");
	if (cc && cc->path) {
		lua_pushstring(L, cc->path);
		lua_setfield(L, -2, "cc_path");
		lua_pushstring(L, cc->id);
		lua_setfield(L, -2, "cc_id");
	}
	lua_pushstring(L, cc && cc->error ? cc->error : "no C compiler configured");
	lua_setfield(L, -2, "cc_error");
}
