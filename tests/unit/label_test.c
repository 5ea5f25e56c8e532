/* Unit tests of label and pattern parsing. */
#include "lang/label.h"
#include "test.h"
#include <stdlib.h>

TEST(label_absolute)
{
	struct label l;
	const char *why;
	CHECK(label_parse("//lib/util:name", NULL, &l, &why) == 0);
	CHECK_STR(l.pkg, "lib/util");
	CHECK_STR(l.name, "name");
	label_free(&l);
	CHECK(label_parse("//lib/util", NULL, &l, &why) == 0);
	CHECK_STR(l.name, "util");
	label_free(&l);
	CHECK(label_parse("//:root", NULL, &l, &why) == 0);
	CHECK_STR(l.pkg, "");
	label_free(&l);
}

TEST(label_relative)
{
	struct label l;
	const char *why;
	CHECK(label_parse(":x", "a/b", &l, &why) == 0);
	CHECK_STR(l.pkg, "a/b");
	CHECK_STR(l.name, "x");
	label_free(&l);
	CHECK(label_parse("sub/file.c", "a", &l, &why) == 0);
	CHECK_STR(l.name, "sub/file.c");
	label_free(&l);
	CHECK(label_parse(":x", NULL, &l, &why) < 0);
}

TEST(label_bad)
{
	struct label l;
	const char *why;
	const char *bad[] = {"//a//b:c", "//a/../b:c", "//a:b:c", "//:", "//", "/x", "//a:b/../c",
	                     "//a b:c", "//a:", "//./a:b"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		int r = label_parse(bad[i], "p", &l, &why);
		if (r == 0) {
			fprintf(stderr, "  accepted bad label %s\n", bad[i]);
			label_free(&l);
		}
		CHECK(r < 0);
	}
}

TEST(pattern_kinds)
{
	struct pattern p;
	const char *why;
	CHECK(pattern_parse("//...", &p, &why) == 0 && p.kind == PAT_RECURSIVE);
	CHECK_STR(p.label.pkg, "");
	pattern_free(&p);
	CHECK(pattern_parse("//lib/...", &p, &why) == 0 && p.kind == PAT_RECURSIVE);
	CHECK_STR(p.label.pkg, "lib");
	pattern_free(&p);
	CHECK(pattern_parse("//lib:all", &p, &why) == 0 && p.kind == PAT_PACKAGE);
	CHECK_STR(p.label.pkg, "lib");
	pattern_free(&p);
	CHECK(pattern_parse("//lib:x", &p, &why) == 0 && p.kind == PAT_TARGET);
	pattern_free(&p);
	CHECK(pattern_parse("lib:x", &p, &why) < 0);
	CHECK(pattern_parse("//lib...", &p, &why) < 0);
}
