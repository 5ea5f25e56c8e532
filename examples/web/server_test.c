/*
 * Tests of the site configuration parser (config.h): the accepted forms,
 * and that each malformed input is refused with its line number.
 */
#include "web/config.h"

#include <stdio.h>
#include <string.h>

static int failures;

/* Fails the test when cond is false. */
#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			printf("%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                            \
		}                                                              \
	} while (0)

static int parse(struct web_config *c, const char *text, char *err, size_t errlen)
{
	err[0] = '\0';
	return config_parse(c, text, strlen(text), err, errlen);
}

/* text must be refused with an error that contains want. */
static void refused(const char *text, const char *want)
{
	struct web_config c;
	char err[256];

	if (parse(&c, text, err, sizeof err) == 0) {
		printf("accepted, should not be: \"%s\"\n", text);
		failures++;
	} else if (!strstr(err, want)) {
		printf("error for \"%s\" is \"%s\", lacks \"%s\"\n", text, err, want);
		failures++;
	}
}

static void test_valid(void)
{
	struct web_config c;
	char err[256];

	CHECK(parse(&c, "message = hello from cairn\nhealthy = true\n", err, sizeof err) == 0);
	CHECK(strcmp(c.message, "hello from cairn") == 0);
	CHECK(c.healthy == 1);

	/* comments, blank lines, CRLF, tabs, no final newline, '=' in a value */
	CHECK(parse(&c, "# site\r\n\r\n\tmessage\t=  a = b  \r\n  # x\nhealthy=false", err, sizeof err) == 0);
	CHECK(strcmp(c.message, "a = b") == 0);
	CHECK(c.healthy == 0);

	/* defaults: no message, healthy */
	CHECK(parse(&c, "", err, sizeof err) == 0);
	CHECK(c.message[0] == '\0' && c.healthy == 1);
	CHECK(parse(&c, "message =\n", err, sizeof err) == 0);
	CHECK(c.message[0] == '\0');
}

static void test_refused(void)
{
	char big[CONFIG_MESSAGE_MAX + 32];

	refused("message = hi\nhealty = false\n", "line 2: unknown key 'healty'");
	refused("healthy = no\n", "line 1: healthy must be true or false, not 'no'");
	refused("healthy = \n", "healthy must be true or false");
	refused("\n\njust words\n", "line 3: expected 'key = value'");
	refused("= value\n", "unknown key ''");
	refused("message = a\nmessage = b\n", "line 2: 'message' given twice");
	refused("healthy = true\nhealthy = false\n", "'healthy' given twice");

	/* a NUL inside the given length */
	{
		struct web_config c;
		char err[256];
		static const char text[] = "message = x\0y\n";
		CHECK(config_parse(&c, text, sizeof text - 1, err, sizeof err) != 0);
		CHECK(strstr(err, "line 1: NUL byte") != NULL);
	}

	/* the longest message that fits, and one byte more */
	memcpy(big, "message = ", 10);
	memset(big + 10, 'm', CONFIG_MESSAGE_MAX - 1);
	big[10 + CONFIG_MESSAGE_MAX - 1] = '\0';
	{
		struct web_config c;
		char err[256];
		CHECK(parse(&c, big, err, sizeof err) == 0);
		CHECK(strlen(c.message) == CONFIG_MESSAGE_MAX - 1);
	}
	strcat(big, "m");
	refused(big, "message longer than");
}

static void test_load(void)
{
	struct web_config c;
	char err[512];

	CHECK(config_load(&c, "web/no-such-file.conf", err, sizeof err) != 0);
	CHECK(strstr(err, "web/no-such-file.conf: No such file") != NULL);

	/* the configuration that is deployed parses (whether it says healthy
	 * is for the health check to find out, not for this test) */
	if (config_load(&c, "web/site.conf", err, sizeof err) != 0) {
		printf("%s\n", err);
		failures++;
	} else {
		CHECK(c.message[0] != '\0');
	}
}

int main(void)
{
	test_valid();
	test_refused();
	test_load();
	if (failures) {
		printf("%d checks failed\n", failures);
		return 1;
	}
	printf("ok\n");
	return 0;
}
