#include "metrics_lag.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static void drop_topic(struct metrics_lag_table *table, const char *topic)
{
    int kept = 0;
    for (int i = 0; i < table->count; i++) {
        if (table->entries[i].topic != topic)
            table->entries[kept++] = table->entries[i];
    }
    table->count = kept;
}

static int64_t offset_field(json_t *partition, const char *name)
{
    json_t *value = json_object_get(partition, name);
    return json_is_integer(value) ? (int64_t)json_integer_value(value) : -1;
}

/* Lag of one partition: its end minus the consumer's position. The end is
 * the last stable offset, which a read_committed consumer can reach, or the
 * high watermark while that is unknown. The position is the next offset
 * handed to the stream loop, or the committed offset before the first
 * record. librdkafka's own consumer_lag is not used because it counts from
 * offsets the consumer itself committed, and intentd commits through the
 * producer's transactions instead. Returns -1 when either value is unknown. */
static int64_t partition_lag(json_t *partition)
{
    int64_t end = offset_field(partition, "ls_offset");
    if (end < 0)
        end = offset_field(partition, "hi_offset");
    int64_t position = offset_field(partition, "app_offset");
    if (position < 0)
        position = offset_field(partition, "committed_offset");
    if (end < 0 || position < 0)
        return -1;
    return end > position ? end - position : 0;
}

static void add_partitions(struct metrics_lag_table *table, const char *topic, json_t *partitions)
{
    const char *id;
    json_t *partition;

    json_object_foreach(partitions, id, partition) {
        char *end;
        long number = strtol(id, &end, 10);
        int64_t lag = partition_lag(partition);
        if (*end != '\0' || number < 0 || lag < 0)
            continue; /* "-1" is librdkafka's internal unassigned partition */
        if (table->count == METRICS_MAX_LAG)
            return;
        table->entries[table->count++] = (struct metrics_lag){.topic = topic, .partition = (int32_t)number, .lag = lag};
    }
}

int metrics_lag_update(struct metrics_lag_table *table, const char *json, size_t len, const char *const *topics,
                       int n_topics)
{
    json_error_t error;
    json_t *root = json_loadb(json, len, 0, &error);
    if (!root)
        return -1;

    json_t *reported = json_object_get(root, "topics");
    for (int t = 0; t < n_topics && json_is_object(reported); t++) {
        json_t *topic = topics[t] ? json_object_get(reported, topics[t]) : NULL;
        json_t *partitions = json_object_get(topic, "partitions");
        if (!json_is_object(partitions))
            continue;
        drop_topic(table, topics[t]);
        add_partitions(table, topics[t], partitions);
    }
    json_decref(root);
    return 0;
}
