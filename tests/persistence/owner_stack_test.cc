// TakeOwnership and OwnerWatch against the real stack: each start takes the next epoch and
// fences every partition, and a replaced owner's watch notices the newer one.
#include <prometheus/metric_family.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "hotdeal/persistence/event_codec.h"
#include "hotdeal/persistence/owner.h"
#include "stack_fixture.h"
#include "topic_reader.h"

namespace hotdeal::persistence {
namespace {

using namespace std::chrono_literals;

class OwnerStackTest : public testing::StackTest {
 protected:
  static double Gauge(const OwnerProbe& probe, const std::string& name) {
    for (const prometheus::MetricFamily& family : probe.Collect()) {
      if (family.name == name) return family.metric.at(0).gauge.value;
    }
    ADD_FAILURE() << "no " << name;
    return -1;
  }

  // Every partition's records, decoded, in order.
  std::vector<std::vector<LogRecord>> ReadPartitions() {
    return testing::ReadTopicRecords(options_.kafka_brokers, options_.kafka_topic);
  }
};

TEST_F(OwnerStackTest, EachStartTakesTheNextEpochAndFencesEveryPartition) {
  EXPECT_EQ(TakeOwnership(options_), 1u);
  EXPECT_EQ(TakeOwnership(options_), 2u);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  EXPECT_EQ(Rows("SELECT topic, epoch, host, pid FROM owners"),
            options_.kafka_topic + "|2|" + host + "|" + std::to_string(::getpid()) + "\n");
  // Read until both fences show in every partition, for a bounded time: once in CI a partition
  // read back one record short right after the second fence (its high watermark, queried at
  // once, did not include it yet); a fence that is really missing still fails below.
  auto partitions = ReadPartitions();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto short_read = [&] {
    return std::any_of(partitions.begin(), partitions.end(),
                       [](const auto& records) { return records.size() < 2; });
  };
  while (short_read() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    partitions = ReadPartitions();
  }
  ASSERT_EQ(partitions.size(), 3u);
  for (const auto& records : partitions) {
    ASSERT_EQ(records.size(), 2u);
    for (std::size_t i = 0; i < records.size(); ++i) {
      EXPECT_TRUE(records[i].fence);
      EXPECT_EQ(records[i].epoch, i + 1);
    }
  }
}

TEST_F(OwnerStackTest, WatchOfAReplacedOwnerSaysWhoReplacedIt) {
  Options options = options_;
  options.owner_epoch = TakeOwnership(options_);
  options.owner_check_interval = 50ms;
  OwnerWatch watch(options);
  std::mutex mutex;
  std::string why;
  std::atomic<int> calls{0};
  watch.Start([&](const std::string& text) {
    std::lock_guard lock(mutex);
    why = text;
    ++calls;
  });
  std::this_thread::sleep_for(300ms);  // several checks, all finding this owner current
  EXPECT_FALSE(watch.fenced());
  EXPECT_EQ(Gauge(*watch.probe(), "hotdeal_owner_fenced"), 0);
  const std::uint64_t newer = TakeOwnership(options_);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!watch.fenced() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(watch.fenced());
  watch.Stop();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(Gauge(*watch.probe(), "hotdeal_owner_fenced"), 1);
  EXPECT_EQ(Gauge(*watch.probe(), "hotdeal_owner_epoch"), static_cast<double>(options.owner_epoch));
  std::lock_guard lock(mutex);
  EXPECT_NE(why.find("epoch " + std::to_string(newer) + " was taken by "), std::string::npos)
      << why;
  EXPECT_NE(why.find("pid " + std::to_string(::getpid())), std::string::npos) << why;
}

}  // namespace
}  // namespace hotdeal::persistence
