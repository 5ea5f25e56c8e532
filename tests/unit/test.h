/* test: a minimal unit-test framework. TEST(name) defines and registers a
 * test; CHECK(cond) records a failure and goes on; the runner prints one
 * line per test and "N passed, N failed". */
#ifndef CAIRN_TEST_H
#define CAIRN_TEST_H
#include <stdio.h>
#include <string.h>

struct test_case {
	const char *name;
	void (*fn)(void);
	struct test_case *next;
};

void test_register(struct test_case *t);
extern int test_failures; /* failures in the current test */

#define TEST(name)                                                        \
	static void test_##name(void);                                        \
	static struct test_case tc_##name = {#name, test_##name, NULL};       \
	__attribute__((constructor)) static void reg_##name(void)             \
	{                                                                     \
		test_register(&tc_##name);                                        \
	}                                                                     \
	static void test_##name(void)

#define CHECK(cond)                                                       \
	do {                                                                  \
		if (!(cond)) {                                                    \
			fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__,     \
			        __LINE__, #cond);                                     \
			test_failures++;                                              \
		}                                                                 \
	} while (0)

#define CHECK_STR(a, b)                                                   \
	do {                                                                  \
		const char *a_ = (a), *b_ = (b);                                  \
		if (!a_ || !b_ || strcmp(a_, b_) != 0) {                          \
			fprintf(stderr, "  %s:%d: '%s' != '%s'\n", __FILE__, __LINE__, \
			        a_ ? a_ : "(null)", b_ ? b_ : "(null)");              \
			test_failures++;                                              \
		}                                                                 \
	} while (0)

/* A fresh empty directory under $TMPDIR (caller frees). */
char *test_tmpdir(void);

#endif
