// The stale-owner rule of ARCHITECTURE invariant 7, one copy shared by the persister and
// recovery so MySQL and a rebuilt engine can never disagree about which events count.
//
// A new owner writes an owner_fence with its epoch into every partition before it recovers, so
// in log order everything an older owner appends after that point sits behind a higher epoch:
// per partition, a record below the highest epoch seen so far comes from a replaced (stale)
// owner and is never applied. Public so that anything counting sales from the topic (the e2e
// books check) applies the very same rule. No I/O, no librdkafka types.
#pragma once

#include <cstdint>
#include <vector>

#include "hotdeal/base/check.h"

namespace hotdeal::persistence {

class PartitionEpochs {
 public:
  void Reset(std::size_t partitions) { max_.assign(partitions, 0); }
  // Resumes a partition from what MySQL stored with its offset.
  void Set(std::int32_t partition, std::uint64_t epoch) { max_.at(partition) = epoch; }
  std::uint64_t max(std::int32_t partition) const { return max_.at(partition); }

  // Records appear in log order: true if `epoch` is below the partition's highest so far,
  // otherwise the highest becomes `epoch`.
  bool Stale(std::int32_t partition, std::uint64_t epoch) {
    HOTDEAL_ASSERT(partition >= 0 && static_cast<std::size_t>(partition) < max_.size());
    std::uint64_t& highest = max_[partition];
    if (epoch < highest) return true;
    highest = epoch;
    return false;
  }

 private:
  std::vector<std::uint64_t> max_;
};

}  // namespace hotdeal::persistence
