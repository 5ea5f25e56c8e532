/* fake_cas: a remote CAS and action cache in memory behind struct
 * cas_backend, for the tests of cas.c and remote_store.c. It keeps blobs
 * and results, answers as a server would, and can be scripted: the first
 * calls of an op may answer RETRY, FATAL or MISS, and get_blobs may send
 * bytes that are wrong. It counts its calls and notes their order.
 * Thread-safe (the uploaders and prefetchers call it from their threads). */
#ifndef CAIRN_FAKE_CAS_H
#define CAIRN_FAKE_CAS_H
#include "remote/cas.h"
#include <pthread.h>

struct action_result;

/* The ops, as indices into calls[] and script[]. */
enum fake_op { F_GET_RESULT, F_PUT_RESULT, F_GET_BLOBS, F_FIND_MISSING, F_PUT_BLOBS, F_NOPS };

enum { FAKE_MAX = 16, FAKE_SCRIPT = 4 };

struct fake_cas {
	struct cas_backend base;     /* first: &f->base is the backend */
	struct cas_backend_ops ops;  /* a copy: a test may drop an optional op */
	pthread_mutex_t mu;          /* over everything below */
	struct digest bd[FAKE_MAX];  /* the blobs: digest and bytes */
	struct buf bv[FAKE_MAX];
	size_t nblobs;
	struct digest rk[FAKE_MAX];  /* the results: key and encoded value */
	struct buf rv[FAKE_MAX];
	size_t nresults;
	int script[F_NOPS][FAKE_SCRIPT]; /* the answers to an op's first calls
	                                    (CAS_OK: answer as usual) */
	const char *why[F_NOPS][FAKE_SCRIPT]; /* their reasons (NULL: made up) */
	int nscript[F_NOPS];
	int corrupt;       /* get_blobs: so many answers with a byte flipped */
	int longer;        /* get_blobs: so many answers with a byte too many */
	int calls[F_NOPS]; /* calls made, by op */
	int resets, freed;
	char trace[64];    /* a letter a call: g get_result, R put_result,
	                      G get_blobs, m find_missing, b put_blobs */
	size_t ntrace;
	size_t asked;      /* blobs asked of get_blobs, in all */
	int asked_empty;   /* one of them was of size 0 */
	uint64_t key_size; /* the last Action digest size asked or put under */
	struct digest up[FAKE_MAX]; /* the blobs put_blobs uploaded */
	size_t nup;
	int hold;          /* find_missing waits while it is set */
	int inside;        /* calls of find_missing that came to the hold */
	pthread_cond_t cv; /* hold or inside changed */
};

/* A fresh fake with every op, find_missing and reset included,
 * put_results left out. Its free op only counts: fake_free frees. */
struct fake_cas *fake_new(void);
void fake_free(struct fake_cas *f);
/* Keep text as a blob; its digest in *d (may be NULL). */
void fake_put_blob(struct fake_cas *f, const char *text, struct digest *d);
/* Keep r (encoded as an ActionResult) under key. */
void fake_put_result(struct fake_cas *f, const struct digest *key, const struct action_result *r);
/* Keep raw bytes under key. */
void fake_put_raw(struct fake_cas *f, const struct digest *key, const void *p, size_t n);
/* The next call of op answers rc (reason why, or NULL). */
void fake_script(struct fake_cas *f, enum fake_op op, int rc, const char *why);
/* Is there a blob with digest d? */
int fake_has_blob(struct fake_cas *f, const struct digest *d);
/* Make find_missing wait (fake_hold) until fake_release; wait until n
 * calls of it have come (fake_wait_inside). */
void fake_hold(struct fake_cas *f);
void fake_wait_inside(struct fake_cas *f, int n);
void fake_release(struct fake_cas *f);
/* Calls of every op, in all. */
int fake_calls(struct fake_cas *f);

#endif
