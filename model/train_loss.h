/*
 * Loss layers: softmax cross-entropy over a class matrix (item scores, the
 * decoder's next token, the classification heads) and binary cross-entropy
 * (propensity). Each computes its loss and, when asked, its gradient in the
 * same pass, so the large logits matrix is never stored whole.
 */
#ifndef INTENTD_TRAIN_LOSS_H
#define INTENTD_TRAIN_LOSS_H

#define TRAIN_LOSS_CHUNK 256 /* rows of logits computed at a time */

/* Softmax cross-entropy of rows h[M, d] against classes w[K, d] (+ bias[K]
 * when not NULL): logits = h w^T + bias, target classes targets[M] in [0, K).
 * Returns the summed loss over the M rows. When dw is not NULL, accumulates
 * the gradient of grad_scale * (summed loss) into dh[M, d] (if not NULL),
 * dw[K, d] and dbias[K] (if not NULL).
 *
 * scratch holds threads * TRAIN_LOSS_CHUNK * K floats. With threads > 1 the
 * work is split over POSIX threads (rows for the logits, softmax and dh,
 * classes for dw and dbias), each calling cblas_sgemm on its share, so set
 * OpenBLAS to 1 thread then. Each output element is computed by one thread
 * and sums are combined in a fixed order, so the result does not depend on
 * thread timing. exp is a polynomial approximation (relative error
 * below 1e-6 for arguments above -20), not libm's expf. */
double train_softmax_ce(const float *h, const float *w, const float *bias, const int *targets, int M, int K, int d,
                        float grad_scale, float *dh, float *dw, float *dbias, float *scratch, int threads);

/* Binary cross-entropy with logits z[M] = h[M, d] . w[d] + bias, labels y[M]
 * in {0, 1}; returns the summed loss. When dw is not NULL, accumulates the
 * gradient of grad_scale * (summed loss) into dh (if not NULL), dw and dbias. */
double train_bce(const float *h, const float *w, const float *bias, const float *y, int M, int d, float grad_scale,
                 float *dh, float *dw, float *dbias);

#endif
