/* store_int: shared by the local store's files (cas.c, ac.c, gc.c). */
#ifndef CAIRN_STORE_INT_H
#define CAIRN_STORE_INT_H
#include "store/store.h"
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

/* What this process has read of one shard's log of results (ac.c). */
struct ac_shard {
	dev_t dev;      /* the log read, */
	ino_t ino;
	uint64_t end;   /* up to here */
	/* open addressing: 8 bytes of a key -> offset + 1 of its entry (0: a
	 * free slot), 16 bytes an entry. Of two keys that share those 8
	 * bytes, the later is found: for the other a miss, never a wrong hit,
	 * since an entry holds its whole key */
	uint64_t *key8, *at;
	size_t len, cap;
};

struct local_store {
	struct store base; /* first: a struct store * is a struct local_store * */
	char *dir;         /* the cache dir; owned */
	pthread_mutex_t ac_mu;          /* the shards (prefetch threads look up) */
	struct ac_shard *shards;        /* 256, made on first use */
};

/* Free what ac.c indexed. */
void local_ac_free(struct local_store *ls);

/* "<dir>/<kind>/<xx>/<hex>" (caller frees). */
char *local_path(struct local_store *ls, const char *kind, const struct digest *d);
/* A fresh temp path under <dir>/tmp (caller frees). */
char *local_tmp(struct local_store *ls);
/* rename tmp into place, making the fan-out directory on demand. */
int local_commit(const char *tmp, const char *final);
/* Remove a damaged entry, whatever it is (a directory or a FIFO put in
 * its place too), so that the next put writes a good one. */
void local_drop(const char *path);
/* Note a put that failed with errno (the first one is kept in put_errno);
 * returns -1. */
int local_put_failed(struct local_store *ls);

int local_get_result(struct store *s, const struct digest *key, uint64_t key_size,
                     struct action_result *r);
int local_put_result(struct store *s, const struct digest *key, uint64_t key_size,
                     const struct action_result *r);

#endif
