// The seam to librdkafka, part 2: one idempotent producer (acks=all) for the log's events and
// the owner's fences. Its reports are the log port's words (engine::Durability), so no caller
// reads a librdkafka message status.
//
// Must never: report a failed delivery as persisted, or be moved (librdkafka's callbacks hold
// its address).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "hotdeal/engine/log.h"
#include "kafka/client.h"

namespace hotdeal::persistence::kafka {

// The client-wide errors a producer's owner acts on.
enum class ClientError {
  kFatal,           // the idempotent producer cannot go on: recreate it
  kAllBrokersDown,  // until a metadata request answers again (BrokersReachable)
  kOther,           // logged by librdkafka's retries; nothing to do
};

class Producer {
 public:
  // Called on the thread that runs Poll/Flush, once per produced message, with its tag.
  struct Handlers {
    void* context = nullptr;
    void (*delivered)(void* context, std::uintptr_t tag,
                      engine::Durability durability) noexcept = nullptr;
    // May be null.
    void (*failed)(void* context, ClientError error, const char* name,
                   const char* reason) noexcept = nullptr;
  };

  // Idempotent, acks=all, then `entries`. Start-up or replacement only: throws on failure.
  Producer(const Options& options, const char* client_id, ConfEntries entries, Handlers handlers);
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  rd_kafka_t* client() const noexcept { return client_.get(); }

  // Copies `payload`; `partition` nullopt lets the partitioner pick by `key`. false: refused
  // (queue full, or the producer failed); LastError() names why.
  bool Produce(std::optional<std::int32_t> partition, std::string_view key,
               std::string_view payload, std::uintptr_t tag) noexcept;
  static std::string LastError();

  // Serves reports for up to `timeout`.
  void Poll(std::chrono::milliseconds timeout) noexcept;
  // Waits up to `timeout` for every outstanding message's report.
  void Flush(std::chrono::milliseconds timeout) noexcept;
  // Purges what is queued or in flight (reported as not / possibly persisted), then serves
  // reports until none is outstanding or `timeout` passed.
  void PurgeAndDrain(std::chrono::milliseconds timeout) noexcept;
  // The reason of a kFatal error.
  std::string FatalReason() const;
  // librdkafka says when all brokers went down but not when one came back: ask for metadata.
  bool BrokersReachable(std::chrono::milliseconds timeout) const noexcept;
  // Raises a fatal error as a broker's sequence gap would.
  void TEST_RaiseFatal() noexcept;

 private:
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque);
  static void OnError(rd_kafka_t*, int error, const char* reason, void* opaque);

  Handlers handlers_;
  Ptr<rd_kafka_t> client_;
  Ptr<rd_kafka_topic_t> topic_;  // destroyed before client_
};

}  // namespace hotdeal::persistence::kafka
