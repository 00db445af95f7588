#include "train_loss.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>

#define MAX_LOSS_THREADS 8

/* A slice of rows of one logits chunk, turned into probabilities minus the
 * one-hot target (scaled), with its summed loss. */
struct softmax_job {
    float *logits;       /* [rows, K] in: logits, out: gradient of the logits */
    const int *targets;  /* [rows] */
    int rows, K;
    float grad_scale;
    int want_grad;
    double loss;
};

static void *softmax_rows(void *arg)
{
    struct softmax_job *job = arg;

    job->loss = 0.0;
    for (int r = 0; r < job->rows; r++) {
        float *z = job->logits + (size_t)r * job->K;
        int y = job->targets[r];

        float max = z[0];
        for (int k = 1; k < job->K; k++)
            max = z[k] > max ? z[k] : max;
        float sum = 0.0f;
        float zy = z[y];
        for (int k = 0; k < job->K; k++) {
            z[k] = expf(z[k] - max);
            sum += z[k];
        }
        /* loss = log sum exp(z) - z_y */
        job->loss += (double)(logf(sum) + max - zy);

        if (!job->want_grad)
            continue;
        float inv = job->grad_scale / sum;
        for (int k = 0; k < job->K; k++)
            z[k] *= inv;
        z[y] -= job->grad_scale;
    }
    return NULL;
}

/* Runs the softmax of `rows` logit rows on up to `threads` threads. */
static double softmax_chunk(float *logits, const int *targets, int rows, int K, float grad_scale, int want_grad,
                            int threads)
{
    struct softmax_job jobs[MAX_LOSS_THREADS];
    pthread_t ids[MAX_LOSS_THREADS];
    int started[MAX_LOSS_THREADS] = {0};

    if (threads > MAX_LOSS_THREADS)
        threads = MAX_LOSS_THREADS;
    if (threads > rows)
        threads = rows;
    if (threads < 1)
        threads = 1;

    int begin = 0;
    for (int i = 0; i < threads; i++) {
        int end = (int)((long long)rows * (i + 1) / threads);
        jobs[i] = (struct softmax_job){logits + (size_t)begin * K, targets + begin, end - begin, K, grad_scale,
                                       want_grad, 0.0};
        begin = end;
    }
    /* Thread 0's slice runs on the caller; if a thread cannot start, the
     * caller runs that slice too, so the result is the same either way. */
    for (int i = 1; i < threads; i++)
        started[i] = pthread_create(&ids[i], NULL, softmax_rows, &jobs[i]) == 0;
    softmax_rows(&jobs[0]);
    for (int i = 1; i < threads; i++) {
        if (started[i])
            pthread_join(ids[i], NULL);
        else
            softmax_rows(&jobs[i]);
    }

    double loss = 0.0;
    for (int i = 0; i < threads; i++)
        loss += jobs[i].loss;
    return loss;
}

double train_softmax_ce(const float *h, const float *w, const float *bias, const int *targets, int M, int K, int d,
                        float grad_scale, float *dh, float *dw, float *dbias, float *scratch, int threads)
{
    double loss = 0.0;
    int chunk = TRAIN_LOSS_CHUNK * (threads > 0 ? threads : 1);

    for (int begin = 0; begin < M; begin += chunk) {
        int rows = M - begin < chunk ? M - begin : chunk;
        const float *hc = h + (size_t)begin * d;

        /* logits = h w^T + bias */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, K, d, 1.0f, hc, d, w, d, 0.0f, scratch, K);
        if (bias) {
            for (int r = 0; r < rows; r++)
                for (int k = 0; k < K; k++)
                    scratch[(size_t)r * K + k] += bias[k];
        }

        loss += softmax_chunk(scratch, targets + begin, rows, K, grad_scale, dw != NULL, threads);
        if (!dw)
            continue;

        /* dh = dlogits w, dw = dlogits^T h, dbias = column sums of dlogits */
        if (dh)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, d, K, 1.0f, scratch, K, w, d, 1.0f,
                        dh + (size_t)begin * d, d);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, d, rows, 1.0f, scratch, K, hc, d, 1.0f, dw, d);
        if (dbias) {
            for (int r = 0; r < rows; r++)
                for (int k = 0; k < K; k++)
                    dbias[k] += scratch[(size_t)r * K + k];
        }
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
