// RunPersist: starts the Persister, waits for a signal, stops it.
#include "persist.h"

#include <iostream>

#include "hotdeal/persistence/persister.h"
#include "signals.h"
#include "store_options.h"

namespace hotdeal::app {

int RunPersist(const StoreConfig& config) {
  sigset_t signals = BlockShutdownSignals();
  persistence::Persister persister(PersistenceOptionsFrom(config));
  persister.Start();
  std::cerr << "hotdeal persist: writing topic " << config.kafka_topic << " from "
            << config.kafka_brokers << " into MySQL " << config.mysql_host << ":"
            << config.mysql_port << "/" << config.mysql_database << "\n";
  int signal_number = WaitForShutdownSignal(signals);
  std::cerr << "hotdeal persist: signal " << signal_number << ", finishing the batch\n";
  persister.Stop();
  std::cerr << "hotdeal persist: stopped\n";
  return 0;
}

}  // namespace hotdeal::app
