/* The unit-test runner: runs every registered test, or those whose name
 * contains argv[1]. */
#include "test.h"
#include "util/fs.h"
#include "util/util.h"
#include <stdlib.h>

static struct test_case *head, **tail = &head;
int test_failures;

void test_register(struct test_case *t)
{
	*tail = t;
	tail = &t->next;
}

char *test_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *tmpl = xasprintf("%s/cairn-unit-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpl))
		fatal("mkdtemp:");
	return tmpl;
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0;
	for (struct test_case *t = head; t; t = t->next) {
		if (argc > 1 && !strstr(t->name, argv[1]))
			continue;
		test_failures = 0;
		t->fn();
		if (test_failures) {
			printf("FAIL unit/%s\n", t->name);
			failed++;
		} else {
			printf("ok   unit/%s\n", t->name);
			passed++;
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
