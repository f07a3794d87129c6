// `hotdeal persist`: the Kafka-to-MySQL writer alone, for a setup where it runs apart from
// `serve` (then `serve --persister off`). Runs until SIGINT or SIGTERM.
#pragma once

#include "config.h"

namespace hotdeal::app {

// Exit codes: 0 after a clean stop, 1 if --metrics-listen cannot be served. The persister
// itself never fails for Kafka or MySQL being down: it retries and exports its errors and lag.
int RunPersist(const PersistConfig& config);

}  // namespace hotdeal::app
