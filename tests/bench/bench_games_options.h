/*
 * The options of bench_games (see the header of bench_games.c) and their
 * parser. Header-only, so that the benchmark stays one .c file for
 * tests/bench/bench_games and CMake; include it from bench_games.c only.
 */
#ifndef INTENTD_BENCH_GAMES_OPTIONS_H
#define INTENTD_BENCH_GAMES_OPTIONS_H

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train_item_graph.h"
#include "train_model.h"
#include "train_smooth.h"

struct options {
    int epochs, batch, max_len, d_model, d_ff, heads, layers, patience, threads;
    float dropout, attention_dropout, lr, weight_decay, ema, input_replace, replace_exponent, recent_weight;
    float negative_exponent;
    int recent_span;
    int features_tail;
    struct train_item_graph_config graph;
    struct train_smooth_config smooth;
    int pre_norm, pad_left, decay_embedding, noise_tokens, user_tokens;
    float user_replace;
    enum train_item_loss loss;
    int negatives;
    unsigned long long seed;
    long max_steps;
    const char *save, *load;
    const char *members; /* --members: comma-separated weights evaluated with the model as one ensemble */
    int ensemble;        /* --ensemble: members trained at once, one process each */
};

/* Parses a whole decimal integer into out. Returns 0, or -1 for an empty
 * value, trailing characters or a value outside [min, max]. */
static int parse_integer(const char *value, long long min, long long max, long long *out)
{
    char *end;

    errno = 0;
    *out = strtoll(value, &end, 10);
    return end == value || *end != '\0' || errno != 0 || *out < min || *out > max ? -1 : 0;
}

static int parse_int(const char *value, int *out)
{
    long long v;

    if (parse_integer(value, INT_MIN, INT_MAX, &v) != 0)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_long(const char *value, long *out)
{
    long long v;

    if (parse_integer(value, LONG_MIN, LONG_MAX, &v) != 0)
        return -1;
    *out = (long)v;
    return 0;
}

/* Parses a whole finite number into out. Returns 0, or -1. */
static int parse_float(const char *value, float *out)
{
    char *end;
    float v = strtof(value, &end);

    if (end == value || *end != '\0' || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* Parses a seed: a whole decimal number from 0 to 2^64 - 1. */
static int parse_seed(const char *value, unsigned long long *out)
{
    char *end;

    errno = 0;
    *out = strtoull(value, &end, 10);
    return end == value || *end != '\0' || errno != 0 || value[0] == '-' ? -1 : 0;
}

/* The option parsers below return NULL, or what the value should have been. */
static const char *int_option(const char *value, int *out)
{
    return parse_int(value, out) == 0 ? NULL : "a whole number";
}

static const char *float_option(const char *value, float *out)
{
    return parse_float(value, out) == 0 ? NULL : "a finite number";
}

/* Parses 1 to TRAIN_SMOOTH_CHOICES comma-separated numbers. Returns the
 * count, or -1 for an empty list or entry, more numbers, or anything that
 * is not a finite number. */
static int parse_list(const char *value, float *out)
{
    const char *p = value;
    int n = 0;

    for (;;) {
        char *end;
        if (n == TRAIN_SMOOTH_CHOICES)
            return -1;
        out[n] = strtof(p, &end);
        if (end == p || !isfinite(out[n]) || (*end != ',' && *end != '\0'))
            return -1;
        n++;
        if (*end == '\0')
            return n;
        p = end + 1;
    }
}

/* "0" turns the smoothing after training off. */
static int parse_windows(const char *value, struct train_smooth_config *c)
{
    float windows[TRAIN_SMOOTH_CHOICES];

    if (strcmp(value, "0") == 0) {
        c->n_windows = 0;
        return 0;
    }
    c->n_windows = parse_list(value, windows);
    for (int k = 0; k < c->n_windows; k++) {
        /* Checked as a float first, because converting one outside the int range is undefined. */
        if (!(windows[k] >= 1.0f && windows[k] < 2147483648.0f) || windows[k] != floorf(windows[k]))
            return -1;
        c->windows[k] = (int)windows[k];
    }
    return c->n_windows < 0 ? -1 : 0;
}

static int parse_options(struct options *o, int argc, char **argv)
{
    /* The defaults are the recorded configuration (tests/bench/RESULTS.md, games). */
    *o = (struct options){.epochs = 200,
                          .batch = 128,
                          .max_len = 50,
                          .d_model = 64,
                          .d_ff = 64,
                          .heads = 1,
                          .layers = 2,
                          .patience = 40,
                          .threads = 2,
                          .dropout = 0.5f,
                          .attention_dropout = 0.3f,
                          .ema = 0.0f,
                          .input_replace = 0.3f,
                          .lr = 3e-3f,
                          .weight_decay = 0.0f,
                          .pre_norm = 1,
                          .pad_left = 0,
                          .decay_embedding = 0,
                          .loss = TRAIN_ITEM_LOSS_SAMPLED,
                          .negatives = 256,
                          .negative_exponent = 1.0f,
                          .seed = 42,
                          .graph = {.window = 0, .max_neighbors = 32, .alpha = 0.5f, .shrink = 10.0f},
                          .smooth = {.n_windows = 3,
                                     .windows = {2, 3, 5},
                                     .n_shrinks = 2,
                                     .shrinks = {30.0f, 100.0f},
                                     .n_alphas = 1,
                                     .alphas = {0.5f}},
                          .max_steps = 0,
                          .save = NULL,
                          .load = NULL,
                          .members = NULL,
                          .ensemble = 1};
    for (int i = 2; i < argc; i++) {
        int bad_list = 0;
        const char *expected = NULL; /* set when a number does not parse */
        const char *name = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!value) {
            fprintf(stderr, "bench_games: option %s needs a value\n", name);
            return -1;
        }
        i++;
        if (strcmp(name, "--epochs") == 0) expected = int_option(value, &o->epochs);
        else if (strcmp(name, "--batch") == 0) expected = int_option(value, &o->batch);
        else if (strcmp(name, "--max-len") == 0) expected = int_option(value, &o->max_len);
        else if (strcmp(name, "--d-model") == 0) expected = int_option(value, &o->d_model);
        else if (strcmp(name, "--d-ff") == 0) expected = int_option(value, &o->d_ff);
        else if (strcmp(name, "--attention-dropout") == 0) expected = float_option(value, &o->attention_dropout);
        else if (strcmp(name, "--input-replace") == 0) expected = float_option(value, &o->input_replace);
        else if (strcmp(name, "--replace-exponent") == 0) expected = float_option(value, &o->replace_exponent);
        else if (strcmp(name, "--noise-tokens") == 0) expected = int_option(value, &o->noise_tokens);
        else if (strcmp(name, "--user-tokens") == 0) expected = int_option(value, &o->user_tokens);
        else if (strcmp(name, "--user-replace") == 0) expected = float_option(value, &o->user_replace);
        else if (strcmp(name, "--recent-weight") == 0) expected = float_option(value, &o->recent_weight);
        else if (strcmp(name, "--recent-span") == 0) expected = int_option(value, &o->recent_span);
        else if (strcmp(name, "--ema") == 0) expected = float_option(value, &o->ema);
        else if (strcmp(name, "--heads") == 0) expected = int_option(value, &o->heads);
        else if (strcmp(name, "--layers") == 0) expected = int_option(value, &o->layers);
        else if (strcmp(name, "--patience") == 0) expected = int_option(value, &o->patience);
        else if (strcmp(name, "--threads") == 0) expected = int_option(value, &o->threads);
        else if (strcmp(name, "--dropout") == 0) expected = float_option(value, &o->dropout);
        else if (strcmp(name, "--lr") == 0) expected = float_option(value, &o->lr);
        else if (strcmp(name, "--weight-decay") == 0) expected = float_option(value, &o->weight_decay);
        else if (strcmp(name, "--norm") == 0) o->pre_norm = strcmp(value, "pre") == 0;
        else if (strcmp(name, "--decay-embedding") == 0) expected = int_option(value, &o->decay_embedding);
        else if (strcmp(name, "--pad") == 0) o->pad_left = strcmp(value, "left") == 0;
        else if (strcmp(name, "--loss") == 0) {
            if (strcmp(value, "full") == 0) o->loss = TRAIN_ITEM_LOSS_FULL;
            else if (strcmp(value, "sampled") == 0) o->loss = TRAIN_ITEM_LOSS_SAMPLED;
            else if (strcmp(value, "bce") == 0) o->loss = TRAIN_ITEM_LOSS_BCE;
            else {
                fprintf(stderr, "bench_games: invalid --loss %s: expected full, sampled or bce\n", value);
                return -1;
            }
        }
        else if (strcmp(name, "--negatives") == 0) expected = int_option(value, &o->negatives);
        else if (strcmp(name, "--negative-exponent") == 0) expected = float_option(value, &o->negative_exponent);
        else if (strcmp(name, "--seed") == 0)
            expected = parse_seed(value, &o->seed) == 0 ? NULL : "a whole number from 0 to 2^64 - 1";
        else if (strcmp(name, "--max-steps") == 0)
            expected = parse_long(value, &o->max_steps) == 0 ? NULL : "a whole number";
        else if (strcmp(name, "--save") == 0) o->save = value;
        else if (strcmp(name, "--load") == 0) o->load = value;
        else if (strcmp(name, "--members") == 0) o->members = value;
        else if (strcmp(name, "--item-features") == 0) expected = int_option(value, &o->features_tail);
        else if (strcmp(name, "--graph-window") == 0) expected = int_option(value, &o->graph.window);
        else if (strcmp(name, "--graph-neighbors") == 0) expected = int_option(value, &o->graph.max_neighbors);
        else if (strcmp(name, "--graph-alpha") == 0) expected = float_option(value, &o->graph.alpha);
        else if (strcmp(name, "--graph-shrink") == 0) expected = float_option(value, &o->graph.shrink);
        else if (strcmp(name, "--smooth-windows") == 0) bad_list = parse_windows(value, &o->smooth) != 0;
        else if (strcmp(name, "--smooth-shrinks") == 0)
            bad_list = (o->smooth.n_shrinks = parse_list(value, o->smooth.shrinks)) < 0;
        else if (strcmp(name, "--smooth-alphas") == 0)
            bad_list = (o->smooth.n_alphas = parse_list(value, o->smooth.alphas)) < 0;
        else if (strcmp(name, "--smooth-neighbors") == 0) expected = int_option(value, &o->smooth.max_neighbors);
        else if (strcmp(name, "--ensemble") == 0) expected = int_option(value, &o->ensemble);
        else {
            fprintf(stderr, "bench_games: unknown option %s\n", name);
            return -1;
        }
        if (expected) {
            fprintf(stderr, "bench_games: invalid %s %s: expected %s\n", name, value, expected);
            return -1;
        }
        if (bad_list) {
            fprintf(stderr, "bench_games: invalid %s %s: expected 1 to %d comma-separated numbers%s\n", name,
                    value, TRAIN_SMOOTH_CHOICES,
                    strcmp(name, "--smooth-windows") == 0 ? ", whole and 1 or more (or 0 for none)" : "");
            return -1;
        }
    }

    char error[MODEL_ERROR_SIZE];
    if ((o->graph.window > 0 && train_item_graph_check(&o->graph, error) != 0) ||
        train_smooth_check(&o->smooth, error) != 0) {
        fprintf(stderr, "bench_games: %s (check the --graph-* and --smooth-* options)\n", error);
        return -1;
    }
    return 0;
}

#endif
