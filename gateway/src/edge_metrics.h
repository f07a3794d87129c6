// The metric families of who may do what and of the edge (proxies, CORS, per-address caps),
// kept apart from metrics.cc so each family reads its counters in one place. Scrape time only.
#pragma once

#include <prometheus/metric_family.h>

#include <span>
#include <vector>

#include "worker_stats.h"

namespace hotdeal::gateway {

void AddEdgeMetrics(std::span<const WorkerStats> workers,
                    std::vector<prometheus::MetricFamily>& out);

}  // namespace hotdeal::gateway
