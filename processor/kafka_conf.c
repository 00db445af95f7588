#include "kafka_conf.h"

#include <stdio.h>
#include <syslog.h>

#include "log.h"

int kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                   char *error, size_t error_size)
{
    char reason[512];

    if (rd_kafka_conf_set(conf, key, value, reason, sizeof reason) == RD_KAFKA_CONF_OK)
        return 0;

    if (config_property_is_secret(key))
        snprintf(error, error_size, "librdkafka rejected property %s (value hidden because it is a secret): %s",
                 key, reason);
    else
        snprintf(error, error_size, "librdkafka rejected property %s=\"%s\": %s", key, value, reason);
    return -1;
}

/* Maps librdkafka's syslog levels onto ours. Runs on librdkafka's internal
 * threads, which is safe because log_write is thread-safe. */
static void forward_log(const rd_kafka_t *rk, int level, const char *facility, const char *message)
{
    enum log_level ours = LOG_LEVEL_DEBUG;

    if (level <= LOG_ERR)
        ours = LOG_LEVEL_ERROR;
    else if (level == LOG_WARNING)
        ours = LOG_LEVEL_WARN;
    else if (level <= LOG_INFO)
        ours = LOG_LEVEL_INFO;
    log_write(ours, "librdkafka %s client=%s facility=%s", message, rd_kafka_name(rk), facility);
}

int kafka_conf_build(const struct intentd_config *cfg, const char *bootstrap_override,
                     rd_kafka_conf_t **out, char *error, size_t error_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *bootstrap = cfg->kafka.bootstrap_servers;
    char reason[512];

    *out = NULL;
    for (size_t i = 0; i < cfg->kafka.n_properties; i++) {
        const struct config_property *property = &cfg->kafka.properties[i];

        if (kafka_conf_set(conf, property->key, property->value, reason, sizeof reason) != 0) {
            snprintf(error, error_size, "kafka.properties.%s: %s; fix or remove it in the config",
                     property->key, reason);
            goto fail;
        }
    }

    /* The dedicated fields come last, so they win over a duplicate in kafka.properties. */
    if (bootstrap_override && bootstrap_override[0])
        bootstrap = bootstrap_override;
    if (!bootstrap || !bootstrap[0]) {
        snprintf(error, error_size, "kafka.bootstrap_servers is empty; set it to HOST:PORT[,HOST:PORT...]");
        goto fail;
    }
    if (kafka_conf_set(conf, "bootstrap.servers", bootstrap, reason, sizeof reason) != 0) {
        snprintf(error, error_size, "kafka.bootstrap_servers: %s", reason);
        goto fail;
    }
    if (cfg->kafka.client_id && cfg->kafka.client_id[0] &&
        kafka_conf_set(conf, "client.id", cfg->kafka.client_id, reason, sizeof reason) != 0) {
        snprintf(error, error_size, "kafka.client_id: %s", reason);
        goto fail;
    }

    rd_kafka_conf_set_log_cb(conf, forward_log);
    *out = conf;
    return 0;

fail:
    rd_kafka_conf_destroy(conf);
    return -1;
}
