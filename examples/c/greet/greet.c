#include "greet.h"
#include "c/greet/config.h"
#include <stdio.h>

int greet(char *buf, size_t n, const char *name)
{
	return snprintf(buf, n, "hello, %s%s", name, GREET_EXCLAIM ? "!" : "");
}

const char *greet_version(void)
{
	return VERSION;
}
