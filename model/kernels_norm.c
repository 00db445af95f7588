#include "kernels.h"

#include <math.h>

void model_layernorm(float *y, const float *x, const float *gamma, const float *beta, int rows, int d, float eps,
                     float *mean_out, float *rstd_out)
{
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * d;
        float *yr = y + (size_t)r * d;

        /* Double sums: a constant row then has mean == x exactly, so
         * x - mean is 0 and the output is exactly beta. */
        double sum = 0.0;
        for (int i = 0; i < d; i++)
            sum += xr[i];
        float mean = (float)(sum / d);

        double sq = 0.0;
        for (int i = 0; i < d; i++) {
            float c = xr[i] - mean;
            sq += (double)c * c;
        }
        float rstd = (float)(1.0 / sqrt(sq / d + (double)eps));

        for (int i = 0; i < d; i++)
            yr[i] = (xr[i] - mean) * rstd * gamma[i] + beta[i];
        if (mean_out)
            mean_out[r] = mean;
        if (rstd_out)
            rstd_out[r] = rstd;
    }
}

void model_softmax_row(float *row, int n, int width)
{
    if (n > 0) {
        float max = row[0];
        for (int j = 1; j < n; j++)
            max = row[j] > max ? row[j] : max;

        float sum = 0.0f;
        for (int j = 0; j < n; j++) {
            row[j] = expf(row[j] - max);
            sum += row[j];
        }
        float inv = 1.0f / sum;
        for (int j = 0; j < n; j++)
            row[j] *= inv;
    }
    for (int j = n > 0 ? n : 0; j < width; j++)
        row[j] = 0.0f;
}

void model_relu(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void model_gelu(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}

float model_sigmoid(float x)
{
    if (x >= 0.0f)
        return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}
