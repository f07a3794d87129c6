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
  // The order flow: per user, 1 if they reserve units of the sale instead of claiming.
  std::string sale_campaign_id;
  std::vector<uint8_t> orders;
  int64_t quantity = 1;
  int confirm_percent = 0;
  int cancel_percent = 0;
  int64_t pay_ns = 0;
  // From --users-file, row i for user i; empty: ids are "u-<i>" and no token is sent.
  std::vector<std::string> user_ids;
  std::vector<std::string> user_tokens;
  std::string service_token;

  bool Orders(int32_t user) const {
    return !orders.empty() && orders[static_cast<std::size_t>(user)] != 0;
  }
};

// The user id every request uses for user `index`: the users file's, or "u-<index>".
std::string_view UserId(const SalePlan& plan, int32_t user, std::array<char, 16>& buffer);
// "Authorization: Bearer <user's token>\r\n", or "" without a users file.
std::string UserAuthorization(const SalePlan& plan, int32_t user);
// Decides who orders (--flow both: each user with probability sale_percent, seeded).
void ChooseOrderers(SalePlan& plan, int64_t users, double sale_percent);

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

// What happens to a reserved order, chosen when its reservation is told.
enum class Fate : uint8_t { kConfirm, kCancel, kAbandon };
// The last thing the tool was told about an order.
enum class OrderTold : uint8_t {
  kReserved,   // 201 to the reservation (and nothing since: abandoned, or a step not yet sent)
  kConfirmed,  // 200 to the service's confirm
  kCancelled,  // 200 to the user's cancel
  kConflict,   // 409 conflict to a confirm or cancel (the hold ran out first)
  kUnknown,    // a confirm or cancel gave up without an answer
};
// Attempt::step
inline constexpr uint8_t kStepPress = 0;
inline constexpr uint8_t kStepConfirm = 1;
inline constexpr uint8_t kStepCancel = 2;

struct OrderSeen {
  int32_t user = 0;
  std::string order_id;
  Fate fate = Fate::kAbandon;
  OrderTold told = OrderTold::kReserved;
};

// Counts of the order flow's answers; 503 and 429 were retried, not errors.
struct OrderStats {
  int64_t reserved = 0;
  int64_t sold_out = 0;
  int64_t limit_exceeded = 0;
  int64_t outside_window = 0;  // 403 not_started / ended
  int64_t confirmed = 0;
  int64_t cancelled = 0;
  int64_t conflicts = 0;  // 409 conflict to a confirm or cancel
  int64_t abandoned = 0;
  int64_t unavailable = 0;   // 503, retried
  int64_t rate_limited = 0;  // 429, retried
  int64_t other = 0;         // any other answer (an error)
  int64_t reserves_in_doubt = 0;
  int64_t steps_in_doubt = 0;
  int64_t bad_answers = 0;      // a 201 without order_id, or a 200 not in the expected status
  int64_t last_reserve_ns = 0;  // steady
  void Merge(const OrderStats& other);
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
  OrderStats orders;
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
  std::vector<OrderSeen>& orders() { return orders_; }

 private:
  // `retry_after_s`: the answer's Retry-After (-1: none, or no answer).
  void RetryOrGiveUp(const Attempt& attempt, int64_t now_ns, int retry_after_s);
  void GiveUp(const Attempt& attempt, int64_t now_ns);
  void Queue(const Attempt& attempt);
  void OnOrderAnswer(const Attempt& attempt, const ParsedResponse& response,
                     const ClaimFields& fields, int64_t now_ns);
  std::size_t WriteOrderRequest(const Attempt& attempt, std::string_view user_id, char* out,
                                std::size_t capacity);
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
  std::vector<OrderSeen> orders_;
  SaleStats stats_;
};

}  // namespace hotdeal::bench
