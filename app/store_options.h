// The persistence::Options a StoreConfig (the Kafka and MySQL flags) stands for; the bounds
// keep persistence's defaults.
#pragma once

#include "config.h"
#include "hotdeal/persistence/options.h"

namespace hotdeal::app {

persistence::Options PersistenceOptionsFrom(const StoreConfig& config);

}  // namespace hotdeal::app
