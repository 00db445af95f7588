#include "train_loss.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MAX_LOSS_THREADS 8

/* exp(x) for x <= 0, written so the compiler can vectorize a loop of it:
 * 2^t with t = x log2(e), split into n = round(t) and f = t - n in
 * [-0.5, 0.5], 2^f from a degree-6 Taylor series of e^(f ln 2), and 2^n
 * placed in the exponent bits. Relative error below 4e-6 down to x = -87
 * (1e-6 for x > -20). Below about -88, n is clamped at -127, whose exponent
 * bits make the result exactly 0.
 * NOTE: for x below about -4e6 the series itself overflows and the result is
 * NaN; logits that far apart only occur in a diverged run. */
static inline float exp_nonpositive(float x)
{
    float t = x * 1.44269504f;
    int n = (int)(t - 0.5f);
    n = n < -127 ? -127 : n; /* an integer clamp vectorizes; a float one does not without -ffinite-math-only */
    float g = (t - (float)n) * 0.69314718f;
    float p = 1.0f + g * (1.0f + g * (0.5f + g * (1.0f / 6 + g * (1.0f / 24 + g * (1.0f / 120 + g * (1.0f / 720))))));
    int32_t bits = (n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* Replaces z[0..K) by softmax(z) * grad_scale minus grad_scale at the target
 * (the gradient of grad_scale * loss), or by exp(z - max) when no gradient
 * is wanted. Returns the row's loss, log sum exp(z) - z[y]. */
static double softmax_row(float *z, int K, int y, float grad_scale, int want_grad)
{
    float max = z[0];
    for (int k = 1; k < K; k++)
        max = z[k] > max ? z[k] : max;
    float zy = z[y];

    for (int k = 0; k < K; k++)
        z[k] = exp_nonpositive(z[k] - max);

    /* eight partial sums in a fixed order: vectorizable and deterministic */
    float part[8] = {0};
    int k = 0;
    for (; k + 8 <= K; k += 8)
        for (int j = 0; j < 8; j++)
            part[j] += z[k + j];
    for (; k < K; k++)
        part[0] += z[k];
    float sum = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));

    if (want_grad) {
        float inv = grad_scale / sum;
        for (int j = 0; j < K; j++)
            z[j] *= inv;
        z[y] -= grad_scale;
    }
    return (double)(logf(sum) + max - zy);
}

/* One worker's share of a chunk: rows [r0, r1) for the logits, softmax and
 * dh; classes [k0, k1) for dw and dbias (after every worker's rows are done). */
struct loss_job {
    const float *h, *w, *bias;
    const int *targets;
    int rows, K, d;
    float grad_scale;
    float *dh, *dw, *dbias;
    float *logits;        /* [rows, K] of the chunk */
    int r0, r1, k0, k1;
    double loss;
};

static void rows_phase(struct loss_job *j)
{
    int n = j->r1 - j->r0, K = j->K, d = j->d;
    float *z = j->logits + (size_t)j->r0 * K;

    j->loss = 0.0;
    if (n <= 0)
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, K, d, 1.0f, j->h + (size_t)j->r0 * d, d, j->w, d, 0.0f, z,
                K);
    for (int r = 0; r < n; r++) {
        float *row = z + (size_t)r * K;
        if (j->bias)
            for (int k = 0; k < K; k++)
                row[k] += j->bias[k];
        j->loss += softmax_row(row, K, j->targets[j->r0 + r], j->grad_scale, j->dw != NULL);
    }
    /* dh = dlogits w */
    if (j->dw && j->dh)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d, K, 1.0f, z, K, j->w, d, 1.0f,
                    j->dh + (size_t)j->r0 * d, d);
}

static void classes_phase(struct loss_job *j)
{
    int m = j->k1 - j->k0, K = j->K, d = j->d;

    if (!j->dw || m <= 0)
        return;
    /* dw = dlogits^T h over this worker's classes */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, d, j->rows, 1.0f, j->logits + j->k0, K, j->h, d, 1.0f,
                j->dw + (size_t)j->k0 * d, d);
    if (!j->dbias)
        return;
    for (int r = 0; r < j->rows; r++) {
        const float *row = j->logits + (size_t)r * K;
        for (int k = j->k0; k < j->k1; k++)
            j->dbias[k] += row[k];
    }
}

static void *rows_worker(void *arg)
{
    rows_phase(arg);
    return NULL;
}

static void *classes_worker(void *arg)
{
    classes_phase(arg);
    return NULL;
}

/* Runs phase on jobs[0..n): jobs 1.. on new threads, job 0 on the caller.
 * A job whose thread cannot start runs on the caller, with the same result. */
static void run_parallel(struct loss_job *jobs, int n, void *(*phase)(void *))
{
    pthread_t ids[MAX_LOSS_THREADS];
    int started[MAX_LOSS_THREADS] = {0};

    for (int i = 1; i < n; i++)
        started[i] = pthread_create(&ids[i], NULL, phase, &jobs[i]) == 0;
    phase(&jobs[0]);
    for (int i = 1; i < n; i++) {
        if (started[i])
            pthread_join(ids[i], NULL);
        else
            phase(&jobs[i]);
    }
}

/* Splits one chunk among `threads` workers: rows for the logits, softmax
 * and dh, then (after all rows are done) classes for dw and dbias. */
static double run_chunk(const struct loss_job *proto, int threads)
{
    struct loss_job jobs[MAX_LOSS_THREADS];

    for (int i = 0; i < threads; i++) {
        jobs[i] = *proto;
        jobs[i].r0 = (int)((long long)proto->rows * i / threads);
        jobs[i].r1 = (int)((long long)proto->rows * (i + 1) / threads);
        jobs[i].k0 = (int)((long long)proto->K * i / threads);
        jobs[i].k1 = (int)((long long)proto->K * (i + 1) / threads);
    }
    run_parallel(jobs, threads, rows_worker);
    if (proto->dw)
        run_parallel(jobs, threads, classes_worker);

    double loss = 0.0;
    for (int i = 0; i < threads; i++)
        loss += jobs[i].loss;
    return loss;
}

double train_softmax_ce(const float *h, const float *w, const float *bias, const int *targets, int M, int K, int d,
                        float grad_scale, float *dh, float *dw, float *dbias, float *scratch, int threads)
{
    double loss = 0.0;

    threads = threads < 1 ? 1 : threads > MAX_LOSS_THREADS ? MAX_LOSS_THREADS : threads;
    int chunk = TRAIN_LOSS_CHUNK * threads;

    for (int begin = 0; begin < M; begin += chunk) {
        int rows = M - begin < chunk ? M - begin : chunk;
        int workers = rows < threads ? rows : threads;
        struct loss_job proto = {
            .h = h + (size_t)begin * d,
            .w = w,
            .bias = bias,
            .targets = targets + begin,
            .rows = rows,
            .K = K,
            .d = d,
            .grad_scale = grad_scale,
            .dh = dh ? dh + (size_t)begin * d : NULL,
            .dw = dw,
            .dbias = dbias,
            .logits = scratch,
        };
        loss += run_chunk(&proto, workers);
    }
    return loss;
}

double train_bce(const float *h, const float *w, const float *bias, const float *y, int M, int d, float grad_scale,
                 float *dh, float *dw, float *dbias)
{
    double loss = 0.0;

    for (int r = 0; r < M; r++) {
        const float *hr = h + (size_t)r * d;
        float z = bias[0];
        for (int i = 0; i < d; i++)
            z += hr[i] * w[i];

        /* loss = softplus(z) - y z, written to stay finite for large |z| */
        float softplus = z > 0.0f ? z + log1pf(expf(-z)) : log1pf(expf(z));
        loss += (double)(softplus - y[r] * z);
        if (!dw)
            continue;

        float sigmoid = 1.0f / (1.0f + expf(-z));
        float dz = (sigmoid - y[r]) * grad_scale;
        for (int i = 0; i < d; i++) {
            dw[i] += dz * hr[i];
            if (dh)
                dh[(size_t)r * d + i] += dz * w[i];
        }
        dbias[0] += dz;
    }
    return loss;
}
