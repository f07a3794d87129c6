// Recovery: rebuilds a fresh engine from the MySQL snapshot plus the Kafka tail, before the
// process reports ready.
//
// Guarantees: the snapshot (campaigns, claims, orders) and the offsets it covers are read in
// one consistent InnoDB snapshot, so replay starts exactly where the rows end; Kafka is then
// replayed from those offsets to the high watermarks read at the start, in partition order
// (one campaign lives in one partition, so its events keep their order), skipping what the
// persister skips: events of a replaced owner (partition_epochs.h).
// Must never: run after a worker started (Engine::Apply is not thread-safe against them), skip
// an event it cannot decode (it stops: serving a state missing a logged sale could oversell).
#pragma once

#include <cstdint>

#include "hotdeal/persistence/options.h"

namespace hotdeal::engine {
class Engine;
}

namespace hotdeal::persistence {

struct RecoveryReport {
  std::uint64_t campaigns = 0;        // from the snapshot
  std::uint64_t archived = 0;         // campaigns the snapshot holds as archived: rows only
  std::uint64_t claims = 0;           // from the snapshot
  std::uint64_t orders = 0;           // from the snapshot
  std::uint64_t events_replayed = 0;  // from Kafka, after the snapshot's offsets
  // In the Kafka tail, written by a replaced owner and not applied (the persister's rule).
  std::uint64_t stale_epoch_events = 0;
};

// Start-up only: throws std::runtime_error if MySQL or Kafka cannot be read or hold something
// this build cannot apply.
RecoveryReport Recover(engine::Engine& engine, const Options& options);

}  // namespace hotdeal::persistence
