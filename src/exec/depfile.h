/* depfile: the Makefile-syntax dependency files compilers write with
 * -MD -MF, turned into workspace-relative paths. */
#ifndef CAIRN_DEPFILE_H
#define CAIRN_DEPFILE_H
#include <stddef.h>

/* The prerequisites of the first rule in text, each normalized
 * (./ and .. folded; an absolute path under root made relative, any other
 * absolute path dropped: system headers are not part of the workspace).
 * Returns a NULL-terminated array of fresh strings (free with strv_free),
 * or NULL when text is not a depfile. */
char **depfile_parse(const char *text, size_t n, const char *root);

#endif
