// The sale itself: who presses "claim" when (the open-loop schedule), what each answer means
// for that user, and the counters and latency histograms of the run. One FireSource per load
// thread; each owns the users u with u % threads == thread, so per-user records are written by
// exactly one thread and need no locks. Memory is fixed by the user count before the sale.
#pragma once

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "answers.h"
#include "histogram.h"
#include "load_loop.h"

namespace hotdeal::bench {

// "u-<index>": the user id every claim and audit request uses for user `index`.
std::string_view UserId(int32_t user, std::array<char, 16>& buffer);

enum class Arrival { kUniform, kPoisson, kBurst };

// Read-only during the sale; shared by all load threads.
struct SalePlan {
  std::string campaign_id;
  std::string host;  // Host header
  // Makes Idempotency-Keys unique to this run.
  std::string run_tag;
  int32_t users = 0;
  int64_t open_ns = 0;  // steady clock
  // Per user: when they press, from the opening; non-decreasing in user order.
  std::vector<int64_t> press_offset_ns;
  // Per user: how long after the first press the second comes; 0 = presses once.
  std::vector<int32_t> repeat_gap_us;
  int retries = 3;
  int64_t backoff_ns = 50'000'000;
  int64_t requests_max = 0;  // per load thread
  uint64_t seed = 1;
};

// Fills press_offset_ns and repeat_gap_us. `ramp_ns` spreads the presses; `repeat_percent` of
// users press again between 10 ms and repeat_gap_ms_max after their first press.
void BuildSchedule(SalePlan& plan, Arrival arrival, int64_t ramp_ns, double repeat_percent,
                   int64_t repeat_gap_ms_max);

enum class Outcome : uint8_t {
  kGranted,         // 201
  kSoldOut,         // 409 sold_out
  kAlreadyClaimed,  // 409 already_claimed
  kNotStarted,      // 403 not_started
  kEnded,           // 403 ended
  kRateLimited,     // 429
  kUnavailable,     // 503
  kOther,           // anything else (see the status table)
};
inline constexpr int kOutcomeCount = 8;
// The API's error code for the outcome ("granted" for 201, "other" for the rest).
std::string_view OutcomeName(Outcome outcome);
// Its HTTP status; 0 for kOther, which covers many.
int OutcomeStatus(Outcome outcome);

// What a user was told, as bits in UserRecord::told.
inline constexpr uint8_t kToldClaim = 1;    // a 201 or already_claimed with a claim_id
inline constexpr uint8_t kToldNo = 2;       // sold_out / not_started / ended
inline constexpr uint8_t kToldUnknown = 4;  // a press ended without a definitive answer
inline constexpr uint8_t kToldOther = 8;    // an unexpected status

struct UserRecord {
  int32_t claim = -1;  // index into the claims list (per thread during the sale, merged after)
  uint8_t told = 0;
};

// A claim a user was told about.
struct ClaimSeen {
  int32_t user = 0;
  std::string claim_id;
  std::string coupon_code;  // empty if only seen through already_claimed
  bool seen_granted = false;
};

struct SaleStats {
  std::array<int64_t, kOutcomeCount> outcomes{};
  std::array<int64_t, 600> statuses{};
  std::array<int64_t, kFailureCount> failures{};
  // Latency per answered attempt from its intended send time (coordinated-omission corrected)
  // and from the moment it really left (service time); and per press, from the press to its
  // final answer, across retries.
  LatencyHistogram corrected;
  LatencyHistogram service;
  LatencyHistogram press;
  // How late each attempt left against its intended time: the generator's own queueing (no
  // free connection) and wake-up lag. Large here means the server could not keep up with the
  // offered rate on C connections, or the generator itself was starved of CPU.
  LatencyHistogram send_lag;
  int64_t attempts = 0;
  int64_t retries = 0;
  int64_t presses_given_up = 0;
  int64_t not_sent_cap = 0;  // attempts dropped because the request cap was reached
  int64_t bad_grants = 0;    // 201 without claim_id / coupon_code, or for another user
  int64_t unreadable_bodies = 0;
  int64_t two_claims = 0;  // a user told two different claim_ids
  // A user already told of a claim later heard sold_out (not already_claimed) on a repeat:
  // legal by the audits, but worth knowing about the server's order of checks.
  int64_t sold_out_to_holders = 0;
  std::string first_problem;
  int64_t last_grant_ns = 0;         // steady
  std::vector<int64_t> sold_out_ns;  // receive times, in order
  void Merge(const SaleStats& other);
};

class FireSource : public AttemptSource {
 public:
  FireSource(const SalePlan& plan, int thread, int threads, std::vector<UserRecord>& users);

  bool PeekNextNs(int64_t& intended_ns) override;
  Attempt Pop() override;
  std::size_t WriteRequest(const Attempt& attempt, char* out, std::size_t capacity) override;
  void OnResponse(const Attempt& attempt, const ParsedResponse& response, int64_t sent_ns,
                  int64_t now_ns) override;
  void OnFailure(const Attempt& attempt, Failure failure, int64_t now_ns) override;

  // Attempts still queued when the loop stopped early (deadline).
  int64_t QueuedCount() const;
  SaleStats& stats() { return stats_; }
  std::vector<ClaimSeen>& claims() { return claims_; }

 private:
  void RetryOrGiveUp(const Attempt& attempt, int64_t now_ns);
  void NoteClaim(const Attempt& attempt, std::string_view claim_id, std::string_view coupon_code,
                 bool granted);
  void Problem(std::string_view what, int32_t user);

  const SalePlan& plan_;
  int threads_;
  int32_t next_user_;
  std::vector<UserRecord>& users_;
  // Repeats and retries, a min-heap on intended time. Each press has at most one attempt
  // queued or in flight, so two entries per owned user bound it; reserved up front.
  std::vector<Attempt> later_;
  std::size_t later_max_;
  std::mt19937_64 random_;
  AnswerReader reader_;
  std::vector<ClaimSeen> claims_;
  SaleStats stats_;
};

}  // namespace hotdeal::bench
