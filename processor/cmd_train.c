/*
 * intentd train: reads recorded events, builds the tokenizer, trains the
 * multitask model (train_events.h) and writes a safetensors file that
 * `intentd run` serves. Progress goes to stderr; the summary to stdout.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd_train_input.h"
#include "commands.h"
#include "kernels.h"
#include "train_events.h"

#define TRAIN_MAX_INPUTS 64

enum input_kind { INPUT_TAOBAO, INPUT_REVIEWS, INPUT_SEQUENCES, INPUT_EVENTS };

struct train_input_file {
    enum input_kind kind;
    const char *path;
};

struct train_options {
    struct train_input_file inputs[TRAIN_MAX_INPUTS];
    int n_inputs;
    const char *out, *checkpoint;
    int resume, strict, threads;
    struct model_config model;
    struct train_events_options data;
    struct train_events_config loop;
    struct optim_config optim;
    float dropout;
};

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: intentd train --out FILE INPUTS... [OPTIONS]\n"
            "\n"
            "Inputs (each repeatable, at least one):\n"
            "  --taobao FILE        Taobao UserBehavior CSV: user_id,item_id,category_id,behavior,timestamp\n"
            "  --reviews FILE       review CSV with a header: label,review and optional cat,user_id,item_id,\n"
            "                       rating,timestamp; every 10th labelled review is held out for validation\n"
            "  --sequences FILE     SASRec sequences: 'user item' per line, in time order\n"
            "  --events FILE        ClickEvent / ReviewEvent records: JSON Lines, or an Avro object container file\n"
            "  --strict             stop at the first bad record (default: skip and count it)\n"
            "\n"
            "Output and run control:\n"
            "  --out FILE           safetensors model to write (required)\n"
            "  --checkpoint FILE    checkpoint written after every epoch\n"
            "  --resume             continue from --checkpoint when it exists\n"
            "  --epochs N           epoch limit (default 10)\n"
            "  --patience N         stop after N epochs without a better validation score (default 2, 0: never)\n"
            "  --time-limit SECONDS stop after the epoch in which this much training time has passed\n"
            "  --max-steps N        stop after N updates (default: no limit)\n"
            "  --threads N          threads of the loss softmax (default 2)\n"
            "  --seed N             seed of the weights, dropout and sample order (default 1)\n"
            "  --eval-samples N     validation samples of each kind per evaluation (default 0: all)\n"
            "\n"
            "Model and optimiser:\n"
            "  --d-model N (64)  --layers N (2 encoder and 2 decoder)  --heads N (2)  --d-ff N (4 x d-model)\n"
            "  --max-len N (64)  --dropout P (0.1)  --batch-size N (64)  --lr RATE (0.001)\n"
            "  --warmup N        warm-up updates (default 100)\n"
            "\n"
            "Vocabulary and labels:\n"
            "  --bpe-merges N        BPE merges learned from review texts and search queries (default 2000)\n"
            "  --item-min-count N    items seen fewer times share hashed buckets (default 2)\n"
            "  --item-max-size N     most frequent items kept (default 100000)\n"
            "  --item-buckets N      buckets for unseen items (default 1024)\n"
            "  --category-buckets N  buckets for unseen categories (default 64)\n"
            "  --offer-items N       items in each decoder target (default 4)\n"
            "  --propensity-window N events after the cut that count for purchase propensity (default 5)\n"
            "  --max-text-tokens N   text tokens per review or query (default 16; the processor keeps 48)\n"
            "\n"
            "Exit status: 0 when the model was written, 1 on a failure, 2 on a usage error.\n");
}

static void defaults(struct train_options *o)
{
    memset(o, 0, sizeof *o);
    o->threads = 2;
    o->dropout = 0.1f;
    model_config_defaults(&o->model);
    o->model.d_ff = 0; /* 4 x d_model unless set */
    train_events_options_defaults(&o->data);
    optim_config_defaults(&o->optim);
    o->optim.warmup_steps = 100;
    o->loop = (struct train_events_config){.epochs = 10, .batch_size = 64, .patience = 2, .seed = 1};
}

enum option_id {
    OPT_TAOBAO = 256, OPT_REVIEWS, OPT_SEQUENCES, OPT_EVENTS, OPT_STRICT, OPT_OUT, OPT_CHECKPOINT, OPT_RESUME,
    OPT_EPOCHS, OPT_PATIENCE, OPT_TIME_LIMIT, OPT_MAX_STEPS, OPT_THREADS, OPT_SEED, OPT_EVAL_SAMPLES,
    OPT_D_MODEL, OPT_LAYERS, OPT_HEADS, OPT_D_FF, OPT_MAX_LEN, OPT_DROPOUT, OPT_BATCH_SIZE, OPT_LR, OPT_WARMUP,
    OPT_BPE_MERGES, OPT_ITEM_MIN_COUNT, OPT_ITEM_MAX_SIZE, OPT_ITEM_BUCKETS, OPT_CATEGORY_BUCKETS,
    OPT_OFFER_ITEMS, OPT_PROPENSITY_WINDOW, OPT_MAX_TEXT_TOKENS, OPT_HELP,
};

static const struct option long_options[] = {
    {"taobao", required_argument, NULL, OPT_TAOBAO}, {"reviews", required_argument, NULL, OPT_REVIEWS},
    {"sequences", required_argument, NULL, OPT_SEQUENCES}, {"events", required_argument, NULL, OPT_EVENTS},
    {"strict", no_argument, NULL, OPT_STRICT}, {"out", required_argument, NULL, OPT_OUT},
    {"checkpoint", required_argument, NULL, OPT_CHECKPOINT}, {"resume", no_argument, NULL, OPT_RESUME},
    {"epochs", required_argument, NULL, OPT_EPOCHS}, {"patience", required_argument, NULL, OPT_PATIENCE},
    {"time-limit", required_argument, NULL, OPT_TIME_LIMIT}, {"max-steps", required_argument, NULL, OPT_MAX_STEPS},
    {"threads", required_argument, NULL, OPT_THREADS}, {"seed", required_argument, NULL, OPT_SEED},
    {"eval-samples", required_argument, NULL, OPT_EVAL_SAMPLES}, {"d-model", required_argument, NULL, OPT_D_MODEL},
    {"layers", required_argument, NULL, OPT_LAYERS}, {"heads", required_argument, NULL, OPT_HEADS},
    {"d-ff", required_argument, NULL, OPT_D_FF}, {"max-len", required_argument, NULL, OPT_MAX_LEN},
    {"dropout", required_argument, NULL, OPT_DROPOUT}, {"batch-size", required_argument, NULL, OPT_BATCH_SIZE},
    {"lr", required_argument, NULL, OPT_LR}, {"warmup", required_argument, NULL, OPT_WARMUP},
    {"bpe-merges", required_argument, NULL, OPT_BPE_MERGES},
    {"item-min-count", required_argument, NULL, OPT_ITEM_MIN_COUNT},
    {"item-max-size", required_argument, NULL, OPT_ITEM_MAX_SIZE},
    {"item-buckets", required_argument, NULL, OPT_ITEM_BUCKETS},
    {"category-buckets", required_argument, NULL, OPT_CATEGORY_BUCKETS},
    {"offer-items", required_argument, NULL, OPT_OFFER_ITEMS},
    {"propensity-window", required_argument, NULL, OPT_PROPENSITY_WINDOW},
    {"max-text-tokens", required_argument, NULL, OPT_MAX_TEXT_TOKENS}, {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* Parses a whole number in [min, max]; prints the error and returns -1 otherwise. */
static int parse_long(const char *name, const char *text, long min, long max, long *out)
{
    char *end;
    long value = strtol(text, &end, 10);
    if (!text[0] || *end || value < min || value > max) {
        fprintf(stderr, "intentd train: invalid --%s '%s': expected a whole number from %ld to %ld\n", name, text,
                min, max);
        return -1;
    }
    *out = value;
    return 0;
}

static int parse_float(const char *name, const char *text, double min, double max, double *out)
{
    char *end;
    double value = strtod(text, &end);
    if (!text[0] || *end || !(value >= min && value <= max)) {
        fprintf(stderr, "intentd train: invalid --%s '%s': expected a number from %g to %g\n", name, text, min, max);
        return -1;
    }
    *out = value;
    return 0;
}

static int add_input(struct train_options *o, enum input_kind kind, const char *path)
{
    if (o->n_inputs >= TRAIN_MAX_INPUTS) {
        fprintf(stderr, "intentd train: more than %d input files\n", TRAIN_MAX_INPUTS);
        return -1;
    }
    o->inputs[o->n_inputs++] = (struct train_input_file){kind, path};
    return 0;
}

/* Applies one numeric option. */
static int apply_number(struct train_options *o, int id, const char *name, const char *arg)
{
    long v = 0;
    double x = 0;
    int bad = 0;

    switch (id) {
    case OPT_EPOCHS: bad = parse_long(name, arg, 1, 100000, &v); o->loop.epochs = (int)v; break;
    case OPT_PATIENCE: bad = parse_long(name, arg, 0, 100000, &v); o->loop.patience = (int)v; break;
    case OPT_TIME_LIMIT: bad = parse_float(name, arg, 0, 1e9, &x); o->loop.time_limit_seconds = x; break;
    case OPT_MAX_STEPS: bad = parse_long(name, arg, 0, 1L << 40, &v); o->loop.max_steps = v; break;
    case OPT_THREADS: bad = parse_long(name, arg, 1, 256, &v); o->threads = (int)v; break;
    case OPT_SEED: bad = parse_long(name, arg, 0, (1L << 62), &v); o->loop.seed = (uint64_t)v; break;
    case OPT_EVAL_SAMPLES: bad = parse_long(name, arg, 0, 1L << 40, &v); o->loop.eval_max_samples = v; break;
    case OPT_D_MODEL: bad = parse_long(name, arg, 1, MODEL_MAX_WIDTH, &v); o->model.d_model = (int)v; break;
    case OPT_LAYERS: bad = parse_long(name, arg, 1, MODEL_MAX_LAYERS, &v);
        o->model.n_encoder_layers = o->model.n_decoder_layers = (int)v; break;
    case OPT_HEADS: bad = parse_long(name, arg, 1, MODEL_MAX_WIDTH, &v); o->model.n_heads = (int)v; break;
    case OPT_D_FF: bad = parse_long(name, arg, 1, MODEL_MAX_WIDTH, &v); o->model.d_ff = (int)v; break;
    case OPT_MAX_LEN: bad = parse_long(name, arg, 2, 4096, &v); o->model.max_len = (int)v; break;
    case OPT_DROPOUT: bad = parse_float(name, arg, 0, 0.9, &x); o->dropout = (float)x; break;
    case OPT_BATCH_SIZE: bad = parse_long(name, arg, 1, 4096, &v); o->loop.batch_size = (int)v; break;
    case OPT_LR: bad = parse_float(name, arg, 1e-7, 1.0, &x); o->optim.lr = (float)x; break;
    case OPT_WARMUP: bad = parse_long(name, arg, 0, 1L << 40, &v); o->optim.warmup_steps = v; break;
    case OPT_BPE_MERGES: bad = parse_long(name, arg, 0, 1 << 20, &v); o->data.bpe_merges = (int)v; break;
    case OPT_ITEM_MIN_COUNT: bad = parse_long(name, arg, 1, 1L << 40, &v); o->data.vocab.item_min_count = v; break;
    case OPT_ITEM_MAX_SIZE: bad = parse_long(name, arg, 0, MODEL_MAX_VOCAB / 2, &v);
        o->data.vocab.item_max_size = (int32_t)v; break;
    case OPT_ITEM_BUCKETS: bad = parse_long(name, arg, 0, 1 << 22, &v); o->data.vocab.item_buckets = (int32_t)v; break;
    case OPT_CATEGORY_BUCKETS: bad = parse_long(name, arg, 0, 1 << 20, &v);
        o->data.vocab.category_buckets = (int32_t)v; break;
    case OPT_OFFER_ITEMS: bad = parse_long(name, arg, 1, 64, &v); o->data.offer_items = (int)v; break;
    case OPT_PROPENSITY_WINDOW: bad = parse_long(name, arg, 1, 1000, &v); o->data.propensity_window = (int)v; break;
    case OPT_MAX_TEXT_TOKENS: bad = parse_long(name, arg, 0, 4096, &v); o->data.max_text_tokens = (int)v; break;
    default: bad = -1;
    }
    return bad;
}

/* Returns 0 to run, 1 after --help, 2 on a usage error. */
static int parse_options(struct train_options *o, int argc, char **argv)
{
    int id, index = 0;

    defaults(o);
    optind = 0; /* 0 makes glibc getopt reset fully, so cmd_train can run more than once per process */
    while ((id = getopt_long(argc, argv, "", long_options, &index)) != -1) {
        const char *name = id >= OPT_TAOBAO ? long_options[index].name : "";
        switch (id) {
        case OPT_TAOBAO: if (add_input(o, INPUT_TAOBAO, optarg)) return 2; break;
        case OPT_REVIEWS: if (add_input(o, INPUT_REVIEWS, optarg)) return 2; break;
        case OPT_SEQUENCES: if (add_input(o, INPUT_SEQUENCES, optarg)) return 2; break;
        case OPT_EVENTS: if (add_input(o, INPUT_EVENTS, optarg)) return 2; break;
        case OPT_STRICT: o->strict = 1; break;
        case OPT_OUT: o->out = optarg; break;
        case OPT_CHECKPOINT: o->checkpoint = optarg; break;
        case OPT_RESUME: o->resume = 1; break;
        case OPT_HELP: print_usage(stdout); return 1;
        case '?': return 2;
        default: if (apply_number(o, id, name, optarg) != 0) return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "intentd train: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!o->out || o->n_inputs == 0) {
        fprintf(stderr, "intentd train: %s is required (see 'intentd train --help')\n",
                !o->out ? "--out FILE" : "at least one input (--taobao, --reviews, --sequences or --events)");
        return 2;
    }
    if (o->resume && !o->checkpoint) {
        fprintf(stderr, "intentd train: --resume needs --checkpoint FILE\n");
        return 2;
    }
    if (o->model.d_ff == 0)
        o->model.d_ff = 4 * o->model.d_model;
    o->loop.checkpoint_path = o->checkpoint;
    return 0;
}

/* Progress on stderr: one redrawn line on a terminal, else a line every
 * 100 updates; a full line after each validation. */
static void on_progress(const struct train_events_progress *p, void *user)
{
    int tty = *(int *)user;

    if (p->validated) {
        const struct train_events_metrics *v = &p->validation;
        fprintf(stderr, "%sepoch %d/%d validation: hr@10 %.4f ndcg@10 %.4f action %.4f category %.4f "
                "sentiment %.4f propensity log-loss %.4f%s\n", tty ? "\r\033[K" : "", p->epoch + 1, p->epochs,
                v->hr10, v->ndcg10, v->action_accuracy, v->category_accuracy, v->sentiment_accuracy,
                v->propensity_log_loss, p->improved ? " (best)" : "");
        return;
    }
    if (!tty && p->step % 100 != 0)
        return;
    int width = 24, done = p->total_steps > 0 ? (int)(width * p->step / p->total_steps) : 0;
    char bar[32];
    for (int i = 0; i < width; i++)
        bar[i] = i < done ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "%sepoch %d/%d [%s] step %ld/%ld loss %.4f (item %.3f action %.3f sentiment %.3f) "
            "%.0f tokens/s eta %.0fs%s", tty ? "\r\033[K" : "", p->epoch + 1, p->epochs, bar, p->step,
            p->total_steps, p->losses.total, p->losses.item, p->losses.action, p->losses.sentiment,
            p->tokens_per_second, p->eta_seconds, tty ? "" : "\n");
    fflush(stderr);
}

static void print_stats(const char *path, const struct train_input_stats *st)
{
    fprintf(stderr, "read %s: %ld records, %ld events, %ld bad records skipped\n", path, st->records, st->events,
            st->bad);
    for (int i = 0; i < st->kept; i++)
        fprintf(stderr, "  %s\n", st->errors[i]);
    if (st->bad > st->kept)
        fprintf(stderr, "  ... and %ld more\n", st->bad - st->kept);
}

static int read_inputs(const struct train_options *o, struct train_input_log *log, char *error)
{
    for (int i = 0; i < o->n_inputs; i++) {
        struct train_input_stats st = {0};
        const char *path = o->inputs[i].path;
        int status;
        switch (o->inputs[i].kind) {
        case INPUT_TAOBAO: status = train_input_read_taobao(log, path, o->strict, &st, error); break;
        case INPUT_REVIEWS: status = train_input_read_reviews(log, path, o->strict, &st, error); break;
        case INPUT_SEQUENCES: status = train_input_read_sequences(log, path, o->strict, &st, error); break;
        default: status = cmd_train_read_events(log, path, o->strict, &st, error); break;
        }
        if (status != 0)
            return -1;
        print_stats(path, &st);
    }
    return 0;
}

/* Reads, splits and tokenizes the inputs; sets the model's vocabulary. */
static int prepare_data(struct train_options *o, struct train_input_log *log, struct train_events_data *data,
                        struct tokenizer **tok, char *error)
{
    if (read_inputs(o, log, error) != 0 || train_events_data_split(data, log, &o->data, error) != 0)
        return -1;
    fprintf(stderr, "building the vocabulary (%d BPE merges) ...\n", o->data.bpe_merges);
    if (train_events_build_tokenizer(data, log, tok, error) != 0 ||
        train_events_data_encode(data, log, *tok, error) != 0)
        return -1;
    tokenizer_configure_model(*tok, &o->model);
    o->model.n_sentiments = TOKENIZER_N_SENTIMENTS;
    fprintf(stderr, "%d users, %ld events, %ld tokens; %ld training samples, %ld next-event and %ld sentiment "
            "validation samples\n", data->n_users, data->n_events, data->n_tokens, data->n_train,
            data->n_valid_next, data->n_valid_sentiment);
    return 0;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void print_summary(const struct train_options *o, const struct tokenizer *tok,
                          const struct train_events_session *s, const struct train_events_metrics *v)
{
    const struct tokenizer_layout *l = &tok->layout;
    printf("model written: %s (%ld bytes)\n", o->out, file_size(o->out));
    printf("vocabulary: %d tokens: %d known items + %d item buckets, %d known categories + %d category buckets, "
           "%d text tokens (%d BPE merges)\n", l->vocab_size, l->item_bucket_begin - l->item_begin,
           l->item_end - l->item_bucket_begin, l->category_bucket_begin - l->category_begin,
           l->category_end - l->category_bucket_begin, l->text_end - l->text_begin, bpe_n_merges(tok->bpe));
    printf("model: d_model %d, %d heads, %d encoder + %d decoder layers, d_ff %d, max_len %d\n", o->model.d_model,
           o->model.n_heads, o->model.n_encoder_layers, o->model.n_decoder_layers, o->model.d_ff, o->model.max_len);
    printf("training: %d epochs run, best epoch %d, %ld updates%s\n", s->core.epoch, s->core.best_epoch + 1,
           s->core.opt.step, s->stopped_by_time ? ", stopped by --time-limit" : "");
    printf("validation (%ld next-event users, %ld held-out reviews):\n", v->next_samples, v->sentiment_samples);
    if (v->item_samples > 0)
        printf("  next-item HR@10 %.4f  NDCG@10 %.4f  (among all known items; %ld users with a known item)\n", v->hr10,
               v->ndcg10, v->item_samples);
    if (v->next_samples > 0)
        printf("  next-action accuracy %.4f (most frequent action: %.4f)  category accuracy %.4f  "
               "propensity log-loss %.4f\n", v->action_accuracy, v->action_baseline, v->category_accuracy,
               v->propensity_log_loss);
    if (v->sentiment_samples > 0)
        printf("  sentiment accuracy %.4f\n", v->sentiment_accuracy);
}

/* Creates the model, trains it and writes it. Returns the exit status. */
static int train_and_save(struct train_options *o, const struct train_events_data *data,
                          const struct tokenizer *tok, char *error)
{
    struct train_model model;
    struct train_events_session session;
    struct train_events_metrics final;
    int tty = isatty(STDERR_FILENO), status = 1;

    o->loop.progress = on_progress;
    o->loop.progress_user = &tty;
    if (train_model_create(&model, &o->model, o->loop.batch_size, o->model.max_len, o->data.offer_items + 1,
                           o->loop.seed, error) != 0)
        return 1;
    model.dropout = o->dropout;
    if (train_model_set_loss_threads(&model, o->threads) != 0) {
        snprintf(error, MODEL_ERROR_SIZE, "out of memory for %d loss threads", o->threads);
        train_model_free(&model);
        return 1;
    }
    if (train_events_session_init(&session, &model, data, tok, &o->loop, &o->optim, error) != 0) {
        train_model_free(&model);
        return 1;
    }
    if (o->resume && access(o->checkpoint, F_OK) == 0) {
        if (train_events_session_resume(&session, o->checkpoint, error) != 0)
            goto done;
        fprintf(stderr, "resumed from %s at epoch %d, update %ld\n", o->checkpoint, session.core.epoch + 1,
                session.core.opt.step);
    }
    fprintf(stderr, "training %zu parameters on %ld samples, %ld updates per epoch\n", model.params.count,
            data->n_train, session.batches_per_epoch);

    if (train_events_session_run(&session, error) != 0 ||
        train_events_evaluate(&model, data, tok, o->loop.eval_max_samples, &final, error) != 0 ||
        train_events_save(&model, tok, o->out, error) != 0)
        goto done;
    if (tty)
        fprintf(stderr, "\n");
    print_summary(o, tok, &session, &final);
    status = 0;
done:
    train_events_session_free(&session);
    train_model_free(&model);
    return status;
}

int cmd_train(int argc, char **argv)
{
    struct train_options o;
    struct train_input_log log;
    struct train_events_data data = {0};
    struct tokenizer *tok = NULL;
    char error[MODEL_ERROR_SIZE] = "";
    int status = parse_options(&o, argc, argv);

    if (status != 0)
        return status == 1 ? 0 : 2;
    /* The loss splits its large products over its own threads; OpenBLAS
     * threads on top of them would contend for the same cores. */
    model_blas_set_threads(1);
    train_input_init(&log);
    status = prepare_data(&o, &log, &data, &tok, error) != 0 ? 1 : train_and_save(&o, &data, tok, error);
    if (status != 0)
        fprintf(stderr, "intentd train: %s\n", error);
    if (tok)
        tokenizer_free(tok);
    train_events_data_free(&data);
    train_input_free(&log);
    return status;
}
