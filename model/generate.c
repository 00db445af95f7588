#include "generate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "generate_internal.h"

void model_generate_defaults(struct model_generate_options *o)
{
    memset(o, 0, sizeof *o);
    o->method = MODEL_GENERATE_GREEDY;
    o->max_tokens = 8;
    o->bos = 0;
    o->eos = 1;
    o->beam_width = 4;
    o->top_k = 0;
    o->top_p = 1.0f;
    o->temperature = 1.0f;
    o->use_cache = 1;
}

/* Produces next-token logits for rows sequences, through the key/value cache
 * or by recomputing the decoder over every prefix token. */
struct logit_source {
    const struct model *model;
    struct model_arena *arena;
    int rows, use_cache, stride, mem_len;
    struct model_decoder_state state;
    float *memory_rows;   /* recompute: memory repeated per row [rows, mem_len, d] */
    int *mem_lengths;     /* recompute: [rows] */
    int *prefix;          /* recompute: contiguous [rows, len] copy of the sequences */
    float *all_logits;    /* recompute: [rows, stride, vocab] */
    int *last_tokens;     /* cache: [rows] */
};

static void source_free(struct logit_source *s)
{
    model_decoder_state_free(&s->state);
    free(s->memory_rows);
    free(s->mem_lengths);
    free(s->prefix);
    free(s->all_logits);
    free(s->last_tokens);
}

static int source_init(struct logit_source *s, const struct model *m, struct model_arena *arena, int rows,
                       int stride, const float *memory, int mem_len, int use_cache, char *error)
{
    size_t d = (size_t)m->config.d_model, vocab = (size_t)m->config.vocab_size;

    memset(s, 0, sizeof *s);
    *s = (struct logit_source){.model = m, .arena = arena, .rows = rows, .use_cache = use_cache,
                               .stride = stride, .mem_len = mem_len};
    if (use_cache) {
        s->last_tokens = malloc((size_t)rows * sizeof(int));
        if (!s->last_tokens) {
            snprintf(error, MODEL_ERROR_SIZE, "out of memory starting generation");
            return -1;
        }
        return model_decoder_state_init(m, &s->state, rows, stride, memory, mem_len, error);
    }

    s->memory_rows = model_alloc_floats((size_t)rows * mem_len * d + 1);
    s->mem_lengths = malloc((size_t)rows * sizeof(int));
    s->prefix = malloc((size_t)rows * stride * sizeof(int));
    s->all_logits = model_alloc_floats((size_t)rows * stride * vocab);
    if (!s->memory_rows || !s->mem_lengths || !s->prefix || !s->all_logits) {
        source_free(s);
        snprintf(error, MODEL_ERROR_SIZE, "out of memory starting generation");
        return -1;
    }
    for (int r = 0; r < rows; r++) {
        memcpy(s->memory_rows + (size_t)r * mem_len * d, memory, (size_t)mem_len * d * sizeof(float));
        s->mem_lengths[r] = mem_len;
    }
    return 0;
}

/* seqs: [rows, stride] with len tokens each (bos first). Writes logits[rows, vocab]
 * for the token after position len - 1. */
static int source_next(struct logit_source *s, const int *seqs, int len, float *logits, char *error)
{
    const struct model *m = s->model;
    size_t vocab = (size_t)m->config.vocab_size;

    if (s->use_cache) {
        for (int r = 0; r < s->rows; r++)
            s->last_tokens[r] = seqs[(size_t)r * s->stride + len - 1];
        return model_decoder_step(m, &s->state, s->last_tokens, logits, error);
    }

    for (int r = 0; r < s->rows; r++)
        memcpy(s->prefix + (size_t)r * len, seqs + (size_t)r * s->stride, (size_t)len * sizeof(int));
    if (model_decode(m, s->arena, s->memory_rows, s->mem_lengths, s->rows, s->mem_len, s->prefix, len,
                     s->all_logits, error) != 0)
        return -1;
    for (int r = 0; r < s->rows; r++)
        memcpy(logits + r * vocab, s->all_logits + ((size_t)r * len + len - 1) * vocab, vocab * sizeof(float));
    return 0;
}

static int check_options(const struct model *m, const struct model_generate_options *o, char *error)
{
    int vocab = m->config.vocab_size;
    const char *problem = NULL;

    if (o->method != MODEL_GENERATE_GREEDY && o->method != MODEL_GENERATE_BEAM && o->method != MODEL_GENERATE_SAMPLE)
        problem = "method must be greedy (0), beam (1) or sample (2)";
    else if (o->max_tokens < 1)
        problem = "max_tokens must be at least 1";
    else if (o->bos < 0 || o->bos >= vocab || o->eos < 0 || o->eos >= vocab)
        problem = "bos and eos must be token ids below vocab_size";
    else if (o->method == MODEL_GENERATE_BEAM && (o->beam_width < 1 || o->beam_width > 64))
        problem = "beam_width must be 1 to 64";
    else if (o->method == MODEL_GENERATE_SAMPLE && !(o->temperature > 0.0f))
        problem = "temperature must be greater than 0";
    else if (o->method == MODEL_GENERATE_SAMPLE && !(o->top_p > 0.0f && o->top_p <= 1.0f))
        problem = "top_p must be in (0, 1]";
    else if (o->constraints.prefix_len < 0 || (o->constraints.prefix_len > 0 && !o->constraints.prefix))
        problem = "constraints.prefix is missing";
    else if (o->constraints.n_banned < 0 || (o->constraints.n_banned > 0 && !o->constraints.banned))
        problem = "constraints.banned is missing";
    if (!problem)
        return 0;
    snprintf(error, MODEL_ERROR_SIZE, "invalid generation options: %s", problem);
    return -1;
}

/* Greedy and sampling: one row. */
static int generate_single(struct logit_source *src, const struct model_generate_options *o, int *tokens,
                           int *n_tokens, float *score, float *logits, struct generate_candidate *order,
                           char *error)
{
    int vocab = src->model->config.vocab_size;
    int *seq = malloc((size_t)src->stride * sizeof(int));
    uint64_t rng = o->seed;
    float total = 0.0f;
    int n = 0;

    if (!seq) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory during generation");
        return -1;
    }
    seq[0] = o->bos;
    for (int step = 0; step < o->max_tokens; step++) {
        if (source_next(src, seq, step + 1, logits, error) != 0) {
            free(seq);
            return -1;
        }
        model_apply_constraints(&o->constraints, o->eos, seq + 1, step, logits, vocab);
        generate_log_softmax(logits, vocab);

        int token = o->method == MODEL_GENERATE_SAMPLE ? generate_sample(logits, vocab, o, order, &rng)
                                                       : generate_argmax(logits, vocab);
        if (token < 0)
            break; /* the constraints left no token */
        total += logits[token];
        tokens[n++] = token;
        seq[step + 1] = token;
        if (token == o->eos)
            break;
    }
    free(seq);
    *n_tokens = n;
    if (score)
        *score = total;
    return 0;
}

/* Beam search state: width rows of sequences [width, stride]. */
struct beams {
    int width, stride;
    int *seqs, *next_seqs;
    float *scores, *next_scores;
    int *finished, *next_finished;
    int *parents;
    struct generate_candidate *best; /* [width] selected candidates, best first; id = row * vocab + token */
};

/* Inserts candidate (score, id) into the descending top list of size width. */
static void keep_top(struct beams *b, int *count, float score, int id)
{
    int n = *count;
    if (n == b->width && !(score > b->best[n - 1].logit))
        return;
    int i = n < b->width ? n : n - 1;
    while (i > 0 && b->best[i - 1].logit < score) {
        b->best[i] = b->best[i - 1];
        i--;
    }
    b->best[i] = (struct generate_candidate){.logit = score, .id = id};
    if (n < b->width)
        (*count)++;
}

/* Chooses the next width beams from every (beam, token) continuation. A
 * finished beam continues only with eos at no cost. Returns the count chosen. */
static int select_beams(struct beams *b, const float *logprobs, int vocab, int eos)
{
    int count = 0;
    for (int r = 0; r < b->width; r++) {
        if (!(b->scores[r] > -INFINITY))
            continue;
        if (b->finished[r]) {
            keep_top(b, &count, b->scores[r], r * vocab + eos);
            continue;
        }
        const float *row = logprobs + (size_t)r * vocab;
        for (int v = 0; v < vocab; v++)
            if (row[v] > -INFINITY)
                keep_top(b, &count, b->scores[r] + row[v], r * vocab + v);
    }
    return count;
}

/* Moves the selected candidates into the beams; fills missing beams with dead ones. */
static void advance_beams(struct beams *b, int count, int vocab, int len, int eos)
{
    for (int i = 0; i < b->width; i++) {
        int parent = i < count ? b->best[i].id / vocab : 0;
        int token = i < count ? b->best[i].id % vocab : eos;
        memcpy(b->next_seqs + (size_t)i * b->stride, b->seqs + (size_t)parent * b->stride, (size_t)len * sizeof(int));
        b->next_seqs[(size_t)i * b->stride + len] = token;
        b->next_scores[i] = i < count ? b->best[i].logit : -INFINITY;
        b->next_finished[i] = i < count ? (b->finished[parent] || token == eos) : 1;
        b->parents[i] = parent;
    }
    int *t = b->seqs;
    b->seqs = b->next_seqs;
    b->next_seqs = t;
    float *s = b->scores;
    b->scores = b->next_scores;
    b->next_scores = s;
    int *f = b->finished;
    b->finished = b->next_finished;
    b->next_finished = f;
}

static void beams_free(struct beams *b)
{
    free(b->seqs);
    free(b->next_seqs);
    free(b->scores);
    free(b->next_scores);
    free(b->finished);
    free(b->next_finished);
    free(b->parents);
    free(b->best);
}

static int beams_init(struct beams *b, int width, int stride, int bos)
{
    memset(b, 0, sizeof *b);
    b->width = width;
    b->stride = stride;
    b->seqs = calloc((size_t)width * stride, sizeof(int));
    b->next_seqs = calloc((size_t)width * stride, sizeof(int));
    b->scores = calloc((size_t)width, sizeof(float));
    b->next_scores = calloc((size_t)width, sizeof(float));
    b->finished = calloc((size_t)width, sizeof(int));
    b->next_finished = calloc((size_t)width, sizeof(int));
    b->parents = calloc((size_t)width, sizeof(int));
    b->best = calloc((size_t)width, sizeof *b->best);
    if (!b->seqs || !b->next_seqs || !b->scores || !b->next_scores || !b->finished || !b->next_finished ||
        !b->parents || !b->best)
        return -1;
    for (int r = 0; r < width; r++) {
        b->seqs[(size_t)r * stride] = bos;
        /* Only beam 0 is live at the start, so the first step does not pick one token width times. */
        b->scores[r] = r == 0 ? 0.0f : -INFINITY;
    }
    return 0;
}

static int all_finished(const struct beams *b)
{
    for (int r = 0; r < b->width; r++)
        if (b->scores[r] > -INFINITY && !b->finished[r])
            return 0;
    return 1;
}

/* Rows 0 .. n-1 hold every live beam (score above -inf). */
static int live_prefix(const struct beams *b)
{
    int n = b->width;
    while (n > 1 && !(b->scores[n - 1] > -INFINITY))
        n--;
    return n;
}

static int generate_beam(struct logit_source *src, const struct model_generate_options *o, int *tokens,
                         int *n_tokens, float *score, float *logits, char *error)
{
    int vocab = src->model->config.vocab_size, width = o->beam_width, len = 1;
    struct beams b;

    if (beams_init(&b, width, src->stride, o->bos) != 0) {
        beams_free(&b);
        snprintf(error, MODEL_ERROR_SIZE, "out of memory starting beam search of width %d", width);
        return -1;
    }
    for (int step = 0; step < o->max_tokens && !all_finished(&b); step++, len++) {
        /* Beams stay sorted best first with the dead ones last, so only a
         * prefix of the rows needs logits. */
        if (src->use_cache)
            src->state.logit_rows = live_prefix(&b);
        if (source_next(src, b.seqs, len, logits, error) != 0) {
            beams_free(&b);
            return -1;
        }
        for (int r = 0; r < width; r++) {
            float *row = logits + (size_t)r * vocab;
            model_apply_constraints(&o->constraints, o->eos, b.seqs + (size_t)r * b.stride + 1, step, row, vocab);
            generate_log_softmax(row, vocab);
        }
        int count = select_beams(&b, logits, vocab, o->eos);
        if (count == 0)
            break; /* the constraints left no token in any beam */
        advance_beams(&b, count, vocab, len, o->eos);
        if (src->use_cache)
            model_decoder_state_reorder(src->model, &src->state, b.parents);
    }

    /* Beams stay sorted best first; copy beam 0 up to and including its first eos. */
    int n = 0;
    for (int i = 1; i < len && b.scores[0] > -INFINITY; i++) {
        tokens[n++] = b.seqs[i];
        if (b.seqs[i] == o->eos)
            break;
    }
    *n_tokens = n;
    if (score)
        *score = b.scores[0];
    beams_free(&b);
    return 0;
}

int model_generate(const struct model *m, struct model_arena *arena, const float *memory, int mem_len,
                   const struct model_generate_options *o, int *tokens, int *n_tokens, float *score, char *error)
{
    int vocab = m->config.vocab_size;
    int rows = o->method == MODEL_GENERATE_BEAM ? o->beam_width : 1;
    struct logit_source src;

    *n_tokens = 0;
    if (check_options(m, o, error) != 0)
        return -1;
    if (mem_len < 0) {
        snprintf(error, MODEL_ERROR_SIZE, "invalid memory length %d: expected 0 or more", mem_len);
        return -1;
    }
    if (source_init(&src, m, arena, rows, o->max_tokens + 1, memory, mem_len, o->use_cache, error) != 0)
        return -1;
    /* Tokens outside the allowed range would be masked anyway, so their
     * logits are not computed. A forced prefix may lie outside the range. */
    const struct model_constraints *c = &o->constraints;
    if (o->use_cache && c->prefix_len == 0 && c->allowed_begin >= 0 && c->allowed_end > c->allowed_begin &&
        c->allowed_end <= vocab)
        model_decoder_state_restrict(&src.state, c->allowed_begin, c->allowed_end, o->eos);

    float *logits = model_alloc_floats((size_t)rows * vocab);
    struct generate_candidate *order = malloc((size_t)vocab * sizeof *order);
    int rc = -1;
    if (!logits || !order)
        snprintf(error, MODEL_ERROR_SIZE, "out of memory for %d x %d logits", rows, vocab);
    else if (o->method == MODEL_GENERATE_BEAM)
        rc = generate_beam(&src, o, tokens, n_tokens, score, logits, error);
    else
        rc = generate_single(&src, o, tokens, n_tokens, score, logits, order, error);

    free(logits);
    free(order);
    source_free(&src);
    return rc;
}
