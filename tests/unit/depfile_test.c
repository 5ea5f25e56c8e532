/* Unit tests of the depfile parser (exec/depfile.c): GCC's escaping and
 * continuations, only the first rule, and the normalization that keeps
 * workspace paths and drops system headers and paths that leave the
 * workspace. */
#include "exec/depfile.h"
#include "test.h"
#include "util/util.h"
#include <stdarg.h>
#include <stdlib.h>

/* Parse a C string with root "/ws". */
static char **parse(const char *text)
{
	return depfile_parse(text, strlen(text), "/ws");
}

static size_t len(char **v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

/* v holds exactly the NULL-terminated list of expected strings, in order. */
static int same(char **v, ...)
{
	va_list ap;
	va_start(ap, v);
	int ok = v != NULL;
	size_t i = 0;
	for (const char *want; ok && (want = va_arg(ap, const char *)); i++)
		if (!v[i] || strcmp(v[i], want) != 0) {
			fprintf(stderr, "  [%zu] '%s' != '%s'\n", i, v[i] ? v[i] : "(end)", want);
			ok = 0;
		}
	va_end(ap);
	if (ok && v[i]) {
		fprintf(stderr, "  unexpected extra '%s'\n", v[i]);
		ok = 0;
	}
	if (!v)
		fprintf(stderr, "  NULL result\n");
	return ok;
}

TEST(depfile_one_line)
{
	char **v = parse("out/a.o: src/a.c src/a.h\n");
	CHECK(same(v, "src/a.c", "src/a.h", NULL));
	strv_free(v);
	/* no trailing newline, a tab as separator */
	v = parse("a.o:\tx.c\ty.h");
	CHECK(same(v, "x.c", "y.h", NULL));
	strv_free(v);
}

TEST(depfile_continuations_several_lines)
{
	char **v = parse("out/a.o: src/a.c \\\n"
	                 "  src/a.h inc/b.h \\\n"
	                 "  inc/c.h\\\n"
	                 " inc/d.h\n");
	CHECK(same(v, "src/a.c", "src/a.h", "inc/b.h", "inc/c.h", "inc/d.h", NULL));
	strv_free(v);
}

TEST(depfile_escaped_space_and_dollar)
{
	char **v = parse("a.o: my\\ dir/x\\ y.h cost$$.h \\#hash.h\n");
	CHECK(same(v, "my dir/x y.h", "cost$.h", "#hash.h", NULL));
	strv_free(v);
	/* an escaped space in the target does not split it */
	v = parse("my\\ out.o: p.h\n");
	CHECK(same(v, "p.h", NULL));
	strv_free(v);
}

TEST(depfile_crlf)
{
	char **v = parse("a.o: a.c \\\r\n"
	                 " a.h \\\r\n"
	                 " b.h\r\n"
	                 "a.h:\r\n"
	                 "b.h:\r\n");
	CHECK(same(v, "a.c", "a.h", "b.h", NULL));
	strv_free(v);
}

TEST(depfile_only_first_rule)
{
	/* -MP adds a phony rule per header: they name nothing new */
	char **v = parse("a.o: a.c \\\n"
	                 " hdr.h sub/other.h\n"
	                 "\n"
	                 "hdr.h:\n"
	                 "\n"
	                 "sub/other.h:\n"
	                 "extra.o: not-a-dep.h\n");
	CHECK(same(v, "a.c", "hdr.h", "sub/other.h", NULL));
	strv_free(v);
}

TEST(depfile_normalizes)
{
	char **v = parse("a.o: ./a/../b.h ./c.h d//e.h f/./g/../h.h a/b/../../i.h\n");
	CHECK(same(v, "b.h", "c.h", "d/e.h", "f/h.h", "i.h", NULL));
	strv_free(v);
}

TEST(depfile_absolute_paths)
{
	char **v = parse("a.o: /ws/src/a.c /usr/include/stdio.h /ws/inc/../b.h "
	                 "/wsx/c.h /ws /ws/../etc/passwd /usr/lib/gcc/x/stddef.h\n");
	/* under the root: relative; outside it (even sharing its prefix): dropped */
	CHECK(same(v, "src/a.c", "b.h", NULL));
	strv_free(v);
	/* without a root every absolute path is dropped */
	const char t[] = "a.o: /ws/src/a.c rel.h\n";
	v = depfile_parse(t, sizeof t - 1, NULL);
	CHECK(same(v, "rel.h", NULL));
	strv_free(v);
}

TEST(depfile_drops_paths_above_start)
{
	char **v = parse("a.o: ../x.h ok.h a/../../y.h ./.. z.h\n");
	CHECK(same(v, "ok.h", "z.h", NULL));
	strv_free(v);
}

TEST(depfile_not_a_depfile)
{
	CHECK(parse("") == NULL);
	CHECK(parse("just some words\nand more\n") == NULL);
	CHECK(parse("\n\n") == NULL);
}

TEST(depfile_empty_prerequisites)
{
	char **v = parse("a.o:\n");
	CHECK(v != NULL && len(v) == 0);
	strv_free(v);
	v = parse("a.o:");
	CHECK(v != NULL && len(v) == 0);
	strv_free(v);
	v = parse("a.o: \\\n\n");
	CHECK(v != NULL && len(v) == 0);
	strv_free(v);
	/* every prerequisite dropped still leaves an empty list, not NULL */
	v = parse("a.o: /usr/include/stdio.h ../up.h\n");
	CHECK(v != NULL && len(v) == 0);
	strv_free(v);
}

TEST(depfile_empty_prerequisites_crlf)
{
	/* the same empty rule written with a CRLF line end */
	char **v = parse("a.o:\r\n");
	CHECK(v != NULL && len(v) == 0);
	strv_free(v);
	v = parse("a.o:\r\nhdr.h:\r\n");
	CHECK(v != NULL && len(v) == 0);
	strv_free(v);
}

TEST(depfile_length_not_nul)
{
	/* only n bytes count: what follows is not part of the depfile */
	const char t[] = "a.o: a.h b.h\nIGNORED";
	char **v = depfile_parse(t, 8, "/ws"); /* "a.o: a.h" */
	CHECK(same(v, "a.h", NULL));
	strv_free(v);
}
