// HashId, the user hash behind the ledger's probing and the holder filter: seeded, sensitive
// to every byte and to the length, and spread well enough that linear probing at the ledger's
// load (one half) stays near its expected 1.5 probes.
#include "hash.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "test_support.h"

namespace hotdeal::engine::detail {
namespace {
using testing::Numbered;

UserId User(std::string_view text) {
  return *UserId::Parse(text);
}

TEST(HashIdTest, EveryByteLengthAndSeedCount) {
  std::set<std::uint64_t> seen;
  std::string text(64, 'a');
  for (std::size_t size = 1; size <= 64; ++size) {
    EXPECT_TRUE(seen.insert(HashId(User(std::string_view(text).substr(0, size)), 1)).second);
  }
  for (std::size_t at = 0; at < 64; ++at) {
    std::string changed = text;
    changed[at] = 'b';
    EXPECT_TRUE(seen.insert(HashId(User(changed), 1)).second) << at;
  }
  EXPECT_NE(HashId(User("user-1"), 1), HashId(User("user-1"), 2));
}

TEST(HashIdTest, LinearProbingAtHalfLoadStaysShort) {
  constexpr std::uint64_t kSlots = 1 << 17;
  for (std::uint64_t seed : {1ull, 0x5EEDull, 0xFFFFFFFFFFFFFFFFull}) {
    std::vector<bool> used(kSlots);
    std::uint64_t probes = 0;
    for (long long i = 0; i < static_cast<long long>(kSlots / 2); ++i) {
      std::uint64_t hash = HashId(User(Numbered("user-", i)), seed);
      std::uint64_t step = 0;
      while (used[(hash + step) & (kSlots - 1)])
        ++step;
      used[(hash + step) & (kSlots - 1)] = true;
      probes += step + 1;
    }
    // A uniform hash gives 1.5 on average; a weak one clusters ids that differ in a digit.
    EXPECT_LT(static_cast<double>(probes) / (kSlots / 2), 1.6) << seed;
  }
}

}  // namespace
}  // namespace hotdeal::engine::detail
