#include "metrics_render.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_event.h"
#include "offer_policy.h"

/* Growing output buffer; failed is set once an allocation failed and every
 * later append is ignored. */
struct text {
    char *data;
    size_t len, capacity;
    int failed;
};

static void text_printf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_printf(struct text *t, const char *fmt, ...)
{
    for (int attempt = 0; attempt < 2 && !t->failed; attempt++) {
        va_list args;
        va_start(args, fmt);
        int n = vsnprintf(t->data ? t->data + t->len : NULL, t->data ? t->capacity - t->len : 0, fmt, args);
        va_end(args);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if (t->data && t->len + (size_t)n < t->capacity) {
            t->len += (size_t)n;
            return;
        }
        size_t capacity = t->capacity ? t->capacity : 8192;
        while (capacity <= t->len + (size_t)n)
            capacity *= 2;
        char *grown = realloc(t->data, capacity);
        if (!grown) {
            t->failed = 1;
            return;
        }
        t->data = grown;
        t->capacity = capacity;
    }
}

char *metrics_escape_label(const char *value, char *out, size_t size)
{
    size_t j = 0;
    for (const char *p = value ? value : ""; *p && j + 2 < size; p++) {
        if (*p == '\\' || *p == '"') {
            out[j++] = '\\';
            out[j++] = *p;
        } else if (*p == '\n') {
            out[j++] = '\\';
            out[j++] = 'n';
        } else {
            out[j++] = *p;
        }
    }
    out[j] = '\0';
    return out;
}

static void family(struct text *t, const char *name, const char *type, const char *help)
{
    text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void histogram(struct text *t, const char *name, const char *help, const struct app_histogram *h,
                      const double *bounds)
{
    family(t, name, "histogram", help);
    for (int i = 0; i < APP_LATENCY_BUCKETS; i++)
        text_printf(t, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)h->counts[i]);
    text_printf(t, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
    text_printf(t, "%s_sum %.9g\n%s_count %llu\n", name, h->sum, name, (unsigned long long)h->count);
}

static void render_inputs(struct text *t, const struct metrics_snapshot *s)
{
    char label[METRICS_NAME_SIZE * 2];

    family(t, "intentd_events_consumed_total", "counter", "Input records consumed, tombstones included, by topic.");
    for (int i = 0; i < 3; i++) {
        if (s->input_topics[i])
            text_printf(t, "intentd_events_consumed_total{topic=\"%s\"} %llu\n",
                        metrics_escape_label(s->input_topics[i], label, sizeof label),
                        (unsigned long long)s->counters.records[i]);
    }
    family(t, "intentd_dead_letters_total", "counter", "Input records sent to the dead-letter topic, by reason.");
    for (int r = APP_DLQ_NONE + 1; r < APP_DLQ_REASON_COUNT; r++)
        text_printf(t, "intentd_dead_letters_total{reason=\"%s\"} %llu\n", app_dead_letter_reason_name(r),
                    (unsigned long long)s->counters.dead_letters[r]);
}

static void render_outputs(struct text *t, const struct metrics_snapshot *s)
{
    char label[METRICS_NAME_SIZE * 2];

    family(t, "intentd_intents_written_total", "counter", "UserIntent records produced.");
    text_printf(t, "intentd_intents_written_total %llu\n", (unsigned long long)s->counters.intents);
    family(t, "intentd_intents_suppressed_total", "counter", "Intents computed but not produced because of intents.emit.");
    text_printf(t, "intentd_intents_suppressed_total %llu\n", (unsigned long long)s->counters.intents_suppressed);
    family(t, "intentd_kv_cache_hits_total", "counter",
           "Users encoded incrementally from their key/value cache (a stale cache is rebuilt and counted too).");
    text_printf(t, "intentd_kv_cache_hits_total %llu\n", (unsigned long long)s->counters.kv_cache_hits);
    family(t, "intentd_kv_cache_builds_total", "counter", "Key/value caches built for returning users.");
    text_printf(t, "intentd_kv_cache_builds_total %llu\n", (unsigned long long)s->counters.kv_cache_builds);
    family(t, "intentd_offers_total", "counter", "Offer decisions by trigger rule and outcome.");
    for (int r = 0; r < s->n_rules && r < APP_MAX_RULES; r++) {
        metrics_escape_label(s->rule_names[r], label, sizeof label);
        for (int o = 0; o < OFFER_OUTCOME_COUNT; o++)
            text_printf(t, "intentd_offers_total{rule=\"%s\",outcome=\"%s\"} %llu\n", label, offer_outcome_name(o),
                        (unsigned long long)s->counters.offers[r][o]);
    }
    histogram(t, "intentd_batch_size_records", "Input records per committed batch.", &s->counters.batch_records,
              app_batch_size_bounds);
    histogram(t, "intentd_batch_size_users", "Users updated per committed batch.", &s->counters.batch_users,
              app_batch_size_bounds);
    histogram(t, "intentd_model_latency_seconds", "Time of one batched model inference.", &s->counters.model_seconds,
              app_latency_bounds);
    histogram(t, "intentd_end_to_end_latency_seconds", "Event time to intent produce.",
              &s->counters.end_to_end_seconds, app_latency_bounds);
}

static void render_state(struct text *t, const struct metrics_snapshot *s)
{
    family(t, "intentd_state_users", "gauge", "Users held in memory.");
    text_printf(t, "intentd_state_users %zu\n", s->store.users);
    family(t, "intentd_state_bytes", "gauge", "Bytes of user state held in memory.");
    text_printf(t, "intentd_state_bytes %zu\n", s->store.bytes);
    family(t, "intentd_restore_seconds_total", "counter", "Time spent restoring state from the changelog.");
    text_printf(t, "intentd_restore_seconds_total %.6f\n", s->counters.restore_seconds);
    family(t, "intentd_restored_users_total", "counter", "Users restored from the changelog.");
    text_printf(t, "intentd_restored_users_total %llu\n", (unsigned long long)s->counters.restored_users);
    family(t, "intentd_tasks", "gauge", "Assigned tasks (partitions) by state.");
    text_printf(t, "intentd_tasks{state=\"active\"} %d\nintentd_tasks{state=\"restoring\"} %d\n", s->loop.active_tasks,
                s->loop.restoring_tasks);
    family(t, "intentd_consumer_lag", "gauge",
           "Records between the consumer position and the end of each assigned input partition.");
    for (int i = 0; i < s->lag.count; i++) {
        char label[METRICS_NAME_SIZE * 2];
        text_printf(t, "intentd_consumer_lag{topic=\"%s\",partition=\"%d\"} %lld\n",
                    metrics_escape_label(s->lag.entries[i].topic, label, sizeof label),
                    (int)s->lag.entries[i].partition, (long long)s->lag.entries[i].lag);
    }
    family(t, "intentd_transactions_total", "counter", "Kafka transactions by result.");
    text_printf(t, "intentd_transactions_total{result=\"committed\"} %lld\n",
                (long long)s->loop.transactions_committed);
    text_printf(t, "intentd_transactions_total{result=\"aborted\"} %lld\n", (long long)s->loop.transactions_aborted);
}

/* Partitions paused because the schema registry did not respond. */
static void render_registry(struct text *t, const struct metrics_snapshot *s)
{
    if (!s->has_registry)
        return;
    family(t, "intentd_schema_registry_pauses_total", "counter",
           "Times an input partition was paused because the schema registry was unavailable.");
    text_printf(t, "intentd_schema_registry_pauses_total %llu\n", (unsigned long long)s->registry.pauses);
    family(t, "intentd_schema_registry_retries_total", "counter",
           "Registry lookups for a paused partition that found the registry still unavailable.");
    text_printf(t, "intentd_schema_registry_retries_total %llu\n", (unsigned long long)s->registry.retries);
    family(t, "intentd_schema_registry_paused_partitions", "gauge",
           "Input partitions paused now until the schema registry answers.");
    text_printf(t, "intentd_schema_registry_paused_partitions %d\n", s->registry.paused_partitions);
}

static void render_process(struct text *t, const struct metrics_snapshot *s)
{
    char label[MODEL_BUNDLE_VERSION_SIZE * 2];

    family(t, "intentd_model_info", "gauge", "The model version being served.");
    text_printf(t, "intentd_model_info{version=\"%s\"} 1\n",
                metrics_escape_label(s->model_version, label, sizeof label));
    family(t, "intentd_model_reload_total", "counter", "Model reload attempts by result.");
    text_printf(t, "intentd_model_reload_total{result=\"ok\"} %llu\n",
                (unsigned long long)s->reloads[METRICS_RELOAD_OK]);
    text_printf(t, "intentd_model_reload_total{result=\"failed\"} %llu\n",
                (unsigned long long)s->reloads[METRICS_RELOAD_FAILED]);
    family(t, "intentd_process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch.");
    text_printf(t, "intentd_process_start_time_seconds %.3f\n", s->start_time_s);
}

int metrics_render(const struct metrics_snapshot *snapshot, char **out, size_t *len)
{
    struct text t = {0};

    render_inputs(&t, snapshot);
    render_outputs(&t, snapshot);
    render_state(&t, snapshot);
    render_registry(&t, snapshot);
    render_process(&t, snapshot);
    if (t.failed || !t.data) {
        free(t.data);
        return -1;
    }
    *out = t.data;
    *len = t.len;
    return 0;
}
