// RunPersist: starts the Persister (and, with --metrics-listen, its /metrics), waits for a
// signal, stops it.
#include "persist.h"

#include <prometheus/exposer.h>

#include <exception>
#include <memory>
#include <optional>

#include "hotdeal/base/log.h"
#include "hotdeal/base/metrics_registry.h"
#include "hotdeal/persistence/persister.h"
#include "process_metrics.h"
#include "signals.h"

namespace hotdeal::app {

using base::Log;
using base::LogLevel;

int RunPersist(const PersistConfig& config) {
  base::SetLogFormat(config.logging.format);
  base::SetLogLevel(config.logging.level);
  const persistence::Options& store = config.store;
  sigset_t signals = BlockShutdownSignals();
  persistence::Persister persister(store);
  auto process = std::make_shared<ProcessMetrics>("persist");
  auto metrics = std::make_shared<base::MetricsRegistry>();
  metrics->Register(persister.probe());
  metrics->Register(process);
  // Before the persister starts, so a port in use exits before anything is written.
  std::optional<prometheus::Exposer> exposer;
  if (!config.metrics_host.empty()) {
    const std::string address = config.metrics_host + ":" + std::to_string(config.metrics_port);
    try {
      exposer.emplace(address, /*num_threads=*/1);
    } catch (const std::exception& error) {
      Log(LogLevel::kError, "persist", "cannot serve /metrics on %s: %s", address.c_str(),
          error.what());
      return 1;
    }
    exposer->RegisterCollectable(metrics);
    Log(LogLevel::kInfo, "persist", "/metrics on %s:%d", config.metrics_host.c_str(),
        exposer->GetListeningPorts().front());
  }
  persister.Start();
  Log(LogLevel::kInfo, "persist", "writing topic %s from %s into MySQL %s:%u/%s",
      store.kafka_topic.c_str(), store.kafka_brokers.c_str(), store.mysql_host.c_str(),
      unsigned{store.mysql_port}, store.mysql_database.c_str());
  int signal_number = WaitForShutdownSignal(signals);
  Log(LogLevel::kInfo, "persist", "signal %d, finishing the batch", signal_number);
  persister.Stop();
  Log(LogLevel::kInfo, "persist", "stopped");
  return 0;
}

}  // namespace hotdeal::app
