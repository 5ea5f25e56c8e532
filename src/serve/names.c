/* serve/names: see names.h. A shard's list holds, per blob name, the
 * digest's bytes 1 to 4 (byte 0 is the shard): a key shared by two
 * blobs only sends the caller to the disk. */
#include "serve/names.h"
#include "util/util.h"
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct shard {
	uint32_t *keys;       /* sorted */
	size_t n, cap;
	int have;             /* keys are the directory's as of mt and ino */
	struct timespec mt;
	ino_t ino;
	unsigned checked;     /* the request that last checked the directory */
	int usable;           /* what that check found: keys hold now */
};

struct names {
	char *dir;            /* the store's cas/ */
	unsigned gen;         /* the request now */
	struct shard sh[256];
};

struct names *names_new(const char *store_dir)
{
	struct names *nm = xcalloc(1, sizeof *nm);
	nm->dir = xasprintf("%s/cas", store_dir);
	return nm;
}

void names_free(struct names *nm)
{
	if (!nm)
		return;
	for (int i = 0; i < 256; i++)
		free(nm->sh[i].keys);
	free(nm->dir);
	free(nm);
}

void names_begin(struct names *nm)
{
	if (++nm->gen == 0)
		nm->gen = 1;
}

void names_forget(struct names *nm, const struct digest *d)
{
	nm->sh[d->b[0]].have = 0;
}

/* The key of a blob's file name (64 hex digits, ".x" for an executable
 * copy), or -1 for any other name. */
static int64_t key_of_name(const char *name)
{
	size_t len = strlen(name);
	if (len != 64 && !(len == 66 && strcmp(name + 64, ".x") == 0))
		return -1;
	uint32_t k = 0;
	for (int i = 2; i < 10; i++) {
		int v = hex_lower(name[i]);
		if (v < 0)
			return -1;
		k = k << 4 | (uint32_t)v;
	}
	return k;
}

static uint32_t key_of(const struct digest *d)
{
	return (uint32_t)d->b[1] << 24 | (uint32_t)d->b[2] << 16 | (uint32_t)d->b[3] << 8 | d->b[4];
}

static int cmp_key(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int same_dir(const struct shard *s, const struct stat *st)
{
	return s->ino == st->st_ino && s->mt.tv_sec == st->st_mtim.tv_sec &&
	       s->mt.tv_nsec == st->st_mtim.tv_nsec;
}

/* Read the shard's directory (stat'd as st) into s: 0, or -1 when it
 * cannot be read or changed while it was (s then has nothing). */
static int read_shard(struct shard *s, const char *path, const struct stat *st)
{
	s->have = 0;
	s->n = 0;
	DIR *dir = opendir(path);
	if (!dir)
		return -1;
	struct dirent *e;
	while ((e = readdir(dir))) {
		int64_t k = key_of_name(e->d_name);
		if (k >= 0)
			VEC_PUSH(s->keys, s->n, s->cap, (uint32_t)k);
	}
	closedir(dir);
	struct stat after;
	if (stat(path, &after) < 0 || after.st_ino != st->st_ino ||
	    after.st_mtim.tv_sec != st->st_mtim.tv_sec || after.st_mtim.tv_nsec != st->st_mtim.tv_nsec)
		return -1;
	xqsort(s->keys, s->n, sizeof *s->keys, cmp_key);
	s->mt = st->st_mtim;
	s->ino = st->st_ino;
	s->have = 1;
	return 0;
}

/* Is s's list true now? Checked once per request. */
static int usable(struct names *nm, struct shard *s, int shard, size_t want)
{
	if (s->checked == nm->gen)
		return s->usable;
	s->checked = nm->gen;
	s->usable = 0;
	char path[4096];
	if (snprintf(path, sizeof path, "%s/%02x", nm->dir, shard) >= (int)sizeof path)
		return 0;
	struct stat st;
	if (stat(path, &st) < 0) {
		/* no directory, no blob: true at this moment, and a directory
		 * made later has an inode and mtime this list does not */
		if (errno != ENOENT)
			return 0;
		s->n = 0;
		s->have = 1;
		s->ino = 0;
		s->mt = (struct timespec){0, 0};
		return s->usable = 1;
	}
	if (s->have && same_dir(s, &st))
		return s->usable = 1;
	if (want >= NAMES_READ_MIN && read_shard(s, path, &st) == 0)
		return s->usable = 1;
	return 0;
}

int names_absent(struct names *nm, const struct digest *d, size_t want)
{
	struct shard *s = &nm->sh[d->b[0]];
	if (!usable(nm, s, d->b[0], want))
		return 0;
	uint32_t k = key_of(d);
	return s->n == 0 || !bsearch(&k, s->keys, s->n, sizeof *s->keys, cmp_key);
}
