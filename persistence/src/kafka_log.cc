// KafkaLog implementation. The slot state machine is the heart of it:
//
//   kFree --Append--> kPending --report--> kSettled --Await--> (OnSettled, kFree)
//                        |                    \------Forget--> kFree
//                        +--Await--> kWaiting --report--> (OnSettled, kFree)
//                        +--Forget-> kDetached --report--> kFree
//   (events no caller awaits start in kDetached)
//
// A report and an Await race on one CAS: whoever moves the slot second sees the other's state
// and finishes the job, so the waiter hears exactly once whichever comes first.
#include "hotdeal/persistence/kafka_log.h"

#include <stdexcept>

#include "hotdeal/base/check.h"
#include "hotdeal/base/log.h"
#include "hotdeal/engine/names.h"
#include "hotdeal/persistence/event_codec.h"
#include "hotdeal/persistence/in_doubt_settler.h"
#include "index_queue.h"
#include "kafka/producer.h"

namespace hotdeal::persistence {

namespace {

enum SlotState : std::uint32_t { kFree, kPending, kWaiting, kSettled, kDetached };

// Events whose ticket reaches a caller (a Decision's, or the InDoubtSettler's Append of a
// void); the others start detached.
bool Awaitable(engine::EventType type) noexcept {
  switch (type) {
    case engine::EventType::kCampaignCreated:
    case engine::EventType::kCampaignClosed:
    case engine::EventType::kCampaignPaused:
    case engine::EventType::kCampaignResumed:
    case engine::EventType::kCampaignChanged:
    case engine::EventType::kCampaignArchived:
    case engine::EventType::kClaimGranted:
    case engine::EventType::kOrderReserved:
    case engine::EventType::kOrderConfirmed:
    case engine::EventType::kOrderCancelled:
    case engine::EventType::kClaimVoided:
    case engine::EventType::kOrderVoided:
    case engine::EventType::kCouponRedeemed:
    case engine::EventType::kCouponRestored:
      return true;
    case engine::EventType::kOrderExpired:
      return false;
  }
  return false;
}

std::uint32_t RoundUpPowerOfTwo(std::uint32_t n) noexcept {
  std::uint32_t p = 1;
  while (p < n)
    p <<= 1;
  return p;
}

constexpr std::chrono::milliseconds kPollInterval{50};
constexpr std::chrono::milliseconds kAdminTimeout{10'000};

}  // namespace

struct KafkaLog::Slot {
  std::atomic<std::uint32_t> state{kFree};
  // Bumped each time the slot is handed out, so a stale ticket cannot name a reused slot.
  std::atomic<std::uint32_t> generation{0};
  engine::Durability durability =
      engine::Durability::kPossiblyPersisted;  // written before kSettled (release)
  engine::LogWaiter* waiter = nullptr;         // written before kWaiting (release)
  engine::Event event;  // kept until settled, so a not-persisted event can be reverted
  std::chrono::steady_clock::time_point appended_at;  // for hotdeal_log_ack_duration_seconds
  // Poll thread only: waiting in reappend_ (not in any producer), so a producer being torn down
  // has no report to give for it.
  bool reappend = false;
};

KafkaLog::KafkaLog(Options options)
    : options_(std::move(options)),
      // Control-plane events come with WorkerId{workers}: one cell more than the workers.
      probe_(std::make_shared<LogProbe>(options_.workers + 1)),
      slots_(std::make_unique<Slot[]>(RoundUpPowerOfTwo(options_.in_flight_max))),
      free_(std::make_unique<IndexQueue>(RoundUpPowerOfTwo(options_.in_flight_max))) {
  const std::uint32_t slots = RoundUpPowerOfTwo(options_.in_flight_max);
  for (std::uint32_t i = 0; i < slots; ++i)
    free_->Push(i);
  reappend_.reserve(slots);  // every slot at most once: never grows past this
}

KafkaLog::~KafkaLog() {
  Stop();
}

void KafkaLog::Start(engine::LogReports& reports, InDoubtSettler* settler) {
  HOTDEAL_ASSERT(!poll_thread_.joinable());
  reports_ = &reports;
  settler_ = settler;
  RecreateProducer();
  kafka::EnsureTopic(producer_->client(), options_, kAdminTimeout);
  poll_thread_ = std::thread([this] { PollLoop(); });
  OpenGate();
}

void KafkaLog::OpenGate() noexcept {
  accepting_.store(true);
  probe_->SetHealthy(true);
}

void KafkaLog::RecreateProducer() {
  producer_.reset();
  const kafka::Producer::Handlers handlers{
      this,
      [](void* log, std::uintptr_t index, engine::Durability durability) noexcept {
        static_cast<KafkaLog*>(log)->OnDelivery(static_cast<std::uint32_t>(index), durability);
      },
      [](void* log, kafka::ClientError error, const char* name, const char* reason) noexcept {
        static_cast<KafkaLog*>(log)->OnError(error, name, reason);
      },
  };
  producer_ = std::make_unique<kafka::Producer>(
      options_, "hotdeal-log",
      kafka::ConfEntries{
          // librdkafka's queue has the slot table's bound, so the two cannot disagree.
          {"queue.buffering.max.messages",
           std::to_string(RoundUpPowerOfTwo(options_.in_flight_max))},
          {"linger.ms", std::to_string(options_.linger.count())},
          {"message.timeout.ms", std::to_string(options_.delivery_timeout.count())},
          // Same key -> partition mapping as the Java client, so other tools agree with us.
          {"partitioner", "murmur2_random"},
      },
      handlers);
  producer_generation_.fetch_add(1, std::memory_order_acq_rel);
  fatal_pending_ = false;
  brokers_down_.store(false);
}

std::optional<engine::LogTicket> KafkaLog::Append(engine::WorkerId worker,
                                                  const engine::Event& event) noexcept {
  appenders_.fetch_add(1);
  struct Leave {
    std::atomic<std::uint32_t>& count;
    ~Leave() { count.fetch_sub(1); }
  } leave{appenders_};
  if (!accepting_.load() || brokers_down_.load(std::memory_order_relaxed)) {
    probe_->Refused(worker);
    return std::nullopt;
  }
  EventBuffer buffer;
  const Encoded encoded = EncodeEvent(event, options_.owner_epoch, buffer);
  if (encoded.error != CodecError::kOk) {
    base::Log(base::LogLevel::kWarn, "log", "refusing %s event of campaign %.*s: %s",
              engine::Name(event.type).data(), static_cast<int>(event.campaign.size()),
              event.campaign.view().data(), CodecErrorName(encoded.error).data());
    probe_->Refused(worker);
    return std::nullopt;
  }
  const std::optional<std::uint32_t> index = free_->Pop();
  if (!index) {
    probe_->Refused(worker);
    return std::nullopt;
  }
  Slot& slot = slots_[*index];
  std::uint32_t generation = slot.generation.load(std::memory_order_relaxed) + 1;
  if (generation == 0) generation = 1;  // ticket 0 means "nothing to wait for"
  slot.generation.store(generation, std::memory_order_relaxed);
  slot.event = event;  // no allocation: only campaign_created has a non-empty name
  slot.appended_at = std::chrono::steady_clock::now();
  slot.state.store(Awaitable(event.type) ? kPending : kDetached, std::memory_order_release);
  if (!Produce(*index, encoded.text)) {
    // QUEUE_FULL, or a fatal error the poll thread has not acted on yet: nothing was queued.
    Release(*index);
    probe_->Refused(worker);
    return std::nullopt;
  }
  probe_->Appended(worker);
  return engine::LogTicket{(std::uint64_t{generation} << 32) | *index};
}

bool KafkaLog::Produce(std::uint32_t index, std::string_view payload) noexcept {
  return producer_->Produce(std::nullopt, slots_[index].event.campaign.view(), payload, index);
}

// Poll thread: produce again the events appended until persisted whose last attempt failed. A
// refusal (queue full) leaves them for the next round.
void KafkaLog::Reappend() noexcept {
  std::size_t kept = 0;
  for (std::uint32_t index : reappend_) {
    EventBuffer buffer;
    const Encoded encoded = EncodeEvent(slots_[index].event, options_.owner_epoch, buffer);
    if (Produce(index, encoded.text)) {
      slots_[index].reappend = false;
    } else {
      reappend_[kept++] = index;
    }
  }
  reappend_.resize(kept);
}

void KafkaLog::Await(engine::LogTicket ticket, engine::LogWaiter& waiter) noexcept {
  const auto index = static_cast<std::uint32_t>(ticket.value);
  Slot& slot = slots_[index];
  HOTDEAL_ASSERT(slot.generation.load(std::memory_order_relaxed) == ticket.value >> 32);
  slot.waiter = &waiter;
  std::uint32_t state = kPending;
  if (slot.state.compare_exchange_strong(state, kWaiting, std::memory_order_acq_rel)) return;
  // The report came first: finish here, on the caller's thread.
  HOTDEAL_ASSERT(state == kSettled);
  const engine::Durability durability = slot.durability;
  Release(index);
  waiter.OnSettled(durability);
}

void KafkaLog::Forget(engine::LogTicket ticket) noexcept {
  const auto index = static_cast<std::uint32_t>(ticket.value);
  Slot& slot = slots_[index];
  std::uint32_t state = kPending;
  if (slot.state.compare_exchange_strong(state, kDetached, std::memory_order_acq_rel)) return;
  HOTDEAL_ASSERT(state == kSettled);
  Release(index);
}

void KafkaLog::Release(std::uint32_t index) noexcept {
  Slot& slot = slots_[index];
  slot.waiter = nullptr;
  slot.state.store(kFree, std::memory_order_release);
  free_->Push(index);
}

void KafkaLog::OnDelivery(std::uint32_t index, engine::Durability durability) noexcept {
  if (durability == engine::Durability::kPersisted)
    brokers_down_.store(false, std::memory_order_relaxed);
  Settle(index, durability);
}

void KafkaLog::Settle(std::uint32_t index, engine::Durability durability) noexcept {
  Slot& slot = slots_[index];
  // Before anyone hears (LogReports): acknowledged, reverted or marked in doubt by then.
  switch (reports_->Report(slot.event, durability)) {
    case engine::LogReports::Next::kDone:
      break;
    case engine::LogReports::Next::kAppendAgain:
      // After Stop began it is settled as it is; the next recovery reads the log.
      if (stopping_.load(std::memory_order_relaxed)) break;
      // The slot stays taken: its waiter hears when Kafka has it.
      if (!slot.reappend) reappend_.push_back(index);
      slot.reappend = true;
      return;
    case engine::LogReports::Next::kSettle:
      if (settler_ != nullptr) settler_->Add(slot.event);
      break;
  }
  probe_->Settled(durability, std::chrono::steady_clock::now() - slot.appended_at);
  slot.durability = durability;
  std::uint32_t state = slot.state.load(std::memory_order_acquire);
  for (;;) {
    switch (state) {
      case kPending:
        if (slot.state.compare_exchange_weak(state, kSettled, std::memory_order_acq_rel)) return;
        continue;  // lost to Await or Forget: `state` now says which
      case kWaiting: {
        engine::LogWaiter* waiter = slot.waiter;
        Release(index);
        waiter->OnSettled(durability);
        return;
      }
      case kDetached:
        Release(index);
        return;
      default:
        HOTDEAL_UNREACHABLE();  // a report for a slot that is free or settled
    }
  }
}

void KafkaLog::OnError(kafka::ClientError error, const char* name, const char* reason) noexcept {
  base::Log(base::LogLevel::kWarn, "log", "kafka error %s: %s", name, reason);
  if (error == kafka::ClientError::kFatal) {
    fatal_pending_ = true;
    accepting_.store(false);
    probe_->FatalError();
  } else if (error == kafka::ClientError::kAllBrokersDown) {
    brokers_down_.store(true);
    probe_->SetHealthy(false);
  }
}

void KafkaLog::CloseGate() noexcept {
  accepting_.store(false);
  probe_->SetHealthy(false);
  while (appenders_.load() != 0)
    std::this_thread::yield();
}

void KafkaLog::PollLoop() {
  auto next_probe = std::chrono::steady_clock::now();
  while (!stopping_.load(std::memory_order_relaxed)) {
    if (test_fatal_error_.load(std::memory_order_relaxed)) {
      producer_->TEST_RaiseFatal();
      test_fatal_error_.store(false);
    }
    producer_->Poll(kPollInterval);
    if (fatal_pending_) {
      base::Log(base::LogLevel::kError, "log", "fatal producer error (%s): recreating the producer",
                producer_->FatalReason().c_str());
      CloseGate();
      DrainProducer(options_.delivery_timeout);
      try {
        RecreateProducer();
        OpenGate();
        probe_->Recreated();
      } catch (const std::exception& e) {
        // Configuration did not change, so this cannot fail for a reason a retry would fix
        // any better than ending the process: the log stays closed and /readyz says so.
        base::Log(base::LogLevel::kError, "log", "cannot recreate the producer: %s", e.what());
        return;
      }
    }
    if (!reappend_.empty()) Reappend();
    const auto now = std::chrono::steady_clock::now();
    if (brokers_down_.load(std::memory_order_relaxed) && now >= next_probe) {
      ProbeBrokers();
      next_probe = now + std::chrono::seconds(1);
    }
    probe_->SetHealthy(healthy());
  }
}

void KafkaLog::ProbeBrokers() noexcept {
  if (producer_->BrokersReachable(std::chrono::milliseconds(500))) brokers_down_.store(false);
}

// With the gate closed: give outstanding messages `timeout` to be reported, purge the rest
// (librdkafka reports purged queued messages as not persisted and purged in-flight ones as
// possibly persisted), serve those reports, then settle anything still unreported as in
// doubt before the producer goes away.
void KafkaLog::DrainProducer(std::chrono::milliseconds timeout) noexcept {
  if (!fatal_pending_) producer_->Flush(timeout);
  producer_->PurgeAndDrain(timeout);
  producer_.reset();
  SettleUnreported();
}

void KafkaLog::SettleUnreported() noexcept {
  const std::uint32_t slots = RoundUpPowerOfTwo(options_.in_flight_max);
  const bool stopping = stopping_.load(std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < slots; ++i) {
    const std::uint32_t state = slots_[i].state.load(std::memory_order_acquire);
    if (state != kPending && state != kWaiting && state != kDetached) continue;
    if (slots_[i].reappend) {
      if (!stopping) continue;  // the next producer sends it
      slots_[i].reappend = false;
    }
    Settle(i, engine::Durability::kPossiblyPersisted);
  }
  if (stopping) reappend_.clear();
}

void KafkaLog::Stop() {
  if (!poll_thread_.joinable()) return;
  CloseGate();
  stopping_.store(true);
  poll_thread_.join();
  if (producer_) DrainProducer(options_.delivery_timeout);
}

bool KafkaLog::healthy() const noexcept {
  return accepting_.load(std::memory_order_relaxed) &&
         !brokers_down_.load(std::memory_order_relaxed);
}

// Raised on the poll thread, the one that replaces the producer: raised from the caller's
// thread, the replacement could destroy the producer while librdkafka raises it (a hang,
// once in ~25 runs on a loaded box). Returns once it is raised.
void KafkaLog::TEST_TriggerFatalError() {
  test_fatal_error_.store(true);
  while (test_fatal_error_.load())
    std::this_thread::yield();
}

}  // namespace hotdeal::persistence
