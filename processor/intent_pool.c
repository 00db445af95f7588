#include "intent_pool.h"

#include <pthread.h>
#include <stdlib.h>

struct worker {
    struct intent_pool *pool;
    int index; /* the job this worker runs in each round, 1 .. threads-1 */
    pthread_t thread;
};

struct intent_pool {
    int threads;
    struct worker *workers; /* threads - 1 of them */
    int started;            /* workers created so far */

    pthread_mutex_t lock;
    pthread_cond_t round_started;
    pthread_cond_t round_done;
    unsigned long round;    /* incremented by each intent_pool_run */
    int pending;            /* workers that have not finished the current round */
    int stopping;

    int n_jobs;             /* of the current round */
    intent_pool_job job;
    void *ctx;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct intent_pool *pool = w->pool;
    unsigned long seen = 0;

    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (pool->round == seen && !pool->stopping)
            pthread_cond_wait(&pool->round_started, &pool->lock);
        if (pool->stopping)
            break;
        seen = pool->round;
        intent_pool_job job = pool->job;
        void *ctx = pool->ctx;
        int run = w->index < pool->n_jobs;
        pthread_mutex_unlock(&pool->lock);

        if (run)
            job(ctx, w->index);

        pthread_mutex_lock(&pool->lock);
        if (--pool->pending == 0)
            pthread_cond_signal(&pool->round_done);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

struct intent_pool *intent_pool_create(int threads)
{
    struct intent_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;

    pool->threads = threads > 1 ? threads : 1;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->round_started, NULL);
    pthread_cond_init(&pool->round_done, NULL);
    pool->workers = calloc((size_t)pool->threads, sizeof *pool->workers);
    if (!pool->workers) {
        intent_pool_free(pool);
        return NULL;
    }

    for (int i = 1; i < pool->threads; i++) {
        struct worker *w = &pool->workers[i - 1];
        *w = (struct worker){.pool = pool, .index = i};
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            intent_pool_free(pool);
            return NULL;
        }
        pool->started++;
    }
    return pool;
}

int intent_pool_threads(const struct intent_pool *pool)
{
    return pool->threads;
}

void intent_pool_run(struct intent_pool *pool, int n, intent_pool_job job, void *ctx)
{
    if (pool->started == 0 || n <= 1) {
        for (int j = 0; j < n; j++)
            job(ctx, j);
        return;
    }

    pthread_mutex_lock(&pool->lock);
    pool->job = job;
    pool->ctx = ctx;
    pool->n_jobs = n;
    pool->pending = pool->started;
    pool->round++;
    pthread_cond_broadcast(&pool->round_started);
    pthread_mutex_unlock(&pool->lock);

    job(ctx, 0);

    pthread_mutex_lock(&pool->lock);
    while (pool->pending > 0)
        pthread_cond_wait(&pool->round_done, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
}

void intent_pool_free(struct intent_pool *pool)
{
    if (!pool)
        return;

    pthread_mutex_lock(&pool->lock);
    pool->stopping = 1;
    pthread_cond_broadcast(&pool->round_started);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < pool->started; i++)
        pthread_join(pool->workers[i].thread, NULL);

    pthread_cond_destroy(&pool->round_started);
    pthread_cond_destroy(&pool->round_done);
    pthread_mutex_destroy(&pool->lock);
    free(pool->workers);
    free(pool);
}
