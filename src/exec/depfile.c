/* depfile: "target: dep dep \
 *   dep" with backslash-newline continuations, "\ " for a space in a
 * name and "$$" for '$' (GCC's escaping). Only the first rule counts: with
 * -MP, the phony rules that follow name no new prerequisites. */
#include "exec/depfile.h"
#include "util/str.h"
#include "util/util.h"
#include <stdlib.h>
#include <string.h>

/* Fold "." and ".." components; NULL when the path climbs above its start. */
static char *normalize(const char *p)
{
	int abs = p[0] == '/';
	char *copy = xstrdup(p);
	char **parts = NULL;
	size_t n = 0, cap = 0;
	for (char *tok = strtok(copy, "/"); tok; tok = strtok(NULL, "/")) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			if (n == 0) {
				free(parts);
				free(copy);
				return NULL;
			}
			n--;
			continue;
		}
		VEC_PUSH(parts, n, cap, tok);
	}
	struct buf b = {0};
	if (abs)
		buf_putc(&b, '/');
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(&b, '/');
		buf_puts(&b, parts[i]);
	}
	free(parts);
	free(copy);
	return buf_take(&b);
}

char **depfile_parse(const char *text, size_t n, const char *root)
{
	char **out = NULL;
	size_t nout = 0, cap = 0;
	struct buf word = {0};
	int seen_colon = 0, done = 0;
	size_t rootlen = root ? strlen(root) : 0;
	for (size_t i = 0; i <= n && !done; i++) {
		char c = i < n ? text[i] : '\n';
		if (c == '\\' && i + 1 < n && (text[i + 1] == '\n' || text[i + 1] == '\r')) {
			i++;
			if (text[i] == '\r' && i + 1 < n && text[i + 1] == '\n')
				i++;
			c = ' ';
		} else if (c == '\\' && i + 1 < n && (text[i + 1] == ' ' || text[i + 1] == '#')) {
			buf_putc(&word, text[++i]);
			continue;
		} else if (c == '$' && i + 1 < n && text[i + 1] == '$') {
			buf_putc(&word, '$');
			i++;
			continue;
		}
		int end_word = c == ' ' || c == '\t' || c == '\n' || c == '\r';
		if (!seen_colon && c == ':' && (i + 1 >= n || text[i + 1] == ' ' || text[i + 1] == '\n' ||
		                                text[i + 1] == '\t' || text[i + 1] == '\r')) {
			seen_colon = 1;
			buf_reset(&word);
			continue;
		}
		if (!end_word) {
			buf_putc(&word, c);
			continue;
		}
		if (word.len && seen_colon) {
			const char *w = word.s;
			char *norm = normalize(w);
			if (norm && norm[0] == '/') {
				if (root && !strncmp(norm, root, rootlen) && norm[rootlen] == '/') {
					char *rel = xstrdup(norm + rootlen + 1);
					free(norm);
					norm = rel;
				} else {
					free(norm);
					norm = NULL;
				}
			}
			if (norm && *norm)
				VEC_PUSH(out, nout, cap, norm);
			else
				free(norm);
		}
		buf_reset(&word);
		if (c == '\n' && seen_colon)
			done = 1;
	}
	buf_free(&word);
	if (!seen_colon) {
		for (size_t i = 0; i < nout; i++)
			free(out[i]);
		free(out);
		return NULL;
	}
	vec_reserve(&out, &cap, nout + 1, sizeof *out);
	out[nout] = NULL;
	return out;
}
