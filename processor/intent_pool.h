/*
 * A fixed set of threads that runs one round of jobs at a time, so the
 * encoder chunks of a batch are computed in parallel. Job 0 runs on the
 * calling thread and job j on worker j. The caller continues when the whole
 * round is done. Jobs of one round must not write shared state.
 */
#ifndef INTENTD_INTENT_POOL_H
#define INTENTD_INTENT_POOL_H

typedef void (*intent_pool_job)(void *ctx, int job);

struct intent_pool;

/* Starts threads - 1 workers (threads >= 1). Returns NULL when a thread
 * cannot be created or memory runs out. */
struct intent_pool *intent_pool_create(int threads);

/* Number of jobs one round can run in parallel, the calling thread included. */
int intent_pool_threads(const struct intent_pool *pool);

/* Runs job(ctx, j) for j in 0 .. n-1 (n <= intent_pool_threads) and returns
 * when every one has returned. Called from one thread at a time. */
void intent_pool_run(struct intent_pool *pool, int n, intent_pool_job job, void *ctx);

/* Stops and joins the workers; safe on NULL. */
void intent_pool_free(struct intent_pool *pool);

#endif
