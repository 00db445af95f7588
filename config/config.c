/* Placeholder so the intentd_config library exists; the loader follows. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

void config_free(struct intentd_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
}

int config_load(const char *path, struct intentd_config *cfg, struct config_error *err)
{
    (void)path;
    memset(cfg, 0, sizeof *cfg);
    snprintf(err->message, sizeof err->message, "config loader not built yet");
    return -1;
}
