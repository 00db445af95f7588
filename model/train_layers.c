#include "train_layers.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

void train_linear_forward(float *out, const float *in, const float *weight, const float *bias, int N, int IN, int OUT)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OUT, IN, 1.0f, in, IN, weight, IN, 0.0f, out, OUT);
    if (!bias)
        return;

    for (int n = 0; n < N; n++) {
        float *row = out + (size_t)n * OUT;
        for (int o = 0; o < OUT; o++)
            row[o] += bias[o];
    }
}

void train_linear_backward(float *din, float *dweight, float *dbias, const float *dout, const float *in,
                           const float *weight, int N, int IN, int OUT)
{
    /* din = dout W, because out = in W^T */
    if (din)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IN, OUT, 1.0f, dout, OUT, weight, IN, 1.0f, din, IN);

    /* dW = dout^T in */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OUT, IN, N, 1.0f, dout, OUT, in, IN, 1.0f, dweight, IN);

    if (!dbias)
        return;
    for (int n = 0; n < N; n++) {
        const float *row = dout + (size_t)n * OUT;
        for (int o = 0; o < OUT; o++)
            dbias[o] += row[o];
    }
}

void train_layernorm_forward(float *out, float *mean, float *rstd, const float *in, const float *weight,
                             const float *bias, int N, int C, float eps)
{
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * C;
        float *y = out + (size_t)n * C;

        float m = 0.0f;
        for (int i = 0; i < C; i++)
            m += x[i];
        m /= (float)C;

        float v = 0.0f;
        for (int i = 0; i < C; i++)
            v += (x[i] - m) * (x[i] - m);
        v /= (float)C;

        float s = 1.0f / sqrtf(v + eps);
        for (int i = 0; i < C; i++)
            y[i] = (x[i] - m) * s * weight[i] + bias[i];
        mean[n] = m;
        rstd[n] = s;
    }
}

void train_layernorm_backward(float *din, float *dweight, float *dbias, const float *dout, const float *in,
                              const float *weight, const float *mean, const float *rstd, int N, int C)
{
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * C;
        const float *dy = dout + (size_t)n * C;
        float *dx = din + (size_t)n * C;
        float m = mean[n], s = rstd[n];

        /* With xhat = (x - m) s and g = dy * w:
         * dx = s * (g - mean(g) - xhat * mean(g * xhat)) */
        float gmean = 0.0f, gxmean = 0.0f;
        for (int i = 0; i < C; i++) {
            float xhat = (x[i] - m) * s;
            float g = dy[i] * weight[i];
            gmean += g;
            gxmean += g * xhat;
        }
        gmean /= (float)C;
        gxmean /= (float)C;

        for (int i = 0; i < C; i++) {
            float xhat = (x[i] - m) * s;
            float g = dy[i] * weight[i];
            dweight[i] += dy[i] * xhat;
            dbias[i] += dy[i];
            dx[i] += s * (g - gmean - xhat * gxmean);
        }
    }
}

void train_activation_forward(float *out, const float *in, size_t n, int gelu)
{
    if (gelu) {
        for (size_t i = 0; i < n; i++)
            out[i] = 0.5f * in[i] * (1.0f + erff(in[i] * (float)M_SQRT1_2));
    } else {
        for (size_t i = 0; i < n; i++)
            out[i] = in[i] > 0.0f ? in[i] : 0.0f;
    }
}

void train_activation_backward(float *din, const float *dout, const float *in, size_t n, int gelu)
{
    if (gelu) {
        const float inv_sqrt_2pi = 0.3989422804014327f;
        for (size_t i = 0; i < n; i++) {
            float x = in[i];
            float cdf = 0.5f * (1.0f + erff(x * (float)M_SQRT1_2));
            float pdf = inv_sqrt_2pi * expf(-0.5f * x * x);
            din[i] += dout[i] * (cdf + x * pdf);
        }
    } else {
        for (size_t i = 0; i < n; i++)
            din[i] += in[i] > 0.0f ? dout[i] : 0.0f;
    }
}

uint64_t train_random_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

double train_random_uniform(uint64_t *state)
{
    return (double)(train_random_next(state) >> 11) / 9007199254740992.0;
}

void train_dropout_forward(float *x, float *mask, size_t n, float p, uint64_t *rng)
{
    if (p <= 0.0f) {
        for (size_t i = 0; i < n; i++)
            mask[i] = 1.0f;
        return;
    }

    float keep_scale = 1.0f / (1.0f - p);
    /* One 64-bit draw gives four 16-bit uniforms, so p is rounded to a
     * multiple of 1/65536. */
    uint32_t threshold = (uint32_t)((double)p * 65536.0 + 0.5);
    for (size_t i = 0; i < n; i += 4) {
        uint64_t r = train_random_next(rng);
        for (size_t j = 0; j < 4 && i + j < n; j++)
            mask[i + j] = (uint32_t)((r >> (16 * j)) & 0xFFFF) < threshold ? 0.0f : keep_scale;
    }
    for (size_t i = 0; i < n; i++)
        x[i] *= mask[i];
}

void train_dropout_backward(float *dx, const float *mask, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dx[i] *= mask[i];
}

float train_positional_encoding(int pos, int i, int C)
{
    int k2 = i - (i % 2);
    double angle = (double)pos * exp(-(double)k2 * log(10000.0) / (double)C);
    return (float)(i % 2 == 0 ? sin(angle) : cos(angle));
}

void train_embedding_forward(float *out, const int *tokens, const float *embedding, int B, int T, int C)
{
    float scale = sqrtf((float)C);
    float encoding[C]; /* position t's encoding, computed once per batch because sin and cos are costly */

    for (int t = 0; t < T; t++) {
        for (int i = 0; i < C; i++)
            encoding[i] = train_positional_encoding(t, i, C);

        for (int b = 0; b < B; b++) {
            const float *e = embedding + (size_t)tokens[b * T + t] * C;
            float *y = out + ((size_t)b * T + t) * C;
            for (int i = 0; i < C; i++)
                y[i] = e[i] * scale + encoding[i];
        }
    }
}

void train_embedding_backward(float *dembedding, const float *dout, const int *tokens, int B, int T, int C)
{
    float scale = sqrtf((float)C);

    for (size_t n = 0; n < (size_t)B * T; n++) {
        float *de = dembedding + (size_t)tokens[n] * C;
        const float *dy = dout + n * C;
        for (int i = 0; i < C; i++)
            de[i] += dy[i] * scale;
    }
}
