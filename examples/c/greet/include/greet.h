#ifndef GREET_H
#define GREET_H
#include <stddef.h>
/* Write "hello, NAME" (and a '!' when GREET_EXCLAIM) into buf. */
int greet(char *buf, size_t n, const char *name);
const char *greet_version(void);
#endif
