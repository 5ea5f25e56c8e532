/* Unit tests of the simple-command recognizer (exec/shell.c). */
#include "exec/shell.h"
#include "test.h"

TEST(shell_simple_words_and_redirections)
{
	struct simple_cmd c;
	CHECK(shell_simple("cat a.c lib/x.h > cairn-out/p/a.o", &c) == 1);
	CHECK(c.argc == 3);
	CHECK_STR(c.argv[0], "cat");
	CHECK_STR(c.argv[2], "lib/x.h");
	CHECK(c.argv[3] == NULL);
	CHECK_STR(c.out, "cairn-out/p/a.o");
	CHECK(c.in == NULL && c.append == 0);
	simple_cmd_free(&c);
	CHECK(shell_simple("sort -u 'a b' <in >>out", &c) == 1);
	CHECK_STR(c.argv[2], "a b");
	CHECK_STR(c.in, "in");
	CHECK_STR(c.out, "out");
	CHECK(c.append == 1);
	simple_cmd_free(&c);
	CHECK(shell_simple("gcc --opt=x -c f.c", &c) == 1);
	simple_cmd_free(&c);
}

TEST(shell_not_simple)
{
	const char *cmds[] = {
		"cat $X > out", "cat a | wc", "a; b", "a && b", "cat *.c", "echo hi > x",
		"FOO=1 cat a", "cat \"a\"", "cat a\\ b", "cat a 2> err", "cat < a < b",
		"cat > a > b", "(cat a)", "cat 'unterminated", "", "   ", "cd x", "true",
		"cat a >", "cat ~/x", "cat a # comment", "exit 3", "cat `x`", "cat a\nb",
	};
	for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
		struct simple_cmd c;
		int r = shell_simple(cmds[i], &c);
		if (r) {
			fprintf(stderr, "  accepted: %s\n", cmds[i]);
			simple_cmd_free(&c);
		}
		CHECK(r == 0);
	}
}
