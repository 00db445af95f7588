/*
 * Helper of tests/bench/bench_e2e: the measurements that need a Kafka client
 * or the state store in process. One sub-command per step; each prints one
 * "key=value ..." line on stdout and progress on stderr.
 *
 *   load BOOTSTRAP TOPIC N            produce N Taobao clicks (copies of the
 *                                     sample, user ids suffixed per copy)
 *   watch BOOTSTRAP GROUP TOPIC PID   wait until GROUP has committed TOPIC to
 *                                     its end; rate and CPU of process PID
 *                                     from the first commit on
 *   latency BOOTSTRAP CLICK INTENTS RATE SECONDS
 *                                     live clicks stamped with the wall time;
 *                                     intent receive time minus event time
 *   bytes USERS [EMBEDDING_DIM]       state store bytes per user, each with
 *                                     a stored embedding of EMBEDDING_DIM
 *                                     components (default 64: on_move with
 *                                     the default model; 0: other policies)
 *   changelog BOOTSTRAP TOPIC PARTITIONS USERS
 *                                     write USERS encoded user states
 *   passthrough BOOTSTRAP IN OUT N [PROPS]
 *                                     stream loop copying N records, EOS;
 *                                     PROPS "name=value,..." for its clients
 *   raw BOOTSTRAP IN OUT N            plain librdkafka consume + produce
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "codec.h"
#include "codec_events.h"
#include "state_codec.h"
#include "state_embedding.h"
#include "state_store.h"
#include "stream_loop.h"

#define SAMPLE INTENTD_DATA_DIR "/taobao_user_behavior_sample.csv"

static void die(const char *fmt, const char *detail)
{
    fprintf(stderr, "bench_e2e_tool: ");
    fprintf(stderr, fmt, detail);
    fprintf(stderr, "\n");
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char errstr[256];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        die("config: %s", errstr);
}

static rd_kafka_conf_t *base_conf(const char *bootstrap)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", bootstrap);
    return conf;
}

static rd_kafka_t *new_client(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char errstr[256];
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    if (!rk)
        die("rd_kafka_new: %s", errstr);
    return rk;
}

static rd_kafka_t *new_producer(const char *bootstrap)
{
    rd_kafka_conf_t *conf = base_conf(bootstrap);
    set(conf, "enable.idempotence", "true");
    set(conf, "linger.ms", "5");
    set(conf, "partitioner", "murmur2_random");
    return new_client(RD_KAFKA_PRODUCER, conf);
}

static void produce(rd_kafka_t *rk, const char *topic, int32_t partition, const void *key, size_t key_len,
                    const void *value, size_t len)
{
    rd_kafka_resp_err_t err;
    while ((err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                    RD_KAFKA_V_KEY((void *)key, key_len), RD_KAFKA_V_VALUE((void *)value, len),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(rk, 10);
    if (err)
        die("produce: %s", rd_kafka_err2str(err));
    rd_kafka_poll(rk, 0);
}

static void flush(rd_kafka_t *rk)
{
    if (rd_kafka_flush(rk, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        die("flush: %s", "records left undelivered after 120 s");
}

/* The Taobao sample, one click per line. */
struct click {
    char user[24], item[24], category[24];
    codec_action_t action;
    int64_t ms;
};

static struct click *read_sample(size_t *count)
{
    FILE *f = fopen(SAMPLE, "r");
    if (!f)
        die("cannot open %s", SAMPLE);
    size_t cap = 131072, n = 0;
    struct click *out = malloc(cap * sizeof *out);
    char line[256], behavior[16];
    long long ts;
    while (out && fgets(line, sizeof line, f)) {
        if (n == cap && !(out = realloc(out, (cap *= 2) * sizeof *out)))
            break;
        struct click *c = &out[n];
        if (sscanf(line, "%23[^,],%23[^,],%23[^,],%15[^,],%lld", c->user, c->item, c->category, behavior, &ts) != 5)
            continue;
        c->action = !strcmp(behavior, "pv")     ? CODEC_ACTION_VIEW
                    : !strcmp(behavior, "fav")  ? CODEC_ACTION_FAVOURITE
                    : !strcmp(behavior, "cart") ? CODEC_ACTION_ADD_TO_CART
                                                : CODEC_ACTION_PURCHASE;
        c->ms = ts * 1000;
        n++;
    }
    fclose(f);
    if (!out)
        die("out of memory reading %s", SAMPLE);
    *count = n;
    return out;
}

static codec_t *open_codec(void)
{
    codec_t *codec;
    codec_error_t err;
    if (codec_open(INTENTD_SOURCE_DIR "/schemas/catalogue.json", &codec, &err) != CODEC_OK)
        die("codec_open: %s", err.message);
    return codec;
}

/* Encodes click c for copy k (user id suffixed "-k" for k > 0) at time ms. */
static void produce_click(rd_kafka_t *rk, codec_t *codec, const char *topic, const struct click *c, size_t k,
                          int64_t ms)
{
    char user[48];
    if (k)
        snprintf(user, sizeof user, "%s-%zu", c->user, k);
    else
        snprintf(user, sizeof user, "%s", c->user);
    codec_click_event_t event = {
        .user_id = user,
        .item_id = (char *)c->item,
        .category_id = (char *)c->category,
        .action = c->action,
        .timestamp_ms = ms,
        .consent = CODEC_CONSENT_GIVEN,
    };
    uint8_t *frame;
    size_t len;
    codec_error_t err;
    if (codec_encode_click(codec, &event, &frame, &len, &err) != CODEC_OK)
        die("encode click: %s", err.message);
    produce(rk, topic, RD_KAFKA_PARTITION_UA, user, strlen(user), frame, len);
    free(frame);
}

static int cmd_load(const char *bootstrap, const char *topic, size_t n)
{
    size_t count;
    struct click *sample = read_sample(&count);
    codec_t *codec = open_codec();
    rd_kafka_t *rk = new_producer(bootstrap);
    double start = now_s();
    for (size_t i = 0; i < n; i++) {
        const struct click *c = &sample[i % count];
        produce_click(rk, codec, topic, c, i / count, c->ms);
        if (i % 100000 == 0)
            fprintf(stderr, "load: %zu/%zu events\n", i, n);
    }
    flush(rk);
    printf("load events=%zu seconds=%.2f\n", n, now_s() - start);
    rd_kafka_destroy(rk);
    codec_close(codec);
    free(sample);
    return 0;
}

/* Sum over partitions of end offset minus the group's committed offset. */
static int64_t group_lag(rd_kafka_t *rk, const char *topic, int partitions)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(list, topic, p);
    int64_t lag = -1;
    if (rd_kafka_committed(rk, list, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        lag = 0;
        for (int p = 0; p < partitions && lag >= 0; p++) {
            int64_t low, high;
            if (rd_kafka_query_watermark_offsets(rk, topic, p, &low, &high, 10000))
                lag = -1;
            else
                lag += high - (list->elems[p].offset >= 0 ? list->elems[p].offset : low);
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
    return lag;
}

/* utime + stime of pid in seconds. */
static double process_cpu_s(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1.0;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long utime = 0, stime = 0;
    /* fields after ')': state(3) ... utime is field 14, stime 15 */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return -1.0;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static int cmd_watch(const char *bootstrap, const char *group, const char *topic, int partitions, long pid)
{
    rd_kafka_conf_t *conf = base_conf(bootstrap);
    set(conf, "group.id", group);
    rd_kafka_t *rk = new_client(RD_KAFKA_CONSUMER, conf);
    double start = now_s(), first = -1, cpu_first = 0, last_report = start;
    int64_t total = -1, lag_first = 0, lag;
    for (;;) {
        lag = group_lag(rk, topic, partitions);
        double t = now_s();
        if (total < 0 && lag > 0)
            total = lag;
        if (first < 0 && total > 0 && lag >= 0 && lag < total) {
            first = t;
            lag_first = lag;
            cpu_first = process_cpu_s(pid);
        }
        if (lag == 0 && total > 0)
            break;
        if (t - last_report > 10) {
            fprintf(stderr, "watch: lag %lld after %.0f s\n", (long long)lag, t - start);
            last_report = t;
        }
        if (t - start > 1800 || kill((pid_t)pid, 0) != 0)
            die("watch: %s", "intentd did not catch up within 1800 s or exited");
        usleep(100000);
    }
    double end = now_s(), cpu_end = process_cpu_s(pid);
    double events = (double)lag_first;
    printf("watch events=%lld startup_s=%.2f caught_up_s=%.2f events_counted=%.0f events_per_s=%.0f "
           "cpu_s=%.2f events_per_cpu_s=%.0f cpu_s_per_million=%.2f\n",
           (long long)total, first - start, end - first, events, events / (end - first), cpu_end - cpu_first,
           events / (cpu_end - cpu_first), (cpu_end - cpu_first) / events * 1e6);
    rd_kafka_destroy(rk);
    return 0;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static rd_kafka_t *tail_consumer(const char *bootstrap, const char *topic)
{
    rd_kafka_conf_t *conf = base_conf(bootstrap);
    set(conf, "group.id", "bench-e2e-latency");
    set(conf, "isolation.level", "read_committed");
    set(conf, "fetch.wait.max.ms", "10");
    rd_kafka_t *rk = new_client(RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(rk);
    const rd_kafka_metadata_t *md;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    if (rd_kafka_metadata(rk, 0, t, &md, 10000) || md->topic_cnt != 1)
        die("metadata of %s failed", topic);
    int n = md->topics[0].partition_cnt;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; p++)
        rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_END;
    rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    return rk;
}

/* Reads intents for up to wait_ms; appends latencies of those newer than since_ms. */
static void drain_intents(rd_kafka_t *rk, codec_t *codec, int wait_ms, int64_t since_ms, double *lat, size_t *n,
                          size_t cap)
{
    double until = now_s() + wait_ms / 1000.0;
    do {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 1);
        if (!m)
            continue;
        int64_t received = wall_ms();
        codec_user_intent_t intent;
        codec_error_t err;
        if (!m->err && m->payload &&
            codec_decode_intent(codec, m->payload, m->len, &intent, &err) == CODEC_OK) {
            if (intent.updated_at_ms >= since_ms && *n < cap) {
                lat[(*n)++] = (double)(received - intent.updated_at_ms);
                if (getenv("E2E_TRACE")) /* one line per intent: event time, latency */
                    fprintf(stderr, "trace %lld %lld\n", (long long)intent.updated_at_ms,
                            (long long)(received - intent.updated_at_ms));
            }
            codec_intent_clear(&intent);
        }
        rd_kafka_message_destroy(m);
    } while (now_s() < until);
}

static int cmd_latency(const char *bootstrap, const char *click_topic, const char *intents_topic, double rate,
                       double seconds)
{
    size_t count;
    struct click *sample = read_sample(&count);
    codec_t *codec = open_codec();
    rd_kafka_t *consumer = tail_consumer(bootstrap, intents_topic);
    drain_intents(consumer, codec, 2000, INT64_MAX, NULL, &(size_t){0}, 0);
    rd_kafka_t *producer = new_producer(bootstrap);
    size_t total = (size_t)(rate * seconds), cap = total * 2 + 1024, n = 0;
    double *lat = malloc(cap * sizeof *lat);
    int64_t since = wall_ms();
    double start = now_s();
    for (size_t i = 0; i < total; i++) {
        double due = start + (double)i / rate;
        while (now_s() < due)
            drain_intents(consumer, codec, 0, since, lat, &n, cap);
        /* copy 1000 + i / count: users unseen by the throughput run */
        produce_click(producer, codec, click_topic, &sample[i % count], 1000 + i / count, wall_ms());
    }
    double sent_s = now_s() - start;
    flush(producer);
    drain_intents(consumer, codec, 3000, since, lat, &n, cap);
    qsort(lat, n, sizeof *lat, compare_double);
    double p50 = n ? lat[n / 2] : -1, p99 = n ? lat[(size_t)(0.99 * (double)(n - 1))] : -1, max = n ? lat[n - 1] : -1;
    printf("latency rate=%.0f sent=%zu send_s=%.2f intents=%zu p50_ms=%.0f p99_ms=%.0f max_ms=%.0f\n", rate, total,
           sent_s, n, p50, p99, max);
    free(lat);
    rd_kafka_destroy(producer);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    codec_close(codec);
    free(sample);
    return 0;
}

/* Resident pages of this process, in bytes. */
static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long total = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &total, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* Fills store with n users, each with a full ring of max_len tokens, 4
 * purchases, one action time, two rule entries and, if the store keeps
 * embeddings, a stored embedding (as test_state_scale). */
static void fill_users(struct state_store *store, size_t n, int max_len)
{
    char id[24], error[STATE_ERROR_SIZE];
    int32_t tokens[4096];
    float embedding[STATE_EMBEDDING_DIM_MAX];
    int embedding_dim = state_store_embedding_dim(store);
    int created;
    for (size_t i = 0; i < n; i++) {
        size_t len = (size_t)snprintf(id, sizeof id, "u%09zu", i);
        struct state_user *user = state_store_upsert(store, id, len, (int32_t)(i % 6), &created, error);
        if (!user)
            die("upsert: %s", error);
        for (int t = 0; t < max_len; t++)
            tokens[t] = (int32_t)((i + (size_t)t) % 4000 + 4);
        state_store_push_tokens(store, user, tokens, (size_t)max_len);
        for (int32_t p = 0; p < 4; p++)
            state_user_add_purchase(user, (int32_t)i + p);
        user->last_event_ms = (int64_t)i;
        user->last_action_ms[0] = (int64_t)i;
        user->consent = STATE_CONSENT_GRANTED;
        state_user_claim_rule(user, 1)->last_offer_ms = (int64_t)i;
        state_user_claim_rule(user, 2)->offers_in_window = 1;
        if (embedding_dim > 0) {
            for (int d = 0; d < embedding_dim; d++)
                embedding[d] = (float)((i + (size_t)d) % 13) - 6.0f;
            state_embedding_store(state_store_embedding(store, user), embedding, embedding_dim);
        }
    }
}

static struct state_store *new_store(int max_len, int embedding_dim)
{
    struct state_store_options options;
    char error[STATE_ERROR_SIZE];
    state_store_options_defaults(&options);
    options.max_len = max_len;
    options.embedding_dim = embedding_dim;
    struct state_store *store = state_store_new(&options, error);
    if (!store)
        die("state_store_new: %s", error);
    return store;
}

static int cmd_bytes(size_t n, int embedding_dim)
{
    size_t rss_before = rss_bytes();
    struct state_store *store = new_store(64, embedding_dim);
    fill_users(store, n, 64);
    size_t rss_after = rss_bytes();
    struct state_store_stats stats;
    state_store_get_stats(store, &stats);
    printf("bytes users=%zu embedding_dim=%d counted_per_user=%.1f allocated_per_user=%.1f rss_per_user=%.1f "
           "record_bytes=%zu\n", n, embedding_dim,
           (double)stats.bytes / (double)n, (double)stats.allocated_bytes / (double)n,
           (double)(rss_after - rss_before) / (double)n, stats.record_bytes);
    state_store_free(store);
    return 0;
}

struct encode_ctx {
    rd_kafka_t *rk;
    const char *topic;
    const struct state_store *store;
    size_t written;
    int partitions;
};

static int cmd_changelog(const char *bootstrap, const char *topic, int partitions, size_t n)
{
    struct state_store *store = new_store(64, 0);
    rd_kafka_conf_t *conf = base_conf(bootstrap);
    set(conf, "linger.ms", "20");
    set(conf, "batch.size", "1000000");
    set(conf, "compression.type", "lz4");
    rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, conf);
    char id[24], error[STATE_ERROR_SIZE];
    unsigned char buf[8192];
    double start = now_s();
    for (size_t i = 0; i < n; i++) {
        /* one user at a time keeps the store small: insert, encode, drop */
        size_t len = (size_t)snprintf(id, sizeof id, "u%09zu", i);
        int created;
        int32_t partition = (int32_t)(i % (size_t)partitions);
        struct state_user *user = state_store_upsert(store, id, len, partition, &created, error);
        if (!user)
            die("upsert: %s", error);
        int32_t tokens[64];
        for (int t = 0; t < 64; t++)
            tokens[t] = (int32_t)((i + (size_t)t) % 4000 + 4);
        state_store_push_tokens(store, user, tokens, 64);
        for (int32_t p = 0; p < 4; p++)
            state_user_add_purchase(user, (int32_t)i + p);
        user->last_event_ms = wall_ms();
        user->last_action_ms[0] = user->last_event_ms;
        user->consent = STATE_CONSENT_GRANTED;
        size_t size;
        if (state_codec_encode(store, user, buf, sizeof buf, &size, error) != 0)
            die("state_codec_encode: %s", error);
        produce(rk, topic, partition, id, len, buf, size);
        state_store_drop_partition(store, partition);
        if (i % 200000 == 0)
            fprintf(stderr, "changelog: %zu/%zu users\n", i, n);
    }
    flush(rk);
    printf("changelog users=%zu seconds=%.2f\n", n, now_s() - start);
    rd_kafka_destroy(rk);
    state_store_free(store);
    return 0;
}

/* Pass-through: the stream loop copies every driver record to OUT. */
struct copy {
    rd_kafka_t *producer;
    const char *out;
    struct stream_loop *loop;
    int64_t committed, pending, target;
    volatile sig_atomic_t stop;
};

static int copy_record(void *ctx, const rd_kafka_message_t *m)
{
    struct copy *c = ctx;
    if (!c->producer)
        c->producer = stream_loop_producer(c->loop);
    produce(c->producer, c->out, m->partition, m->key, m->key_len, m->payload, m->len);
    c->pending++;
    return 0;
}

static int copy_batch_end(void *ctx)
{
    (void)ctx;
    return 0;
}

static void copy_commit(void *ctx)
{
    struct copy *c = ctx;
    c->committed += c->pending;
    c->pending = 0;
    if (c->committed >= c->target)
        c->stop = 1;
}

static void copy_abort(void *ctx)
{
    ((struct copy *)ctx)->pending = 0;
}

static void copy_restore(void *ctx, const rd_kafka_message_t *m)
{
    (void)ctx;
    (void)m;
}

static void copy_ready(void *ctx, int32_t p, int64_t users, double seconds)
{
    (void)ctx;
    (void)p;
    (void)users;
    (void)seconds;
}

static void copy_revoked(void *ctx, int32_t p)
{
    (void)ctx;
    (void)p;
}

static void report_rate(const char *name, int64_t n, double wall, double cpu)
{
    printf("%s events=%lld seconds=%.2f events_per_s=%.0f events_per_cpu_s=%.0f\n", name, (long long)n, wall,
           (double)n / wall, (double)n / cpu);
}

static double self_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* props: NULL or "name=value,name=value" set on both clients of the loop. */
static void set_props(rd_kafka_conf_t *conf, const char *props)
{
    char copy[512];
    snprintf(copy, sizeof copy, "%s", props ? props : "");
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq)
            die("property without '=': %s", item);
        *eq = '\0';
        set(conf, item, eq + 1);
    }
}

static int cmd_passthrough(const char *bootstrap, const char *in, const char *out, int64_t n, const char *props)
{
    char error[STREAM_ERROR_SIZE];
    rd_kafka_conf_t *consumer = base_conf(bootstrap);
    char group[64];
    snprintf(group, sizeof group, "bench-pass-%ld", (long)getpid());
    set(consumer, "group.id", group);
    set(consumer, "auto.offset.reset", "earliest");
    rd_kafka_conf_t *producer = base_conf(bootstrap);
    set(producer, "transactional.id", group);
    set(producer, "linger.ms", "5");
    set_props(consumer, props);
    set_props(producer, props);
    struct copy c = {.out = out, .target = n};
    struct stream_loop_options options = {
        .driver_topic = in,
        .batch_max_events = 10000, /* intentd's batching.max_events and max_wait_ms defaults */
        .batch_max_wait_ms = 50,
        .transaction_timeout_ms = 30000,
    };
    struct stream_handlers handlers = {
        .ctx = &c, .on_record = copy_record, .on_batch_end = copy_batch_end, .on_commit = copy_commit,
        .on_abort = copy_abort, .on_restore_record = copy_restore, .on_task_ready = copy_ready,
        .on_task_revoked = copy_revoked,
    };
    double start = now_s(), cpu = self_cpu_s();
    if (stream_loop_create(&c.loop, consumer, producer, &options, &handlers, error) != 0)
        die("stream_loop_create: %s", error);
    if (stream_loop_run(c.loop, &c.stop, error) != 0)
        die("stream_loop_run: %s", error);
    report_rate("passthrough", c.committed, now_s() - start, self_cpu_s() - cpu);
    stream_loop_destroy(c.loop);
    return 0;
}

static int cmd_raw(const char *bootstrap, const char *in, const char *out, int64_t n)
{
    rd_kafka_conf_t *conf = base_conf(bootstrap);
    char group[64];
    snprintf(group, sizeof group, "bench-raw-%ld", (long)getpid());
    set(conf, "group.id", group);
    set(conf, "auto.offset.reset", "earliest");
    rd_kafka_t *consumer = new_client(RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(consumer);
    rd_kafka_conf_t *pconf = base_conf(bootstrap);
    set(pconf, "linger.ms", "5");
    rd_kafka_t *producer = new_client(RD_KAFKA_PRODUCER, pconf);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, in, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    double start = now_s(), cpu = self_cpu_s();
    int64_t copied = 0;
    while (copied < n && now_s() - start < 600) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 100);
        if (!m)
            continue;
        if (!m->err) {
            produce(producer, out, m->partition, m->key, m->key_len, m->payload, m->len);
            copied++;
        }
        rd_kafka_message_destroy(m);
    }
    flush(producer);
    rd_kafka_commit(consumer, NULL, 0);
    report_rate("raw", copied, now_s() - start, self_cpu_s() - cpu);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    rd_kafka_destroy(producer);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *cmd = argc > 1 ? argv[1] : "";
    if (!strcmp(cmd, "load") && argc == 5)
        return cmd_load(argv[2], argv[3], strtoull(argv[4], NULL, 10));
    if (!strcmp(cmd, "watch") && argc == 7)
        return cmd_watch(argv[2], argv[3], argv[4], atoi(argv[5]), atol(argv[6]));
    if (!strcmp(cmd, "latency") && argc == 7)
        return cmd_latency(argv[2], argv[3], argv[4], atof(argv[5]), atof(argv[6]));
    if (!strcmp(cmd, "bytes") && (argc == 3 || argc == 4))
        return cmd_bytes(strtoull(argv[2], NULL, 10), argc == 4 ? atoi(argv[3]) : 64);
    if (!strcmp(cmd, "changelog") && argc == 6)
        return cmd_changelog(argv[2], argv[3], atoi(argv[4]), strtoull(argv[5], NULL, 10));
    if (!strcmp(cmd, "passthrough") && (argc == 6 || argc == 7))
        return cmd_passthrough(argv[2], argv[3], argv[4], strtoll(argv[5], NULL, 10), argc == 7 ? argv[6] : NULL);
    if (!strcmp(cmd, "raw") && argc == 6)
        return cmd_raw(argv[2], argv[3], argv[4], strtoll(argv[5], NULL, 10));
    fprintf(stderr, "usage: see the comment at the top of tests/bench/bench_e2e_tool.c\n");
    return 2;
}
