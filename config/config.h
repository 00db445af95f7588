/*
 * The intentd configuration: one YAML file, loaded with libyaml into
 * struct intentd_config. Every key has a default (config/README.md lists them),
 * so an empty file is a valid config.
 *
 * Units: every duration field ends in _ms and is in milliseconds. Percentages
 * are 0..100, and size fields name their unit (_bytes, _mb).
 * Ownership: every string and array in the struct is heap memory owned by the
 * struct and released by config_free(). Strings are never NULL after a
 * successful load; an empty string means "not set" where a key is optional.
 * Thread safety: a loaded config is read-only and may be shared by threads.
 */
#ifndef INTENTD_CONFIG_H
#define INTENTD_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One librdkafka property, passed to rd_kafka_conf_set() unchanged. secret is
 * 1 when the key names a credential (password, secret, token, private key,
 * JAAS config); its value must never be logged or printed. */
struct config_property {
    char *key;
    char *value;
    int secret;
};

/* The first errors of a failed load, one per line, each as
 * "FILE:LINE:COLUMN: key.path: what is wrong". */
struct config_error {
    char message[1024];
};

enum config_schema_source {
    CONFIG_SCHEMA_LOCAL = 0,    /* the .avsc catalogue in schemas.local_dir */
    CONFIG_SCHEMA_REGISTRY = 1, /* a Confluent schema registry at schemas.registry_url */
};

enum config_schema_format {
    CONFIG_FORMAT_AVRO = 0, /* Confluent wire format: magic byte 0, schema id, Avro body */
    CONFIG_FORMAT_JSON = 1, /* one JSON object per record, read through schemas.json */
};

/* User actions, as trigger rules and the JSON action mapping name them. */
enum config_action {
    CONFIG_ACTION_VIEW = 0,
    CONFIG_ACTION_CLICK,
    CONFIG_ACTION_FAVOURITE,
    CONFIG_ACTION_CART,
    CONFIG_ACTION_PURCHASE,
    CONFIG_ACTION_SEARCH,
    CONFIG_ACTION_REVIEW,
    CONFIG_ACTION_COUNT
};

enum config_emit_mode {
    CONFIG_EMIT_EVERY_UPDATE = 0, /* one UserIntent per processed user per batch */
    CONFIG_EMIT_ON_CHANGE = 1,    /* only when propensity or top categories changed by min_change */
    CONFIG_EMIT_INTERVAL = 2,     /* at most one per user per intents.interval_ms */
    CONFIG_EMIT_ON_MOVE = 3,      /* only when the embedding moved more than min_move from the last one sent */
};

enum config_consent_default {
    CONFIG_CONSENT_DENY = 0,  /* a user with no consent record gets no offer */
    CONFIG_CONSENT_GRANT = 1, /* a user with no consent record may get offers */
};

enum config_processing_guarantee {
    CONFIG_EXACTLY_ONCE = 0,  /* one Kafka transaction per batch (needs transactional_id) */
    CONFIG_AT_LEAST_ONCE = 1, /* plain produce, then commit offsets */
};

/* Locations of the logical fields in a JSON input record. Each value is a
 * dotted path of object member names ("user.id"), and "" means that the
 * records have no such field. */
struct config_json_fields {
    char *user_id;
    char *item_id;
    char *category_id;
    char *action;
    char *timestamp;
    char *query;    /* search query text of a clickstream event */
    char *text;     /* review text */
    char *rating;   /* review rating 1..5 */
    char *consent;  /* consent record: marketing consent, boolean */
    char *opt_out;  /* consent record: opted out of personalised offers, boolean */
    int timestamp_in_seconds;           /* 1: Unix seconds, 0: Unix milliseconds */
    char *action_values[CONFIG_ACTION_COUNT]; /* the input's string for each action */
};

enum config_condition_kind {
    /* when: {event: cart, no: purchase, within: 30m}: the user did `event` and,
     * if `no` is set, did not do `no` within `within` after it. */
    CONFIG_COND_EVENT = 0,
    /* when: {propensity_above: 0.8, category: any} */
    CONFIG_COND_PROPENSITY_ABOVE = 1,
    /* when: {review_rating_at_most: 2} */
    CONFIG_COND_REVIEW_RATING_AT_MOST = 2,
};

/* A trigger condition, already parsed: the processor switches on kind and
 * reads only the fields that kind documents. */
struct config_condition {
    enum config_condition_kind kind;
    enum config_action event;  /* EVENT: the action that starts the rule */
    int has_absent;            /* EVENT: 1 if `no` was given */
    enum config_action absent; /* EVENT: the action that must not follow */
    int64_t within_ms;         /* EVENT with `no`: how long to wait for it */
    double propensity;         /* PROPENSITY_ABOVE: threshold, 0..1 */
    char *category;            /* PROPENSITY_ABOVE: category id, "" for any */
    int rating;                /* REVIEW_RATING_AT_MOST: 1..5 */
};

/* One offer text in one language. text is UTF-8 and may contain the
 * placeholders {items} (the generated bundle), {item1} (its first item),
 * {category}, {discount}, {user}, {expiry} and {rule}. */
struct config_template {
    char *language;
    char *text;
};

struct config_trigger {
    char *name;
    struct config_condition when;
    int64_t cooldown_ms;      /* minimum time between two offers of this rule to one user */
    int max_offers;           /* frequency cap: offers of this rule per user per window */
    int64_t per_window_ms;    /* the frequency cap's window */
    double holdout_percent;   /* users held out (offer recorded, not sent); offers.holdout_percent if unset */
    struct config_template *templates;
    size_t n_templates;
    double discount_percent;
    int64_t expiry_ms;        /* offer validity after it is sent */
    int beam_width;           /* decoder beam width; 1 is greedy decoding */
    int max_items;            /* items in the generated bundle */
    int min_items;            /* the decoder may not end the bundle before this many items */
};

struct intentd_config {
    struct {
        char *bootstrap_servers;
        char *client_id;
        char *group_id;
        char *transactional_id;
        struct config_property *properties;
        size_t n_properties;
        enum config_processing_guarantee processing_guarantee;
    } kafka;
    struct {
        char *clickstream, *reviews, *intents, *offers, *consents, *changelog, *dead_letter;
        int partitions;
        int replication_factor;
    } topics;
    struct {
        enum config_schema_source source;
        char *local_dir;
        char *registry_url;
        char *registry_auth; /* "user:password" for HTTP basic auth, secret; "" for none */
        enum config_schema_format format;
        struct config_json_fields json;
        size_t max_text_bytes; /* longer review or query text sends the event to the dead-letter topic */
    } schemas;
    struct {
        char *path;    /* safetensors weights */
        char *version; /* label written into every UserIntent; "" means taken from the weights file */
        int encoder_threads;
    } model;
    struct {
        int max_events;
        int64_t max_wait_ms;
    } batching;
    struct {
        int max_len;             /* tokens kept per user */
        int64_t idle_expiry_ms;  /* users idle this long are dropped (tombstone in the changelog) */
        int64_t memory_budget_mb;
        int64_t kv_cache_budget_mb;
    } state;
    struct {
        enum config_emit_mode emit;
        double min_change;     /* on_change: smallest propensity change that emits, 0..1 */
        double min_move;       /* on_move: cosine distance to the last emitted embedding that must be exceeded, 0..2 */
        int64_t interval_ms;   /* interval: time between two intents of one user */
        int top_k;             /* categories and items listed per intent */
    } intents;
    struct config_trigger *triggers;
    size_t n_triggers;
    struct {
        int enabled;                    /* 0: compute intents but send no offers */
        char *language;                 /* template language used for every offer */
        double global_rate_limit_per_s; /* offers per second over all rules; 0 for no limit */
        double holdout_percent;         /* default for rules that set none */
        enum config_consent_default consent_default;
    } offers;
    struct {
        int port;      /* 0 disables the endpoint */
        char *bind;    /* address to listen on */
    } metrics;
    struct {
        char *level;   /* debug, info, warn or error */
    } log;
};

/* Loads and validates the YAML file at path into *cfg. On success returns 0
 * and *cfg owns its memory (release with config_free). On failure returns -1,
 * leaves *cfg zeroed and fills err with the errors found. */
int config_load(const char *path, struct intentd_config *cfg, struct config_error *err);

/* Same as config_load, from a memory buffer of len bytes (need not end in
 * NUL). name is the file name used in error messages. */
int config_load_buffer(const char *data, size_t len, const char *name,
                       struct intentd_config *cfg, struct config_error *err);

/* Fills *cfg with the defaults, as loading an empty file does. Returns 0, or
 * -1 if out of memory. */
int config_defaults(struct intentd_config *cfg, struct config_error *err);

/* Releases everything *cfg owns and zeroes it. Safe on a zeroed struct. */
void config_free(struct intentd_config *cfg);

/* Writes *cfg as YAML that config_load accepts, with every secret value
 * replaced by "********". Returns 0, or -1 on a write error. */
int config_print(FILE *out, const struct intentd_config *cfg);

/* Returns 1 if a librdkafka property name names a credential. */
int config_property_is_secret(const char *key);

/* Names of enum values, as written in the YAML. */
const char *config_action_name(enum config_action action);
const char *config_emit_name(enum config_emit_mode mode);

#endif
