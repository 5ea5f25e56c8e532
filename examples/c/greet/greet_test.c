#include "greet.h"
#include <stdio.h>
#include <string.h>

int main(void)
{
	char buf[64];
	greet(buf, sizeof buf, "cairn");
	if (strcmp(buf, "hello, cairn!") != 0) {
		printf("unexpected: %s\n", buf);
		return 1;
	}
	printf("ok: %s (version %s)\n", buf, greet_version());
	return 0;
}
