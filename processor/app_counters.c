#include "app_counters.h"

const double app_latency_bounds[APP_LATENCY_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                         0.1,   0.25,   0.5,   1.0,  2.5,   10.0};

const double app_batch_size_bounds[APP_LATENCY_BUCKETS] = {1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000,
                                                            10000};

void app_histogram_observe(struct app_histogram *histogram, const double *bounds, double value)
{
    for (int i = 0; i < APP_LATENCY_BUCKETS; i++) {
        if (value <= bounds[i])
            histogram->counts[i]++;
    }
    histogram->count++;
    histogram->sum += value;
}
