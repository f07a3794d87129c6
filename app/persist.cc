// RunPersist: starts the Persister (and, with --metrics-listen, its /metrics), waits for a
// signal, stops it.
#include "persist.h"

#include <prometheus/exposer.h>

#include <exception>
#include <iostream>
#include <memory>
#include <optional>

#include "hotdeal/persistence/persister.h"
#include "process_metrics.h"
#include "signals.h"
#include "store_options.h"

namespace hotdeal::app {

int RunPersist(const PersistConfig& config) {
  const StoreConfig& store = config.store;
  sigset_t signals = BlockShutdownSignals();
  persistence::Options options = PersistenceOptionsFrom(store);
  options.campaigns_max = config.campaigns_max;
  persistence::Persister persister(options);
  auto process = std::make_shared<ProcessMetrics>("persist");
  // Before the persister starts, so a port in use exits before anything is written.
  std::optional<prometheus::Exposer> exposer;
  if (!config.metrics_host.empty()) {
    const std::string address = config.metrics_host + ":" + std::to_string(config.metrics_port);
    try {
      exposer.emplace(address, /*num_threads=*/1);
    } catch (const std::exception& error) {
      std::cerr << "hotdeal persist: cannot serve /metrics on " << address << ": " << error.what()
                << "\n";
      return 1;
    }
    exposer->RegisterCollectable(persister.probe());
    exposer->RegisterCollectable(process);
    std::cerr << "hotdeal persist: /metrics on " << config.metrics_host << ":"
              << exposer->GetListeningPorts().front() << "\n";
  }
  persister.Start();
  std::cerr << "hotdeal persist: writing topic " << store.kafka_topic << " from "
            << store.kafka_brokers << " into MySQL " << store.mysql_host << ":" << store.mysql_port
            << "/" << store.mysql_database << "\n";
  int signal_number = WaitForShutdownSignal(signals);
  std::cerr << "hotdeal persist: signal " << signal_number << ", finishing the batch\n";
  persister.Stop();
  std::cerr << "hotdeal persist: stopped\n";
  return 0;
}

}  // namespace hotdeal::app
