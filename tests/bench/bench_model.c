/*
 * Model benchmark, run by `tests/bench/run model [--threads N] [--seconds S]`
 * (S: measuring time per configuration, default 2).
 *
 * Measures in one run, for the default model (d_model 64, 2 heads, 2 + 2
 * layers, d_ff 256, causal encoder, vocab 4096) and sequences of 64 tokens:
 *  - OpenBLAS sgemm GFLOP/s on exactly the matrix products of one encoder
 *    pass, single-threaded: the ceiling for the encoder;
 *  - encoder sequences/s and GFLOP/s at batch 1, 64 and 256, with 1 and 2
 *    OpenBLAS threads, and for a d_model 256 model (4 heads, d_ff 1024);
 *  - PyTorch nn.TransformerEncoder on the same weights and thread count
 *    (tests/bench/bench_model_torch.py through /usr/bin/python3);
 *  - one incremental causal token at length 64 against a full encode;
 *  - greedy generation of 8 tokens with and without the key/value cache.
 * GFLOP counts only matrix products (2 * M * N * K each). Progress goes to
 * stderr; the last stdout line is "model key=value ...".
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blas_kernels.h"
#include "encoder.h"
#include "generate.h"
#include "head_quant.h"
#include "item_scorer.h"
#include "kernels.h"
#include "kv_cache.h"
#include "model.h"
#include "safetensors.h"

#define SEQ 64
#define VOCAB 4096
#define N_BATCHES 3

static const int BATCHES[N_BATCHES] = {1, 64, 256};
#define ROUNDS 10
static double min_seconds = 2.0;

static double clock_seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Seconds per call: wall time, and CPU time of the process (all threads).
 * On a loaded machine wall time includes waiting for a core; the CPU time of
 * a single-threaded run does not. */
struct timing {
    double wall, cpu;
};

/* Mean per call of the fastest of ROUNDS rounds of at least
 * min_seconds / ROUNDS each, after one warm-up call. Many short rounds let
 * the minimum find the moments when other processes leave the core alone. */
static struct timing time_best(void (*fn)(void *), void *arg)
{
    struct timing best = {INFINITY, INFINITY};
    fn(arg);
    for (int round = 0; round < ROUNDS; round++) {
        double start = clock_seconds(CLOCK_MONOTONIC), cpu_start = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
        double elapsed;
        long calls = 0;
        do {
            fn(arg);
            calls++;
            elapsed = clock_seconds(CLOCK_MONOTONIC) - start;
        } while (elapsed < min_seconds / ROUNDS);
        if (elapsed / (double)calls < best.wall) {
            best.wall = elapsed / (double)calls;
            best.cpu = (clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu_start) / (double)calls;
        }
    }
    return best;
}

static void die(const char *step, const char *error)
{
    fprintf(stderr, "bench_model: %s: %s\n", step, error);
    exit(1);
}

static struct model_config bench_config(int d_model)
{
    struct model_config c;
    model_config_defaults(&c);
    c.vocab_size = VOCAB;
    c.item_begin = 64;
    c.item_end = VOCAB;
    c.n_actions = 4;
    c.n_categories = 16;
    c.n_sentiments = 2;
    if (d_model != 64) {
        c.d_model = d_model;
        c.n_heads = 4;
        c.d_ff = 4 * d_model;
    }
    return c;
}

/* Floating-point operations in the matrix products of one encoder pass. */
static double encoder_flops(const struct model_config *c, int batch, int seq)
{
    double rows = (double)batch * seq, d = c->d_model;
    double per_layer = 2 * rows * d * 3 * d + 2 * rows * d * d + 2 * 2 * rows * d * c->d_ff +
                       2 * 2 * (double)batch * seq * seq * d; /* QK^T and PV over all heads */
    return per_layer * c->n_encoder_layers;
}

struct encode_run {
    struct model *model;
    struct model_arena arena;
    int batch;
    int *tokens, *lengths;
    float *pooled;
};

static void encode_once(void *arg)
{
    struct encode_run *r = arg;
    char error[MODEL_ERROR_SIZE];
    if (model_encode(r->model, &r->arena, r->tokens, r->lengths, r->batch, SEQ, NULL, r->pooled, error) != 0)
        die("model_encode", error);
}

/* Seconds per encoder pass of batch full-length sequences. */
static struct timing time_encoder(struct model *m, int batch)
{
    struct encode_run r = {.model = m, .batch = batch};
    r.tokens = malloc(sizeof(int) * batch * SEQ);
    r.lengths = malloc(sizeof(int) * batch);
    r.pooled = malloc(sizeof(float) * batch * m->config.d_model);
    for (int i = 0; i < batch * SEQ; i++)
        r.tokens[i] = (i * 7919) % VOCAB;
    for (int b = 0; b < batch; b++)
        r.lengths[b] = SEQ;

    struct timing seconds = time_best(encode_once, &r);
    free(r.tokens);
    free(r.lengths);
    free(r.pooled);
    model_arena_free(&r.arena);
    return seconds;
}

/* The same sgemm calls as one encoder pass, with nothing in between. */
struct sgemm_run {
    const struct model_config *c;
    int batch;
    float *x, *w_qkv, *qkv, *w_out, *out, *w1, *hidden, *w2, *scores;
};

static void sgemm_once(void *arg)
{
    struct sgemm_run *s = arg;
    const struct model_config *c = s->c;
    int rows = s->batch * SEQ, d = c->d_model, dh = d / c->n_heads;

    for (int l = 0; l < c->n_encoder_layers; l++) {
        model_sgemm(0, 1, rows, 3 * d, d, 1.0f, s->x, d, s->w_qkv, d, 0.0f, s->qkv, 3 * d);
        for (int b = 0; b < s->batch; b++) {
            const float *q = s->qkv + (size_t)b * SEQ * 3 * d;
            for (int h = 0; h < c->n_heads; h++) {
                model_sgemm(0, 1, SEQ, SEQ, dh, 1.0f, q + h * dh, 3 * d, q + d + h * dh, 3 * d, 0.0f, s->scores, SEQ);
                model_sgemm(0, 0, SEQ, dh, SEQ, 1.0f, s->scores, SEQ, q + 2 * d + h * dh, 3 * d, 0.0f,
                            s->out + (size_t)b * SEQ * d + h * dh, d);
            }
        }
        model_sgemm(0, 1, rows, d, d, 1.0f, s->out, d, s->w_out, d, 1.0f, s->x, d);
        model_sgemm(0, 1, rows, c->d_ff, d, 1.0f, s->x, d, s->w1, d, 0.0f, s->hidden, c->d_ff);
        model_sgemm(0, 1, rows, d, c->d_ff, 1.0f, s->hidden, c->d_ff, s->w2, c->d_ff, 1.0f, s->x, d);
    }
}

static float *random_floats(size_t n, float scale)
{
    float *p = model_alloc_floats(n);
    for (size_t i = 0; i < n; i++)
        p[i] = scale * (float)((double)((i * 2654435761u) % 1000) / 500.0 - 1.0);
    return p;
}

static struct timing time_sgemm(const struct model_config *c, int batch)
{
    size_t rows = (size_t)batch * SEQ, d = (size_t)c->d_model, ff = (size_t)c->d_ff;
    struct sgemm_run s = {.c = c, .batch = batch};
    s.x = random_floats(rows * d, 0.1f);
    s.w_qkv = random_floats(3 * d * d, 0.1f);
    s.qkv = random_floats(rows * 3 * d, 0.0f);
    s.w_out = random_floats(d * d, 0.1f);
    s.out = random_floats(rows * d, 0.0f);
    s.w1 = random_floats(ff * d, 0.1f);
    s.hidden = random_floats(rows * ff, 0.0f);
    s.w2 = random_floats(d * ff, 0.1f);
    s.scores = random_floats(SEQ * SEQ, 0.0f);

    struct timing seconds = time_best(sgemm_once, &s);
    float *all[] = {s.x, s.w_qkv, s.qkv, s.w_out, s.out, s.w1, s.hidden, s.w2, s.scores};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
    return seconds;
}

/* Runs bench_model_torch.py; fills seconds[i] for BATCHES[i]. Returns 0 or -1. */
static int time_torch(const char *weights, int threads, struct timing *seconds)
{
    char command[1024], line[256];
    snprintf(command, sizeof command, "/usr/bin/python3 '%s/tests/bench/bench_model_torch.py' '%s' %d %d %g 1 64 256",
             INTENTD_SOURCE_DIR, weights, threads, SEQ, min_seconds);
    FILE *p = popen(command, "r");
    if (!p)
        return -1;
    int found = 0;
    while (fgets(line, sizeof line, p)) {
        int batch;
        double wall, cpu;
        if (sscanf(line, "torch batch=%d seconds=%lf cpu_seconds=%lf", &batch, &wall, &cpu) != 3)
            continue;
        for (int i = 0; i < N_BATCHES; i++)
            if (BATCHES[i] == batch) {
                seconds[i] = (struct timing){wall, cpu};
                found++;
            }
    }
    int status = pclose(p);
    return status == 0 && found == N_BATCHES ? 0 : -1;
}

struct incremental_run {
    struct model *model;
    struct model_kv_cache *cache;
    struct model_arena arena;
    int token;
    float pooled[64];
};

static void incremental_once(void *arg)
{
    struct incremental_run *r = arg;
    char error[MODEL_ERROR_SIZE];
    r->cache->length = SEQ - 1; /* drop the token appended by the previous call */
    if (model_kv_cache_append(r->model, r->cache, &r->arena, &r->token, 1, r->pooled, error) != 0)
        die("model_kv_cache_append", error);
}

struct generate_run {
    struct model *model;
    struct model_arena arena;
    float *memory;
    struct model_generate_options options;
    int n_tokens;
};

static void generate_once(void *arg)
{
    struct generate_run *r = arg;
    char error[MODEL_ERROR_SIZE];
    int tokens[16];
    if (model_generate(r->model, &r->arena, r->memory, SEQ, &r->options, tokens, &r->n_tokens, NULL, error) != 0)
        die("model_generate", error);
}

/* Key=value pairs for the summary line. */
static char summary[4096];

static void add(const char *key, double value)
{
    size_t n = strlen(summary);
    snprintf(summary + n, sizeof summary - n, " %s=%.4g", key, value);
}

/* Item head of the intent path: all 13,396 item tokens of the default model. */
enum { ITEM_HEAD_ITEMS = 13396, ITEM_HEAD_TOP_K = 10 };

struct item_head_run {
    const struct model *m;
    const float *pooled;
    int rows;
    float *logits, *lse;
    int *top;
    long rescored;
};

static void item_head_once(void *arg)
{
    struct item_head_run *r = arg;
    model_item_logits(r->m, r->pooled, r->rows, r->logits, r->lse);
}

static void item_head_top_once(void *arg)
{
    struct item_head_run *r = arg;
    r->rescored = model_item_logits_top(r->m, r->pooled, r->rows, r->logits, r->lse, ITEM_HEAD_TOP_K, INT_MAX, r->top);
}

/* Microseconds per row of model_item_logits, with sgemm and with the packed
 * panels, for 1, 8 and 64 rows (an intent chunk holds up to 64 users). */
static void bench_item_head(void)
{
    static const int rows[] = {1, 8, 64};
    struct model_config c = bench_config(64);
    struct model m;
    char error[MODEL_ERROR_SIZE], key[64];

    c.vocab_size = c.item_begin + ITEM_HEAD_ITEMS;
    c.item_end = c.vocab_size;
    if (model_create(&m, &c, 11, error) != 0)
        die("item head model", error);
    float *pooled = random_floats(64 * 64, 1.0f);
    float *logits = random_floats((size_t)64 * ITEM_HEAD_ITEMS, 0.0f), *lse = random_floats(64, 0.0f);

    for (int packed = 0; packed < 2; packed++) {
        if (packed && model_item_panels_build(&m, error) != 0)
            die("packing item panels", error);
        if (packed && !m.item_panels)
            break; /* no AVX-512: the packed path is the sgemm path */
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
            struct item_head_run run = {&m, pooled, rows[i], logits, lse, NULL, 0};
            struct timing t = time_best(item_head_once, &run);
            double us = t.cpu * 1e6 / rows[i];
            fprintf(stderr, "  item head, %s, %d rows: %.1f us CPU per row\n", packed ? "packed" : "sgemm", rows[i], us);
            snprintf(key, sizeof key, "item_us_%s_r%d", packed ? "packed" : "sgemm", rows[i]);
            add(key, us);
        }
    }

    /* The two-stage int8 head as intents use it: the 10 best items exact. */
    if (model_quant_heads_build(&m, error) != 0)
        die("quantising the item head", error);
    int *top = calloc((size_t)64 * ITEM_HEAD_TOP_K, sizeof(int));
    for (size_t i = 0; m.item_quant && top && i < sizeof rows / sizeof rows[0]; i++) {
        struct item_head_run run = {&m, pooled, rows[i], logits, lse, top, 0};
        struct timing t = time_best(item_head_top_once, &run);
        double us = t.cpu * 1e6 / rows[i];
        fprintf(stderr, "  item head, int8 with the top %d in float, %d rows: %.1f us CPU per row, %.1f rescored per row\n",
                ITEM_HEAD_TOP_K, rows[i], us, (double)run.rescored / rows[i]);
        snprintf(key, sizeof key, "item_us_int8_r%d", rows[i]);
        add(key, us);
    }
    free(top);
    free(pooled);
    free(logits);
    free(lse);
    model_free(&m);
}

static void bench_encoders(struct model *m, const char *prefix, int threads, struct timing *seconds)
{
    char key[64];
    model_blas_set_threads(threads);
    for (int i = 0; i < N_BATCHES; i++) {
        seconds[i] = time_encoder(m, BATCHES[i]);
        double gflops = encoder_flops(&m->config, BATCHES[i], SEQ) / seconds[i].wall * 1e-9;
        fprintf(stderr, "  %s threads=%d batch=%d: %.1f sequences/s, %.2f GFLOP/s (CPU time: %.1f sequences/s)\n",
                prefix, threads, BATCHES[i], BATCHES[i] / seconds[i].wall, gflops, BATCHES[i] / seconds[i].cpu);
        snprintf(key, sizeof key, "%s_b%d_seq_s", prefix, BATCHES[i]);
        add(key, BATCHES[i] / seconds[i].wall);
        snprintf(key, sizeof key, "%s_b%d_gflops", prefix, BATCHES[i]);
        add(key, gflops);
    }
}

static struct timing bench_incremental(struct model *m, struct timing *full)
{
    char error[MODEL_ERROR_SIZE];
    struct incremental_run r = {.model = m, .token = 17};
    int tokens[SEQ];
    for (int i = 0; i < SEQ; i++)
        tokens[i] = (i * 31) % VOCAB;

    r.cache = model_kv_cache_create(m, error);
    if (!r.cache || model_kv_cache_rebuild(m, r.cache, &r.arena, tokens, SEQ - 1, NULL, error) != 0)
        die("kv cache", error);
    struct timing seconds = time_best(incremental_once, &r);
    *full = time_encoder(m, 1);
    model_kv_cache_free(r.cache);
    model_arena_free(&r.arena);
    return seconds;
}

static void bench_generation(struct model *m, struct timing *cached, struct timing *recomputed)
{
    char error[MODEL_ERROR_SIZE];
    struct generate_run r = {.model = m};
    int tokens[SEQ], length = SEQ;
    static int banned[1] = {VOCAB - 1};
    for (int i = 0; i < SEQ; i++)
        tokens[i] = (i * 131) % VOCAB;
    r.memory = malloc(sizeof(float) * SEQ * m->config.d_model);
    if (model_encode(m, &r.arena, tokens, &length, 1, SEQ, r.memory, NULL, error) != 0)
        die("model_encode", error);

    /* eos is banned so that every run generates exactly 8 tokens. */
    model_generate_defaults(&r.options);
    r.options.max_tokens = 8;
    r.options.eos = VOCAB - 1;
    r.options.constraints.banned = banned;
    r.options.constraints.n_banned = 1;
    r.options.use_cache = 1;
    *cached = time_best(generate_once, &r);
    if (r.n_tokens != 8)
        die("generation", "expected 8 tokens");
    r.options.use_cache = 0;
    *recomputed = time_best(generate_once, &r);
    free(r.memory);
    model_arena_free(&r.arena);
}

static void bench_sgemm(const struct model_config *c, const char *key, struct timing *seconds)
{
    *seconds = time_sgemm(c, 64);
    double flops = encoder_flops(c, 64, SEQ);
    fprintf(stderr, "  d_model %d batch=64: %.2f GFLOP/s (CPU time: %.2f)\n", c->d_model,
            flops / seconds->wall * 1e-9, flops / seconds->cpu * 1e-9);
    add(key, flops / seconds->wall * 1e-9);
}

static void bench_torch(struct model *m, int threads, const struct timing *ours, struct timing *torch)
{
    char error[MODEL_ERROR_SIZE], dir[] = "/tmp/intentd-bench-XXXXXX", path[128];

    fprintf(stderr, "PyTorch nn.TransformerEncoder, %d thread(s)\n", threads);
    if (!mkdtemp(dir))
        die("mkdtemp", "failed");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (model_safetensors_save(m, path, NULL, error) != 0)
        die("save", error);
    if (time_torch(path, threads, torch) != 0)
        die("PyTorch benchmark", "bench_model_torch.py failed; is python3-torch installed?");
    unlink(path);
    rmdir(dir);
    for (int i = 0; i < N_BATCHES; i++) {
        char key[64];
        fprintf(stderr, "  torch batch=%d: %.1f sequences/s (ours %.1f); CPU time: %.1f (ours %.1f)\n", BATCHES[i],
                BATCHES[i] / torch[i].wall, BATCHES[i] / ours[i].wall, BATCHES[i] / torch[i].cpu,
                BATCHES[i] / ours[i].cpu);
        snprintf(key, sizeof key, "torch_b%d_seq_s", BATCHES[i]);
        add(key, BATCHES[i] / torch[i].wall);
    }
}

int main(int argc, char **argv)
{
    int threads = 1;
    char error[MODEL_ERROR_SIZE];
    char note[512];

    model_blas_select_kernels(argv, note, sizeof note);
    if (note[0])
        fprintf(stderr, "bench_model: %s\n", note);
    fprintf(stderr, "bench_model: OpenBLAS kernels %s\n", model_blas_kernels());

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--threads") == 0)
            threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--seconds") == 0)
            min_seconds = atof(argv[i + 1]);
    }
    if (threads != 1 && threads != 2)
        die("--threads", "expected 1 or 2");

    struct model_config c64 = bench_config(64), c256 = bench_config(256);
    struct model m64, m256;
    if (model_create(&m64, &c64, 1, error) != 0 || model_create(&m256, &c256, 2, error) != 0)
        die("model_create", error);
    add("threads", threads);

    fprintf(stderr, "sgemm on the encoder's shapes, 1 thread\n");
    model_blas_set_threads(1);
    struct timing sgemm64, sgemm256;
    bench_sgemm(&c64, "sgemm_gflops_b64", &sgemm64);
    bench_sgemm(&c256, "sgemm_d256_gflops_b64", &sgemm256);

    fprintf(stderr, "encoder, d_model 64, length %d\n", SEQ);
    struct timing enc1[N_BATCHES], enc2[N_BATCHES], enc256[N_BATCHES], torch[N_BATCHES];
    bench_encoders(&m64, "enc_t1", 1, enc1);
    bench_encoders(&m64, "enc_t2", 2, enc2);
    const struct timing *enc = threads == 2 ? enc2 : enc1;
    fprintf(stderr, "encoder, d_model 256, length %d\n", SEQ);
    bench_encoders(&m256, "d256", threads, enc256);
    model_blas_set_threads(threads);
    bench_torch(&m64, threads, enc, torch);

    fprintf(stderr, "item head, %d items, d_model 64, 1 thread\n", ITEM_HEAD_ITEMS);
    model_blas_set_threads(1);
    bench_item_head();
    model_blas_set_threads(threads);

    fprintf(stderr, "incremental causal token at length %d\n", SEQ);
    struct timing full, inc = bench_incremental(&m64, &full);
    fprintf(stderr, "  one token %.1f us, full encode %.1f us (CPU time: %.1f us, %.1f us)\n", inc.wall * 1e6,
            full.wall * 1e6, inc.cpu * 1e6, full.cpu * 1e6);
    add("incremental_us", inc.wall * 1e6);
    add("full_encode_us", full.wall * 1e6);

    fprintf(stderr, "greedy generation of 8 tokens, memory %d\n", SEQ);
    struct timing cached, recomputed;
    bench_generation(&m64, &cached, &recomputed);
    fprintf(stderr, "  cached %.3f ms, recompute %.3f ms (CPU time: %.3f ms, %.3f ms)\n", cached.wall * 1e3,
            recomputed.wall * 1e3, cached.cpu * 1e3, recomputed.cpu * 1e3);
    add("generate_cached_ms", cached.wall * 1e3);
    add("generate_recompute_ms", recomputed.wall * 1e3);

    /* Targets, from wall time; the _cpu variants use CPU time (1 thread only). */
    add("peak_fraction_b64", sgemm64.wall / enc1[1].wall);
    add("peak_fraction_b64_cpu", sgemm64.cpu / enc1[1].cpu);
    add("speedup_vs_torch_b1", torch[0].wall / enc[0].wall);
    add("speedup_vs_torch_b64", torch[1].wall / enc[1].wall);
    add("speedup_vs_torch_b256", torch[2].wall / enc[2].wall);
    if (threads == 1) {
        add("speedup_vs_torch_b1_cpu", torch[0].cpu / enc[0].cpu);
        add("speedup_vs_torch_b64_cpu", torch[1].cpu / enc[1].cpu);
    }
    add("incremental_cost_ratio", inc.wall / full.wall);
    add("kv_cache_speedup", recomputed.wall / cached.wall);
    add("kv_cache_speedup_cpu", recomputed.cpu / cached.cpu);
    printf("model%s\n", summary);

    model_free(&m64);
    model_free(&m256);
    return 0;
}
