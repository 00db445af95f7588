/*
 * One chunk of the users a batch updated: the buffers a thread encodes it
 * into, and the encoder and head passes over it. app_intent.c schedules the
 * chunks on threads, judges them and writes the intents.
 */
#ifndef INTENTD_INTENT_CHUNK_H
#define INTENTD_INTENT_CHUNK_H

#include <stddef.h>

#include "app.h"
#include "kv_cache.h"

/* Sequences per model call. Bounds the item-score buffer at
 * ENCODE_CHUNK x items floats. */
#define ENCODE_CHUNK 64
#define MAX_TOP_K 32
#define MAX_ENCODER_THREADS 16 /* model.encoder_threads above this use this many */

/* The verdict of judge_intent on one row of a chunk, kept until the row's intent is written. */
struct intent_row {
    int emit;
    int item_row; /* row of the item scores when emit is set, else -1 */
    int n_top_categories;
    codec_scored_id_t top_categories[MAX_TOP_K];
};

/* Scratch and results of one encoder chunk, one per thread, kept from batch
 * to batch (the item scores alone are ENCODE_CHUNK x ~12k floats, and a fresh
 * calloc per batch costs page faults and zeroing). app_intent.c owns one per
 * thread, sized for the dimensions below and reallocated when a model swap
 * changes them.
 * A worker thread writes only its own buffers, and the stream loop's thread
 * reads them after the round. */
struct intent_buffers {
    int seq_len, n_items, n_categories, n_sentiments, d_model; /* sizes allocated for */
    int *tokens;        /* [chunk, seq_len] */
    int *lengths;       /* [chunk] */
    float *pooled;      /* [chunk, d] */
    float *items;       /* [chunk, n_items] */
    float *categories;  /* [chunk, n_categories] */
    float *sentiments;  /* [chunk, n_sentiments] */
    float *propensity;  /* [chunk] */
    float *lse_items;   /* [chunk] log of the item softmax normaliser */
    float *lse_categories; /* [chunk] the same for categories */
    int top_items[ENCODE_CHUNK * MAX_TOP_K];      /* [row * top_k + j]: best items first (model_item_logits_top) */
    int top_categories[ENCODE_CHUNK * MAX_TOP_K]; /* the same for categories (model_category_logits_top) */
    float *emit_pooled; /* [chunk, d] pooled rows of the intents that go out, packed */
    struct model_arena arena; /* encoder scratch of this thread */

    /* The chunk computed in the current round. */
    size_t first;         /* its first entry in the batch order */
    int rows;             /* 0: no chunk this round */
    int status;           /* 0, or -1 with error set */
    int n_suppressed;     /* rows whose intent intents.emit holds back */
    double model_seconds; /* model time of the chunk, encoder and heads */
    struct intent_row judged[ENCODE_CHUNK];
    char error[APP_ERROR_SIZE];

    /* Key/value caches. kv[r] is row r's cache from the table (or NULL).
     * want_cache[r] requests a new one, which the thread leaves in made[r]
     * for the stream loop's thread to store. */
    struct model_kv_cache *kv[ENCODE_CHUNK];
    struct model_kv_cache *made[ENCODE_CHUNK];
    unsigned char want_cache[ENCODE_CHUNK];
    int cold[ENCODE_CHUNK]; /* rows encoded without a cache, in one batched call */
};

/* The number of items and categories an intent lists: intents.top_k, at
 * most MAX_TOP_K. */
int intent_top_k(const struct app *app);

/* Makes b fit the model and seq_len, keeping what it has when it already
 * does. Returns 0, or -1 when out of memory (b is then empty). */
int intent_buffers_fit(struct intent_buffers *b, const struct model_config *c, int seq_len);

/* Fills b with the token rows of the users app->touches[order[first ..
 * first+rows)] and runs the encoder (through key/value caches for the rows
 * that b->kv or b->want_cache mark) and every head but the items. Returns
 * 0, or -1 with b->error set. Writes only b, so chunks can run on different
 * threads. */
int intent_encode_chunk(struct app *app, struct intent_buffers *b, const size_t *order, size_t first, int rows,
                        int max_len);

/* Item scores, their softmax normalisers and top lists for the n rows of
 * b->emit_pooled, into rows 0 .. n-1 of b->items, b->lse_items and
 * b->top_items. */
void intent_score_items(struct app *app, struct intent_buffers *b, int n);

#endif
