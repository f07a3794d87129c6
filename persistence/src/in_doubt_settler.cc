// InDoubtSettler. Each in-doubt decision is an Entry that moves through
//
//   kJudge --read its partition--> stands: SettleInDoubt(true), done
//     |                            absent: SettleInDoubt(false) gives the void
//     v
//   kAppendVoid --KafkaLog::Append--> kAwaitVoid --persisted by the producer that sent the
//     ^   (refused: next round)          |          decision--> ApplyVoid, done
//     +---- not persisted (log stopping) +--persisted by a later producer--> kJudge (void known
//                                                    persisted: whatever the log says, restock
//                                                    unless the decision stands after the void)
//
// docs/durability.md ("In doubt") argues each arrow.
#include "hotdeal/persistence/in_doubt_settler.h"

#include <algorithm>
#include <functional>
#include <map>
#include <stdexcept>

#include "hotdeal/base/log.h"
#include "hotdeal/engine/engine.h"
#include "hotdeal/persistence/event_codec.h"
#include "hotdeal/persistence/kafka_log.h"
#include "hotdeal/persistence/partition_epochs.h"
#include "kafka/partition_reader.h"
#include "metric_family.h"

namespace hotdeal::persistence {

namespace {

using Clock = std::chrono::steady_clock;
using engine::Event;
using engine::EventType;

// The decision was appended after it was made (engine time, system clock); Kafka stamps the
// message when it is produced. Reading from a minute before the decision leaves room for the
// clock being stepped back in between.
constexpr std::chrono::seconds kDecisionClockMargin{60};
// A partition that could not be read is tried again after this long.
constexpr std::chrono::seconds kReadRetryDelay{1};

bool Settleable(EventType type) noexcept {
  return type == EventType::kClaimGranted || type == EventType::kOrderReserved;
}

bool SameDecision(const Event& a, const Event& b) noexcept {
  if (a.type != b.type || a.seq != b.seq || a.campaign != b.campaign) return false;
  return a.type == EventType::kClaimGranted ? a.claim_id == b.claim_id : a.order_id == b.order_id;
}

bool VoidOf(const Event& logged, const Event& decision) noexcept {
  if (logged.campaign != decision.campaign) return false;
  if (decision.type == EventType::kClaimGranted) {
    return logged.type == EventType::kClaimVoided && logged.claim_id == decision.claim_id;
  }
  return logged.type == EventType::kOrderVoided && logged.order_id == decision.order_id;
}

}  // namespace

void Replayed::Observe(const Event& logged) noexcept {
  if (SameDecision(logged, decision_)) {
    verdict_ = LogVerdict::kStands;
  } else if (verdict_ == LogVerdict::kStands && VoidOf(logged, decision_)) {
    verdict_ = LogVerdict::kVoided;
  }
}

// ---- reading the log ---------------------------------------------------------------------

// The log as the settler reads it: one partition at a time, from no earlier than this
// session's start, this owner's events only.
class InDoubtSettler::LogReader {
 public:
  LogReader(const Options& options, std::chrono::milliseconds timeout)
      : topic_name_(options.kafka_topic),
        owner_epoch_(options.owner_epoch),
        timeout_(timeout),
        reader_(options, "hotdeal-settler") {
    partitions_ = reader_.Partitions(timeout_);
    if (partitions_ <= 0) throw std::runtime_error("topic " + topic_name_ + " not found");
    // Every event this process appends lands at or past these offsets.
    // A topic created a moment ago may not have its leaders yet: retry within the timeout.
    const auto deadline = Clock::now() + timeout_;
    for (std::int32_t p = 0; p < partitions_; ++p) {
      base::Result<std::int64_t> end = reader_.EndOffset(p, timeout_);
      while (!end.ok() && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        end = reader_.EndOffset(p, timeout_);
      }
      if (!end.ok()) {
        throw std::runtime_error("cannot read the end of " + topic_name_ + ": " +
                                 end.status().message());
      }
      session_start_.push_back(*end);
    }
  }

  // The producer's partitioner (murmur2_random over the campaign id, KafkaLog::RecreateProducer).
  std::int32_t PartitionOf(const engine::CampaignId& campaign) const noexcept {
    return reader_.PartitionOf(campaign.view(), partitions_);
  }

  // Feeds `observe` partition `p` in log order, from the first message stamped at or after
  // `since` (never before this session's start) to the high watermark read now. false, after
  // saying why, if any of it could not be read or decoded: no verdict from a partial read.
  bool Read(std::int32_t p, engine::TimePoint since,
            const std::function<void(const Event&)>& observe) {
    const base::Result<std::int64_t> end = reader_.EndOffset(p, timeout_);
    if (!end.ok()) return Failed(p, end.status().message());
    const base::Result<std::int64_t> by_time = reader_.OffsetAt(
        p, std::chrono::duration_cast<std::chrono::milliseconds>(since.time_since_epoch()),
        timeout_);
    if (!by_time.ok()) return Failed(p, by_time.status().message());
    // -1: no message stamped that late. Then read the whole session rather than trust a clock.
    const std::int64_t start =
        *by_time < 0 ? session_start_[p] : std::max(session_start_[p], *by_time);
    // Recovery's stale-owner rule: this owner's fence precedes the session in every partition,
    // so a record below the highest epoch seen since is a replaced owner's, never applied.
    PartitionEpochs epochs;
    epochs.Reset(static_cast<std::size_t>(partitions_));
    epochs.Set(p, owner_epoch_);
    LogRecord record;
    const kafka::Range range{p, start, *end};
    const base::Status read =
        reader_.ReadRanges({&range, 1}, timeout_, [&](const kafka::Message& m) {
          if (CodecError error = decoder_.Decode(m.payload(), record); error != CodecError::kOk) {
            return base::Status::Error("undecodable event at offset " + std::to_string(m.offset()) +
                                       ": " + std::string(CodecErrorName(error)));
          }
          if (!epochs.Stale(p, record.epoch) && !record.fence) observe(record.event);
          return base::Status();
        });
    return read.ok() || Failed(p, read.message());
  }

  std::int32_t partitions() const noexcept { return partitions_; }

 private:
  bool Failed(std::int32_t p, const std::string& why) const {
    base::Log(base::LogLevel::kWarn, "settler", "cannot read %s [%d]: %s (trying again)",
              topic_name_.c_str(), p, why.c_str());
    return false;
  }

  std::string topic_name_;
  std::uint64_t owner_epoch_;
  std::chrono::milliseconds timeout_;
  kafka::PartitionReader reader_;
  std::int32_t partitions_ = 0;
  std::vector<std::int64_t> session_start_;
  EventDecoder decoder_;
};

// ---- entries -------------------------------------------------------------------------------

struct InDoubtSettler::Entry final : engine::LogWaiter {
  enum class Step : std::uint8_t { kFree, kJudge, kAppendVoid, kAwaitVoid };

  // The log's report of the void: the poll thread (or KafkaLog::Await on the settler thread).
  void OnSettled(engine::Durability durability) noexcept override {
    // The producer that reported it persisted is the one that sent this copy; read later (Await
    // after the report), it may name a newer one, which only makes the settler wait longer.
    void_generation.store(
        durability == engine::Durability::kPersisted ? settler->log_.producer_generation() : 0,
        std::memory_order_relaxed);
    void_heard.store(true, std::memory_order_release);
    settler->Wake();
  }

  InDoubtSettler* settler = nullptr;
  // Settler thread only.
  Step step = Step::kFree;
  Event decision;                // as appended and reported possibly persisted
  std::uint64_t generation = 0;  // the producer that sent it
  std::int32_t partition = 0;
  std::optional<Event> void_event;  // once SettleInDoubt(decision, false) answered it
  bool void_persisted = false;      // by a later producer than the decision's
  Clock::time_point not_before{};   // a failed read backs off
  // Written by OnSettled, read by the settler thread after void_heard (acquire).
  std::atomic<bool> void_heard{false};
  std::atomic<std::uint64_t> void_generation{0};  // 0: not persisted
};

// ---- probe ---------------------------------------------------------------------------------

SettlerCounters SettlerProbe::Snapshot() const noexcept {
  SettlerCounters c;
  c.waiting = waiting_.load(kRelaxed);
  c.settled_persisted = settled_persisted_.load(kRelaxed);
  c.settled_voided = settled_voided_.load(kRelaxed);
  c.retries = retries_.load(kRelaxed);
  c.overflow = overflow_.load(kRelaxed);
  return c;
}

std::vector<prometheus::MetricFamily> SettlerProbe::Collect() const {
  const SettlerCounters c = Snapshot();
  return {
      GaugeFamily("hotdeal_in_doubt_waiting", "In-doubt decisions the settler holds, not settled",
                  static_cast<double>(c.waiting)),
      CounterFamily("hotdeal_in_doubt_settled_persisted_total",
                    "In-doubt decisions found in the log: they stand", c.settled_persisted),
      CounterFamily("hotdeal_in_doubt_settled_voided_total",
                    "In-doubt decisions voided: void persisted, units back in stock",
                    c.settled_voided),
      CounterFamily("hotdeal_in_doubt_retries_total",
                    "Settling steps to try again: log read failed, void refused or not persisted",
                    c.retries),
      CounterFamily("hotdeal_in_doubt_overflow_total",
                    "In-doubt decisions the settler could not take: in doubt until restart",
                    c.overflow),
  };
}

// ---- settler -------------------------------------------------------------------------------

InDoubtSettler::InDoubtSettler(engine::Engine& engine, KafkaLog& log, Options options,
                               SettlerOptions settler_options)
    : engine_(engine),
      log_(log),
      options_(std::move(options)),
      settler_options_(settler_options),
      probe_(std::make_shared<SettlerProbe>()),
      entries_(std::make_unique<Entry[]>(settler_options_.capacity)) {
  free_.reserve(settler_options_.capacity);
  incoming_.reserve(settler_options_.capacity);  // Add never grows it: held_ bounds it
  taking_.reserve(settler_options_.capacity);
  for (std::uint32_t i = settler_options_.capacity; i > 0; --i) {
    entries_[i - 1].settler = this;
    free_.push_back(i - 1);
  }
}

InDoubtSettler::~InDoubtSettler() {
  Stop();
}

void InDoubtSettler::Start() {
  reader_ = std::make_unique<LogReader>(options_, settler_options_.read_timeout);
  {
    std::lock_guard lock(mutex_);
    started_ = true;
  }
  thread_ = std::thread([this] { Run(); });
}

void InDoubtSettler::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void InDoubtSettler::Add(const Event& event) noexcept {
  if (!Settleable(event.type)) return;
  const std::uint64_t generation = log_.producer_generation();
  {
    std::lock_guard lock(mutex_);
    if (started_ && !stopping_ &&
        held_.load(std::memory_order_relaxed) < settler_options_.capacity) {
      incoming_.emplace_back(event, generation);
      held_.fetch_add(1, std::memory_order_relaxed);
      probe_->waiting_.fetch_add(1, SettlerProbe::kRelaxed);
      wake_.notify_one();
      return;
    }
  }
  // Said once: at shutdown every decision the log leaves in doubt comes here.
  if (probe_->overflow_.fetch_add(1, SettlerProbe::kRelaxed) == 0) {
    base::Log(base::LogLevel::kError, "settler",
              "in-doubt queue full or stopped; such decisions stay in doubt "
              "until the next restart (hotdeal_in_doubt_overflow_total)");
  }
}

void InDoubtSettler::Wake() noexcept {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  wake_.notify_one();
}

void InDoubtSettler::Run() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, settler_options_.round_interval,
                     [&] { return stopping_ || woken_ || !incoming_.empty(); });
      if (stopping_) return;
      woken_ = false;
    }
    TakeIncoming();
    // Nothing moves while the log is closed (a producer being replaced, brokers down): reads
    // would fail, voids be refused, and a replaced producer's decisions are then first judged
    // once its replacement is seen, after its quiet period.
    if (!log_.healthy()) continue;
    const Clock::time_point now = Clock::now();
    SeeGeneration(log_.producer_generation(), now);
    FinishPersistedVoids();
    JudgeDue(now);
    AppendVoids();
  }
}

void InDoubtSettler::TakeIncoming() {
  {
    std::lock_guard lock(mutex_);
    incoming_.swap(taking_);  // both keep their capacity: no allocation under the lock
  }
  for (auto& [event, generation] : taking_) {
    // held_ counted this event when Add took it, so a free entry exists.
    Entry& entry = entries_[free_.back()];
    free_.pop_back();
    entry.step = Entry::Step::kJudge;
    entry.decision = std::move(event);
    entry.generation = generation;
    entry.partition = reader_->PartitionOf(entry.decision.campaign);
  }
  taking_.clear();
}

void InDoubtSettler::SeeGeneration(std::uint64_t generation, Clock::time_point now) {
  if (generation <= generation_) return;
  generation_ = generation;
  generation_seen_at_ = now;
}

void InDoubtSettler::FinishPersistedVoids() {
  for (std::uint32_t i = 0; i < settler_options_.capacity; ++i) {
    Entry& entry = entries_[i];
    if (entry.step != Entry::Step::kAwaitVoid) continue;
    if (!entry.void_heard.load(std::memory_order_acquire)) continue;
    entry.void_heard.store(false, std::memory_order_relaxed);
    const std::uint64_t generation = entry.void_generation.load(std::memory_order_relaxed);
    if (generation == 0) {
      // Only when the log stops (it appends a void again until Kafka has it otherwise).
      probe_->retries_.fetch_add(1, SettlerProbe::kRelaxed);
      entry.step = Entry::Step::kAppendVoid;
    } else if (generation == entry.generation) {
      // The same idempotent producer acknowledged the void after the decision: the decision is
      // in the log before the void, or never will be. Either way replay ends without it.
      Restock(entry);
    } else {
      // A later producer sent the void: the decision's producer may still land it after the
      // void. Judge from the log once that producer is quiet.
      SeeGeneration(generation, Clock::now());
      entry.void_persisted = true;
      entry.step = Entry::Step::kJudge;
    }
  }
}

bool InDoubtSettler::Quiet(const Entry& entry, Clock::time_point now) const {
  // The decision's producer is the current one: the void (sent by it) fences the decision.
  if (entry.generation >= generation_) return true;
  return now - generation_seen_at_ >= settler_options_.replaced_producer_quiet;
}

void InDoubtSettler::JudgeDue(Clock::time_point now) {
  // partition -> entries due, judged with one read of the partition.
  std::map<std::int32_t, std::vector<Entry*>> due;
  for (std::uint32_t i = 0; i < settler_options_.capacity; ++i) {
    Entry& entry = entries_[i];
    if (entry.step == Entry::Step::kJudge && now >= entry.not_before && Quiet(entry, now)) {
      due[entry.partition].push_back(&entry);
    }
  }
  for (auto& [partition, entries] : due) {
    std::vector<Replayed> replays;
    replays.reserve(entries.size());
    engine::TimePoint since = entries.front()->decision.at;
    for (Entry* entry : entries) {
      replays.emplace_back(entry->decision);
      since = std::min(since, entry->decision.at);
    }
    const bool read = reader_->Read(partition, since - kDecisionClockMargin, [&](const Event& e) {
      for (Replayed& replay : replays)
        replay.Observe(e);
    });
    if (!read) {
      probe_->retries_.fetch_add(1, SettlerProbe::kRelaxed);
      for (Entry* entry : entries)
        entry->not_before = now + kReadRetryDelay;
      continue;
    }
    for (std::size_t i = 0; i < entries.size(); ++i)
      Decide(*entries[i], replays[i].verdict());
  }
}

void InDoubtSettler::Decide(Entry& entry, LogVerdict verdict) {
  if (verdict == LogVerdict::kStands) {
    // Recovery would rebuild it: it stands, and the client's retry hears its original answer.
    engine_.SettleInDoubt(entry.decision, true);
    probe_->settled_persisted_.fetch_add(1, SettlerProbe::kRelaxed);
    Release(entry);
    return;
  }
  if (entry.void_persisted) {
    // Absent (the void in the log is a no-op on replay) or voided after it: replay ends
    // without the decision, and nothing of the quiet producer can land any more.
    Restock(entry);
    return;
  }
  entry.void_event = engine_.SettleInDoubt(entry.decision, false);
  if (!entry.void_event) {
    Release(entry);  // no longer in doubt: a reservation moved before it was marked
    return;
  }
  entry.step = Entry::Step::kAppendVoid;
}

void InDoubtSettler::AppendVoids() {
  for (std::uint32_t i = 0; i < settler_options_.capacity; ++i) {
    Entry& entry = entries_[i];
    if (entry.step != Entry::Step::kAppendVoid) continue;
    // Sequenced by the engine's control plane, so appended under its WorkerId.
    const std::optional<engine::LogTicket> ticket =
        log_.Append(engine::WorkerId{options_.workers}, *entry.void_event);
    if (!ticket) {
      probe_->retries_.fetch_add(1, SettlerProbe::kRelaxed);  // log unhealthy or full: later
      continue;
    }
    entry.step = Entry::Step::kAwaitVoid;
    log_.Await(*ticket, entry);
  }
}

void InDoubtSettler::Restock(Entry& entry) {
  engine_.ApplyVoid(*entry.void_event);
  probe_->settled_voided_.fetch_add(1, SettlerProbe::kRelaxed);
  Release(entry);
}

void InDoubtSettler::Release(Entry& entry) {
  entry.step = Entry::Step::kFree;
  entry.void_event.reset();
  entry.void_persisted = false;
  entry.not_before = {};
  free_.push_back(static_cast<std::uint32_t>(&entry - entries_.get()));
  held_.fetch_sub(1, std::memory_order_relaxed);
  probe_->waiting_.fetch_sub(1, SettlerProbe::kRelaxed);
}

}  // namespace hotdeal::persistence
