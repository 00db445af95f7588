#include "state_codec.h"

#include "state_embedding.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void put_u16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint16_t get_u16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;

    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint32_t float_bits(float f)
{
    uint32_t bits;

    memcpy(&bits, &f, sizeof(bits));
    return bits;
}

static float bits_float(uint32_t bits)
{
    float f;

    memcpy(&f, &bits, sizeof(f));
    return f;
}

/* Returns the number of embedding components the user's record carries: the
 * store's embedding_dim if the user has a stored vector, else 0. */
static size_t embedding_dim_written(const struct state_store *store, const struct state_user *user)
{
    const struct state_embedding *slot = state_store_embedding(store, user);

    if (slot == NULL || !state_embedding_present(slot))
        return 0;
    return (size_t)state_store_embedding_dim(store);
}

/* Bytes of the embedding block for dim components: the scale, then the values. */
static size_t embedding_block_size(size_t dim)
{
    return dim > 0 ? 4 + dim : 0;
}

size_t state_codec_encoded_size(const struct state_store *store, const struct state_user *user)
{
    return STATE_CODEC_HEADER_SIZE + 8 * (size_t)STATE_ACTION_SLOTS + 4 * (size_t)user->token_count +
           4 * (size_t)user->purchase_count + STATE_CODEC_RULE_SIZE * (size_t)user->rule_count +
           embedding_block_size(embedding_dim_written(store, user));
}

static void encode_header(const struct state_user *user, size_t embedding_dim, unsigned char *out)
{
    out[0] = STATE_CODEC_MAGIC;
    /* Without an embedding the record is a valid version 1 record, which
     * an older build can still read during a rolling upgrade or rollback. */
    out[1] = embedding_dim > 0 ? STATE_CODEC_VERSION : 1;
    out[2] = user->consent;
    out[3] = (unsigned char)user->sentiment;
    put_u64(out + 4, (uint64_t)user->last_event_ms);
    put_u64(out + 12, (uint64_t)user->last_offer_ms);
    put_u64(out + 20, (uint64_t)user->last_intent_ms);
    put_u32(out + 28, float_bits(user->last_propensity));
    put_u32(out + 32, (uint32_t)user->last_top_category);
    put_u16(out + 36, user->token_count);
    out[38] = user->purchase_count;
    out[39] = user->rule_count;
    out[40] = STATE_ACTION_SLOTS;
    out[41] = 0;
    put_u16(out + 42, (uint16_t)embedding_dim);
}

int state_codec_encode(const struct state_store *store, const struct state_user *user,
                       unsigned char *out, size_t cap, size_t *len, char *error)
{
    size_t size = state_codec_encoded_size(store, user);
    size_t embedding_dim = embedding_dim_written(store, user);

    if (cap < size) {
        snprintf(error, STATE_ERROR_SIZE,
                 "state record of user %s needs %zu bytes but the buffer has %zu", user->id,
                 size, cap);
        return STATE_CODEC_NO_SPACE;
    }
    encode_header(user, embedding_dim, out);

    size_t max_len = (size_t)state_store_max_len(store);
    unsigned char *p = out + STATE_CODEC_HEADER_SIZE;
    for (size_t i = 0; i < STATE_ACTION_SLOTS; i++, p += 8)
        put_u64(p, (uint64_t)user->last_action_ms[i]);
    for (size_t i = 0; i < user->token_count; i++, p += 4)
        put_u32(p, (uint32_t)user->tokens[(user->token_head + i) % max_len]);
    for (size_t i = 0; i < user->purchase_count; i++, p += 4)
        put_u32(p, (uint32_t)user->purchases[(user->purchase_head + i) % STATE_PURCHASES_MAX]);
    for (size_t i = 0; i < user->rule_count; i++, p += STATE_CODEC_RULE_SIZE) {
        const struct state_rule_counters *rule = &user->rules[i];
        put_u32(p, rule->rule_hash);
        put_u32(p + 4, rule->offers_in_window);
        put_u64(p + 8, (uint64_t)rule->last_offer_ms);
        put_u64(p + 16, (uint64_t)rule->window_start_ms);
    }
    if (embedding_dim > 0) {
        const struct state_embedding *slot = state_store_embedding(store, user);
        put_u32(p, float_bits(slot->scale));
        memcpy(p + 4, slot->values, embedding_dim);
    }

    *len = size;
    return STATE_CODEC_OK;
}

/* Reads header bytes 41 to 43, whose meaning depends on the version. Version
 * 1 keeps all three at 0. Version 2 keeps byte 41 at 0 and stores
 * embedding_dim in bytes 42 and 43. */
static int decode_embedding_dim(const unsigned char *data, struct state_codec_view *view, char *error)
{
    if (view->version == 1) {
        view->embedding_dim = 0;
        if ((data[41] | data[42] | data[43]) != 0) {
            snprintf(error, STATE_ERROR_SIZE,
                     "invalid version 1 state record header: reserved bytes %02x%02x%02x (expected 0)", data[41],
                     data[42], data[43]);
            return STATE_CODEC_BAD_FIELD;
        }
        return STATE_CODEC_OK;
    }
    view->embedding_dim = get_u16(data + 42);
    if (data[41] != 0) {
        snprintf(error, STATE_ERROR_SIZE, "invalid state record header: reserved byte 41 is %02x (expected 0)",
                 data[41]);
        return STATE_CODEC_BAD_FIELD;
    }
    return STATE_CODEC_OK;
}

static int decode_fields(const unsigned char *data, struct state_codec_view *view, char *error)
{
    view->consent = data[2];
    view->sentiment = (int8_t)data[3];
    view->last_event_ms = (int64_t)get_u64(data + 4);
    view->last_offer_ms = (int64_t)get_u64(data + 12);
    view->last_intent_ms = (int64_t)get_u64(data + 20);
    view->last_propensity = bits_float(get_u32(data + 28));
    view->last_top_category = (int32_t)get_u32(data + 32);
    view->token_count = get_u16(data + 36);
    view->purchase_count = data[38];
    view->rule_count = data[39];
    view->action_count = data[40];

    if (view->consent > STATE_CONSENT_DENIED || view->sentiment < STATE_SENTIMENT_NONE ||
        !isfinite(view->last_propensity) || view->last_top_category < -1) {
        snprintf(error, STATE_ERROR_SIZE,
                 "invalid state record header: consent %u (expected 0 to 2), sentiment %d "
                 "(expected -1 or more), last_propensity %g (expected finite), "
                 "last_top_category %d (expected -1 or more)", view->consent, view->sentiment,
                 (double)view->last_propensity, view->last_top_category);
        return STATE_CODEC_BAD_FIELD;
    }
    if (view->purchase_count > STATE_PURCHASES_MAX || view->rule_count > STATE_RULE_SLOTS ||
        view->action_count > STATE_ACTION_SLOTS) {
        snprintf(error, STATE_ERROR_SIZE,
                 "invalid state record header: purchase_count %u (max %d), rule_count %u (max %d), "
                 "action_count %u (max %d)",
                 view->purchase_count, STATE_PURCHASES_MAX, view->rule_count, STATE_RULE_SLOTS,
                 view->action_count, STATE_ACTION_SLOTS);
        return STATE_CODEC_BAD_FIELD;
    }
    return decode_embedding_dim(data, view, error);
}

/* Reads the embedding block at p once the lengths are known to match. */
static int decode_embedding(const unsigned char *p, struct state_codec_view *view, char *error)
{
    view->embedding_scale = 0.0f;
    view->embedding = NULL;
    if (view->embedding_dim == 0)
        return STATE_CODEC_OK;

    view->embedding_scale = bits_float(get_u32(p));
    if (!isfinite(view->embedding_scale) || !(view->embedding_scale > 0.0f)) {
        snprintf(error, STATE_ERROR_SIZE,
                 "invalid state record embedding: scale %g with embedding_dim %u (expected a finite number above "
                 "0)", (double)view->embedding_scale, view->embedding_dim);
        return STATE_CODEC_BAD_FIELD;
    }
    view->embedding = p + 4;
    return STATE_CODEC_OK;
}

int state_codec_decode(const unsigned char *data, size_t len, struct state_codec_view *view,
                       char *error)
{
    if (data == NULL || len < STATE_CODEC_HEADER_SIZE) {
        snprintf(error, STATE_ERROR_SIZE,
                 "state record of %zu bytes is shorter than the %d-byte header", len,
                 STATE_CODEC_HEADER_SIZE);
        return STATE_CODEC_SHORT;
    }
    if (data[0] != STATE_CODEC_MAGIC) {
        snprintf(error, STATE_ERROR_SIZE,
                 "state record starts with byte 0x%02x, expected magic 0x%02x; the changelog "
                 "topic holds data that intentd did not write", data[0], STATE_CODEC_MAGIC);
        return STATE_CODEC_BAD_MAGIC;
    }
    if (data[1] < STATE_CODEC_VERSION_MIN || data[1] > STATE_CODEC_VERSION) {
        snprintf(error, STATE_ERROR_SIZE,
                 "state record version %u is not readable by this build, which reads versions %d to %d; "
                 "run the intentd version that wrote the changelog", data[1], STATE_CODEC_VERSION_MIN,
                 STATE_CODEC_VERSION);
        return STATE_CODEC_BAD_VERSION;
    }
    view->version = data[1];
    int status = decode_fields(data, view, error);
    if (status != STATE_CODEC_OK)
        return status;

    size_t body = 8 * (size_t)view->action_count + 4 * (size_t)view->token_count +
                  4 * (size_t)view->purchase_count + STATE_CODEC_RULE_SIZE * (size_t)view->rule_count +
                  embedding_block_size(view->embedding_dim);
    if (body != len - STATE_CODEC_HEADER_SIZE) {
        snprintf(error, STATE_ERROR_SIZE,
                 "state record has %zu bytes after the header but action_count %u, token_count %u, "
                 "purchase_count %u, rule_count %u and embedding_dim %u need %zu", len - STATE_CODEC_HEADER_SIZE,
                 view->action_count, view->token_count, view->purchase_count, view->rule_count,
                 view->embedding_dim, body);
        return STATE_CODEC_BAD_LENGTH;
    }
    view->actions = data + STATE_CODEC_HEADER_SIZE;
    view->tokens = view->actions + 8 * (size_t)view->action_count;
    view->purchases = view->tokens + 4 * (size_t)view->token_count;
    view->rules = view->purchases + 4 * (size_t)view->purchase_count;
    return decode_embedding(view->rules + STATE_CODEC_RULE_SIZE * (size_t)view->rule_count, view, error);
}

/* Replaces the user's stored embedding with the record's, or clears it when
 * the record has none or one of another embedding_dim. */
static void apply_embedding(struct state_store *store, struct state_user *user,
                            const struct state_codec_view *view)
{
    struct state_embedding *slot = state_store_embedding(store, user);

    if (slot == NULL)
        return;
    if (view->embedding_dim == 0 || view->embedding_dim != state_store_embedding_dim(store)) {
        state_embedding_clear(slot);
        return;
    }
    slot->scale = view->embedding_scale;
    memcpy(slot->values, view->embedding, view->embedding_dim);
}

/* Replaces the user's state with the record's. */
static void apply_view(struct state_store *store, struct state_user *user,
                       const struct state_codec_view *view)
{
    size_t max_len = (size_t)state_store_max_len(store);
    size_t skip = view->token_count > max_len ? view->token_count - max_len : 0;

    user->consent = view->consent;
    user->sentiment = view->sentiment;
    user->last_event_ms = view->last_event_ms;
    user->last_offer_ms = view->last_offer_ms;
    user->last_intent_ms = view->last_intent_ms;
    user->last_propensity = view->last_propensity;
    user->last_top_category = view->last_top_category;

    for (size_t i = 0; i < STATE_ACTION_SLOTS; i++)
        user->last_action_ms[i] = i < view->action_count ? (int64_t)get_u64(view->actions + 8 * i) : 0;

    /* Write the ring unrotated: oldest token at index 0. */
    for (size_t i = skip; i < view->token_count; i++)
        user->tokens[i - skip] = (int32_t)get_u32(view->tokens + 4 * i);
    user->token_count = (uint16_t)(view->token_count - skip);
    user->token_head = 0;

    user->purchase_count = 0;
    user->purchase_head = 0;
    for (size_t i = 0; i < view->purchase_count; i++)
        state_user_add_purchase(user, (int32_t)get_u32(view->purchases + 4 * i));

    user->rule_count = view->rule_count;
    for (size_t i = 0; i < view->rule_count; i++) {
        const unsigned char *p = view->rules + STATE_CODEC_RULE_SIZE * i;
        user->rules[i] = (struct state_rule_counters){
            .rule_hash = get_u32(p),
            .offers_in_window = get_u32(p + 4),
            .last_offer_ms = (int64_t)get_u64(p + 8),
            .window_start_ms = (int64_t)get_u64(p + 16),
        };
    }

    apply_embedding(store, user, view);
}

int state_codec_restore(struct state_store *store, const char *key, size_t key_len,
                        const unsigned char *value, size_t value_len, int32_t partition,
                        char *error)
{
    if (value == NULL) {
        state_store_remove(store, key, key_len);
        return STATE_CODEC_OK;
    }

    struct state_codec_view view;
    int status = state_codec_decode(value, value_len, &view, error);
    if (status != STATE_CODEC_OK)
        return status;

    int created;
    struct state_user *user = state_store_upsert(store, key, key_len, partition, &created, error);
    if (user == NULL)
        return STATE_CODEC_STORE;
    apply_view(store, user, &view);
    return STATE_CODEC_OK;
}
