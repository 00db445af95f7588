/*
 * The training graph of the whole model: forward with stored activations,
 * losses, and backward into a gradient buffer that shares the parameter
 * layout. The forward computes the same function as the inference pass:
 * token embedding * sqrt(d_model) + sinusoidal PE, encoder layers (post- or
 * pre-norm), encoder.norm, decoder layers with masked self-attention and
 * encoder-decoder attention, decoder.norm, and the output heads.
 *
 * Dropout (inverted) is applied, when training, to the embedding + PE sum, to
 * each sublayer output before the residual add and to the feed-forward
 * activation. The last two match torch.nn.TransformerEncoderLayer's dropout1,
 * dropout2 and dropout.
 * Dropout on the attention weights (attention_dropout) is applied after the
 * softmax, as torch.nn.MultiheadAttention's dropout.
 *
 * Not thread-safe: one struct train_model per training thread.
 */
#ifndef INTENTD_TRAIN_MODEL_H
#define INTENTD_TRAIN_MODEL_H

#include <stdint.h>

#include "model.h"
#include "model_config.h"
#include "model_params.h"
#include "train_attention.h"

/* One residual sublayer (attention or feed-forward) with its layer norm.
 *   post-norm: resid = x + dropout(F(x)),       out = LN(resid)
 *   pre-norm:  normed = LN(x), resid = x + dropout(F(normed)), out = resid */
struct train_sublayer_acts {
    float *normed;       /* [N, d] LN output (post-norm: equals out) */
    float *mean, *rstd;  /* [N] layer-norm statistics */
    float *fout;         /* [N, d] F output after dropout */
    float *fmask;        /* [N, d] dropout factors of fout */
    float *resid;        /* [N, d] */
    float *out;          /* [N, d] sublayer output */
    struct train_attention_acts attn; /* attention sublayers only */
    float *hidden;       /* [N, ff] linear1 output, feed-forward sublayers only */
    float *act;          /* [N, ff] activation output after dropout */
    float *act_mask;     /* [N, ff] */
};

/* Up to three sublayers per layer: self-attention, encoder-decoder
 * attention (decoder only), feed-forward. */
struct train_layer_acts {
    struct train_sublayer_acts sub[3];
};

/* One mini-batch. Token ids index the shared vocabulary. Targets and labels
 * below 0 are ignored; pointers for absent parts are NULL. */
struct train_batch {
    int B, T;                 /* sequences and encoder positions (T <= allocated max) */
    const int *tokens;        /* [B, T] encoder input */
    const int *lengths;       /* [B] valid positions per sequence, 1..T; the rest is padding */
    const int *item_targets;  /* [B, T] next item token id at each encoder position, or -1 */

    int T_dec;                /* decoder positions (0: no decoder loss) */
    const int *dec_tokens;    /* [B, T_dec] decoder input */
    const int *dec_lengths;   /* [B] */
    const int *dec_targets;   /* [B, T_dec] next token id, or -1 */

    const int *action_labels;      /* [B] class or -1 */
    const int *category_labels;    /* [B] */
    const int *sentiment_labels;   /* [B] */
    const float *propensity_labels; /* [B] 0 or 1, or < 0 to ignore */
};

/* The next-item loss and the items it scores (see train_sampled.h). */
enum train_item_loss {
    TRAIN_ITEM_LOSS_FULL = 0,    /* softmax cross-entropy over every item */
    TRAIN_ITEM_LOSS_SAMPLED = 1, /* softmax over the target and K uniform negatives */
    TRAIN_ITEM_LOSS_BCE = 2,     /* binary cross-entropy, target against K uniform negatives */
};

/* Per-part mean losses of the last forward (0 when the part had no targets). */
struct train_losses {
    float total; /* sum of the parts below */
    float item, token, action, category, sentiment, propensity;
    int item_count, token_count;
};

struct train_model {
    struct model_config config;
    struct model_params params; /* the weights (owned) */
    struct model_params grads;  /* same layout (owned) */
    float dropout;              /* probability, used only when training */
    float attention_dropout;    /* probability on the attention weights, used only when training */
    uint64_t rng;               /* dropout generator state */
    int loss_threads;           /* threads for the softmax rows of the item and token losses;
                                   change it with train_model_set_loss_threads only */
    int max_B, max_T, max_T_dec;

    float *enc_in;                /* [B*T, d] embedding + PE after dropout */
    float *enc_in_mask;
    struct train_layer_acts enc[MODEL_MAX_LAYERS];
    float *enc_out, *enc_mean, *enc_rstd; /* encoder.norm output and statistics */
    float *dec_in, *dec_in_mask;
    struct train_layer_acts dec[MODEL_MAX_LAYERS];
    float *dec_out, *dec_mean, *dec_rstd;

    /* backward scratch */
    float *d_enc_out, *d_dec_out, *d_memory; /* [B*T, d], [B*T_dec, d], [B*T, d] */
    float *d_cur, *d_prev;        /* [B*max(T, T_dec), d] gradients of a layer's output and input */
    float *s_a, *s_b, *s_c;       /* [B*max(T, T_dec), d] sublayer scratch */
    float *s_h1, *s_h2;           /* [B*max(T, T_dec), d_ff] */
    float *pooled, *d_pooled;     /* [B, d] */
    float *rows, *d_rows;         /* [B*max(T, T_dec), d] gathered loss rows */
    int *row_index, *row_target;
    float *logits;                /* [loss_threads * chunk, max(vocab)] */

    /* next-item loss; change with train_model_set_item_loss only */
    enum train_item_loss item_loss;
    int item_negatives;           /* K, for the sampled losses */
    float item_recent_weight;     /* extra loss weight of the item_recent_span newest targets of each
                                     sequence, for the sampled losses; 0: every target weighs 1 */
    int item_recent_span;
    const double *negative_cdf;   /* NULL: uniform negatives. Else borrowed cumulative weights cdf[0..n]
                                     over the n = item_end - item_begin items, item_begin - 1 + j for
                                     j in 1..n (train_split_count_cdf when item_begin is 1). The sampled
                                     softmax then subtracts log(K q_i) from each logit (the logQ
                                     correction), so it still estimates the softmax over every item
                                     (train_sampled.h). Set with train_model_set_negative_weights */
    int *negative_items;          /* [K] this batch's negatives */
    float *negative_logq;         /* [K] log(K q_i) of this batch's negatives, with negative_cdf */
    float *negative_rows;         /* [K, d] their embedding rows */
    float *negative_grads;        /* [K, d] */
    float *negative_logits;       /* [max_B * max_T, K] */
    float *target_logits;         /* [max_B * max_T] */

    struct train_losses losses;
};

/* Allocates parameters (initialised from seed), gradients and activations for
 * batches of up to max_B sequences of max_T encoder and max_T_dec decoder
 * positions. Returns 0, or -1 with a message in error[MODEL_ERROR_SIZE]. */
int train_model_create(struct train_model *m, const struct model_config *config, int max_B, int max_T,
                       int max_T_dec, unsigned long long seed, char *error);

void train_model_free(struct train_model *m);

/* Fills view with an inference model that reads m's config and weights in
 * place. The view owns no weights, so model_free(view) frees only what
 * model_prepare or later builders added to it. */
void train_model_view(const struct train_model *m, struct model *view);

/* Sets the thread count of the loss softmax (1 by default) and resizes its
 * logits scratch. Returns 0, or -1 (unchanged) when out of memory. */
int train_model_set_loss_threads(struct train_model *m, int threads);

/* Selects the next-item loss (full softmax by default) and, for the sampled
 * ones, allocates buffers for `negatives` negatives per batch. Returns 0, or
 * -1 with a message in error[MODEL_ERROR_SIZE] (invalid count, out of memory). */
int train_model_set_item_loss(struct train_model *m, enum train_item_loss loss, int negatives, char *error);

/* Draws the negatives of the sampled losses with the weights of cdf
 * (borrowed, see negative_cdf) instead of uniformly; NULL restores uniform
 * draws. */
void train_model_set_negative_weights(struct train_model *m, const double *cdf);

/* Runs the forward pass and the losses. Returns the total loss (also in
 * m->losses). training != 0 enables dropout and also computes the gradients
 * of the loss layers (heads, output projection) into m->grads and the loss
 * gradient of the encoder and decoder outputs, so call train_model_zero_grad
 * before it and train_model_backward after it. */
float train_model_forward(struct train_model *m, const struct train_batch *batch, int training);

/* Encoder only, no losses: leaves the encoder.norm output in m->enc_out
 * [B*T, d]. Used for evaluation. */
void train_model_encode(struct train_model *m, const struct train_batch *batch);

/* Zeroes m->grads. */
void train_model_zero_grad(struct train_model *m);

/* Accumulates the gradient of the last forward's total loss into m->grads. */
void train_model_backward(struct train_model *m, const struct train_batch *batch);

#endif
