// The open-loop sale: schedule, per-answer bookkeeping, retries with back-off.
#include "flash_sale.h"

#include <algorithm>
#include <cassert>
#include <charconv>

#include "batch.h"

namespace hotdeal::bench {
namespace {

// Min-heap order on intended send time.
bool LaterFirst(const Attempt& a, const Attempt& b) {
  return a.intended_ns > b.intended_ns;
}

Outcome Classify(int status, std::string_view error) {
  switch (status) {
    case 201:
      return Outcome::kGranted;
    case 409:
      if (error == "sold_out") return Outcome::kSoldOut;
      if (error == "already_claimed") return Outcome::kAlreadyClaimed;
      return Outcome::kOther;
    case 403:
      if (error == "not_started") return Outcome::kNotStarted;
      if (error == "ended") return Outcome::kEnded;
      return Outcome::kOther;
    case 429:
      return Outcome::kRateLimited;
    case 503:
      return Outcome::kUnavailable;
    default:
      return Outcome::kOther;
  }
}

}  // namespace

std::string_view UserId(const SalePlan& plan, int32_t user, std::array<char, 16>& buffer) {
  if (!plan.user_ids.empty()) return plan.user_ids[static_cast<std::size_t>(user)];
  buffer[0] = 'u';
  buffer[1] = '-';
  const auto end = std::to_chars(buffer.data() + 2, buffer.data() + buffer.size(), user).ptr;
  return {buffer.data(), static_cast<std::size_t>(end - buffer.data())};
}

std::string UserAuthorization(const SalePlan& plan, int32_t user) {
  if (plan.user_tokens.empty()) return {};
  return "Authorization: Bearer " + plan.user_tokens[static_cast<std::size_t>(user)] + "\r\n";
}

void ChooseOrderers(SalePlan& plan, int64_t users, double sale_percent) {
  // Its own stream, so the same seed keeps the same arrivals whatever the mix.
  std::mt19937_64 random(plan.seed ^ 0x5a1e);
  std::bernoulli_distribution orders(std::clamp(sale_percent / 100.0, 0.0, 1.0));
  plan.orders.assign(static_cast<std::size_t>(users), 0);
  for (uint8_t& order : plan.orders)
    order = orders(random) ? 1 : 0;
}

void OrderStats::Merge(const OrderStats& from) {
  reserved += from.reserved;
  sold_out += from.sold_out;
  limit_exceeded += from.limit_exceeded;
  outside_window += from.outside_window;
  confirmed += from.confirmed;
  cancelled += from.cancelled;
  conflicts += from.conflicts;
  abandoned += from.abandoned;
  unavailable += from.unavailable;
  rate_limited += from.rate_limited;
  other += from.other;
  reserves_in_doubt += from.reserves_in_doubt;
  steps_in_doubt += from.steps_in_doubt;
  bad_answers += from.bad_answers;
  last_reserve_ns = std::max(last_reserve_ns, from.last_reserve_ns);
}

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kGranted:
      return "granted";
    case Outcome::kSoldOut:
      return "sold_out";
    case Outcome::kAlreadyClaimed:
      return "already_claimed";
    case Outcome::kNotStarted:
      return "not_started";
    case Outcome::kEnded:
      return "ended";
    case Outcome::kRateLimited:
      return "rate_limited";
    case Outcome::kUnavailable:
      return "unavailable";
    case Outcome::kOther:
      return "other";
  }
  return "unknown";
}

int OutcomeStatus(Outcome outcome) {
  switch (outcome) {
    case Outcome::kGranted:
      return 201;
    case Outcome::kSoldOut:
    case Outcome::kAlreadyClaimed:
      return 409;
    case Outcome::kNotStarted:
    case Outcome::kEnded:
      return 403;
    case Outcome::kRateLimited:
      return 429;
    case Outcome::kUnavailable:
      return 503;
    case Outcome::kOther:
      return 0;
  }
  return 0;
}

void BuildSchedule(SalePlan& plan, Arrival arrival, int64_t ramp_ns, double repeat_percent,
                   int64_t repeat_gap_ms_max) {
  const auto users = static_cast<std::size_t>(plan.users);
  std::mt19937_64 random(plan.seed);
  plan.press_offset_ns.assign(users, 0);
  switch (arrival) {
    case Arrival::kUniform:
      for (std::size_t i = 0; i < users; ++i) {
        plan.press_offset_ns[i] = ramp_ns * static_cast<int64_t>(i) / plan.users;
      }
      break;
    case Arrival::kPoisson: {
      // N arrivals of a Poisson process, given that N fall in the ramp, are N sorted uniform
      // points: the ramp keeps its length and the gaps become exponential.
      std::uniform_int_distribution<int64_t> at(0, std::max<int64_t>(0, ramp_ns - 1));
      for (int64_t& offset : plan.press_offset_ns)
        offset = at(random);
      std::sort(plan.press_offset_ns.begin(), plan.press_offset_ns.end());
      break;
    }
    case Arrival::kBurst:
      break;
  }
  plan.repeat_gap_us.assign(users, 0);
  std::bernoulli_distribution repeats(std::clamp(repeat_percent / 100.0, 0.0, 1.0));
  // A double press comes 10 ms (a fast double click) to repeat_gap_ms_max later.
  std::uniform_int_distribution<int32_t> gap_us(
      10'000, static_cast<int32_t>(std::max<int64_t>(10, repeat_gap_ms_max) * 1000));
  for (int32_t& gap : plan.repeat_gap_us) {
    if (repeats(random)) gap = gap_us(random);
  }
}

void SaleStats::Merge(const SaleStats& other) {
  for (int i = 0; i < kOutcomeCount; ++i)
    outcomes[i] += other.outcomes[i];
  for (std::size_t i = 0; i < statuses.size(); ++i)
    statuses[i] += other.statuses[i];
  for (int i = 0; i < kFailureCount; ++i)
    failures[i] += other.failures[i];
  corrected.Merge(other.corrected);
  service.Merge(other.service);
  press.Merge(other.press);
  send_lag.Merge(other.send_lag);
  attempts += other.attempts;
  retries += other.retries;
  presses_given_up += other.presses_given_up;
  not_sent_cap += other.not_sent_cap;
  bad_grants += other.bad_grants;
  unreadable_bodies += other.unreadable_bodies;
  two_claims += other.two_claims;
  sold_out_to_holders += other.sold_out_to_holders;
  if (first_problem.empty()) first_problem = other.first_problem;
  last_grant_ns = std::max(last_grant_ns, other.last_grant_ns);
  const auto middle = static_cast<std::ptrdiff_t>(sold_out_ns.size());
  sold_out_ns.insert(sold_out_ns.end(), other.sold_out_ns.begin(), other.sold_out_ns.end());
  std::inplace_merge(sold_out_ns.begin(), sold_out_ns.begin() + middle, sold_out_ns.end());
  orders.Merge(other.orders);
}

FireSource::FireSource(const SalePlan& plan, int thread, int threads,
                       std::vector<UserRecord>& users)
    : plan_(plan),
      threads_(threads),
      next_user_(thread),
      users_(users),
      later_max_(2 * static_cast<std::size_t>(plan.users / threads + 1)),
      random_(plan.seed + static_cast<uint64_t>(thread)) {
  later_.reserve(later_max_);
  stats_.sold_out_ns.reserve(later_max_);
}

bool FireSource::PeekNextNs(int64_t& intended_ns) {
  if (stats_.attempts >= plan_.requests_max) return false;
  const bool has_press = next_user_ < plan_.users;
  if (!has_press && later_.empty()) return false;
  intended_ns = INT64_MAX;
  if (has_press) {
    intended_ns = plan_.open_ns + plan_.press_offset_ns[static_cast<std::size_t>(next_user_)];
  }
  if (!later_.empty()) intended_ns = std::min(intended_ns, later_.front().intended_ns);
  return true;
}

Attempt FireSource::Pop() {
  ++stats_.attempts;
  const bool has_press = next_user_ < plan_.users;
  const int64_t press_ns =
      has_press ? plan_.open_ns + plan_.press_offset_ns[static_cast<std::size_t>(next_user_)]
                : INT64_MAX;
  if (!later_.empty() && later_.front().intended_ns < press_ns) {
    std::pop_heap(later_.begin(), later_.end(), LaterFirst);
    const Attempt attempt = later_.back();
    later_.pop_back();
    return attempt;
  }
  assert(has_press);
  Attempt attempt;
  attempt.user = next_user_;
  attempt.intended_ns = press_ns;
  attempt.press_intended_ns = press_ns;
  next_user_ += threads_;
  const int32_t gap_us = plan_.repeat_gap_us[static_cast<std::size_t>(attempt.user)];
  if (gap_us > 0) {
    Attempt repeat = attempt;
    repeat.press = 1;
    repeat.intended_ns = repeat.press_intended_ns = press_ns + int64_t{gap_us} * 1000;
    Queue(repeat);
  }
  return attempt;
}

void FireSource::Queue(const Attempt& attempt) {
  assert(later_.size() < later_max_);
  later_.push_back(attempt);
  std::push_heap(later_.begin(), later_.end(), LaterFirst);
}

std::size_t FireSource::WriteRequest(const Attempt& attempt, char* out, std::size_t capacity) {
  std::array<char, 16> user_buffer;
  const std::string_view user_id = UserId(plan_, attempt.user, user_buffer);
  if (plan_.Orders(attempt.user)) return WriteOrderRequest(attempt, user_id, out, capacity);
  // The key names the press, not the try: a retry must be recognised as the same press.
  char headers[1024];
  BufferWriter key(headers, sizeof headers);
  key.Append("Idempotency-Key: ").Append(plan_.run_tag).Append("-").Append(user_id);
  key.Append("-").Append(int64_t{attempt.press}).Append("\r\n");
  key.Append(UserAuthorization(plan_, attempt.user));
  char body[128];
  BufferWriter json(body, sizeof body);
  json.Append("{\"user_id\":\"").Append(user_id).Append("\"}");
  char target[128];
  BufferWriter path(target, sizeof target);
  path.Append("/v1/campaigns/").Append(plan_.campaign_id).Append("/claims");
  if (!key.ok() || !json.ok() || !path.ok()) return 0;
  return FormatRequest(out, capacity, "POST", path.view(), plan_.host, key.view(), json.view());
}

std::size_t FireSource::WriteOrderRequest(const Attempt& attempt, std::string_view user_id,
                                          char* out, std::size_t capacity) {
  char headers[1024];
  BufferWriter head(headers, sizeof headers);
  char target[256];
  BufferWriter path(target, sizeof target);
  char body[160];
  BufferWriter json(body, sizeof body);
  json.Append("{\"user_id\":\"").Append(user_id).Append("\"");
  if (attempt.step == kStepPress) {
    head.Append("Idempotency-Key: ").Append(plan_.run_tag).Append("-").Append(user_id);
    head.Append("-o").Append(int64_t{attempt.press}).Append("\r\n");
    head.Append(UserAuthorization(plan_, attempt.user));
    path.Append("/v1/campaigns/").Append(plan_.sale_campaign_id).Append("/orders");
    json.Append(",\"quantity\":").Append(plan_.quantity);
  } else {
    // Confirm and cancel are the same move again when retried: no key needed.
    const bool by_service = attempt.step == kStepConfirm && !plan_.service_token.empty();
    if (by_service) {
      head.Append("Authorization: Bearer ").Append(plan_.service_token).Append("\r\n");
    } else {
      head.Append(UserAuthorization(plan_, attempt.user));
    }
    path.Append("/v1/orders/").Append(orders_[static_cast<std::size_t>(attempt.order)].order_id);
    path.Append(attempt.step == kStepConfirm ? "/confirm" : "/cancel");
  }
  json.Append("}");
  if (!head.ok() || !json.ok() || !path.ok()) return 0;
  return FormatRequest(out, capacity, "POST", path.view(), plan_.host, head.view(), json.view());
}

void FireSource::OnResponse(const Attempt& attempt, const ParsedResponse& response, int64_t sent_ns,
                            int64_t now_ns) {
  stats_.statuses[static_cast<std::size_t>(std::min(response.status_code, 599))] += 1;
  stats_.corrected.Record(now_ns - attempt.intended_ns);
  stats_.service.Record(now_ns - sent_ns);
  stats_.send_lag.Record(sent_ns - attempt.intended_ns);
  ClaimFields fields;
  if (!response.body.empty() && !reader_.ReadClaim(response.body, fields)) {
    ++stats_.unreadable_bodies;
    Problem("unreadable JSON body", attempt.user);
  }
  if (plan_.Orders(attempt.user)) {
    OnOrderAnswer(attempt, response, fields, now_ns);
    return;
  }
  const Outcome outcome = Classify(response.status_code, fields.error);
  ++stats_.outcomes[static_cast<std::size_t>(outcome)];
  UserRecord& user = users_[static_cast<std::size_t>(attempt.user)];
  switch (outcome) {
    case Outcome::kGranted: {
      std::array<char, 16> user_buffer;
      const bool for_this_user =
          fields.user_id.empty() || fields.user_id == UserId(plan_, attempt.user, user_buffer);
      if (fields.claim_id.empty() || fields.coupon_code.empty() || !for_this_user) {
        ++stats_.bad_grants;
        Problem("201 without claim_id/coupon_code or for another user", attempt.user);
      } else {
        NoteClaim(attempt, fields.claim_id, fields.coupon_code, true);
      }
      stats_.last_grant_ns = now_ns;
      break;
    }
    case Outcome::kAlreadyClaimed:
      if (fields.claim_id.empty()) {
        ++stats_.bad_grants;
        Problem("409 already_claimed without claim_id", attempt.user);
      } else {
        NoteClaim(attempt, fields.claim_id, {}, false);
      }
      break;
    case Outcome::kSoldOut:
      stats_.sold_out_ns.push_back(now_ns);
      if (user.claim >= 0) ++stats_.sold_out_to_holders;
      user.told |= kToldNo;
      break;
    case Outcome::kNotStarted:
    case Outcome::kEnded:
      user.told |= kToldNo;
      break;
    case Outcome::kRateLimited:
    case Outcome::kUnavailable:
      // Not an answer to the press: the user tries again with the same key.
      RetryOrGiveUp(attempt, now_ns, response.retry_after_s);
      return;
    case Outcome::kOther:
      user.told |= kToldOther;
      break;
  }
  stats_.press.Record(now_ns - attempt.press_intended_ns);
}

void FireSource::OnOrderAnswer(const Attempt& attempt, const ParsedResponse& response,
                               const ClaimFields& fields, int64_t now_ns) {
  OrderStats& counts = stats_.orders;
  const int status = response.status_code;
  if (status == 503 || status == 429) {
    ++(status == 503 ? counts.unavailable : counts.rate_limited);
    RetryOrGiveUp(attempt, now_ns, response.retry_after_s);
    return;
  }
  stats_.press.Record(now_ns - attempt.press_intended_ns);
  if (attempt.step == kStepPress) {
    if (status == 201 && !fields.order_id.empty() && fields.status == "reserved") {
      ++counts.reserved;
      counts.last_reserve_ns = now_ns;
      // The fate is the order's, drawn when it is known, so retries cannot change it.
      const auto roll = static_cast<int>(random_() % 100);
      const Fate fate = roll < plan_.confirm_percent                          ? Fate::kConfirm
                        : roll < plan_.confirm_percent + plan_.cancel_percent ? Fate::kCancel
                                                                              : Fate::kAbandon;
      orders_.push_back({attempt.user, std::string(fields.order_id), fate, OrderTold::kReserved});
      if (fate == Fate::kAbandon) {
        ++counts.abandoned;
        return;
      }
      Attempt step = attempt;
      step.step = fate == Fate::kConfirm ? kStepConfirm : kStepCancel;
      step.order = static_cast<int32_t>(orders_.size() - 1);
      step.attempt = 0;
      const auto pay_ns = static_cast<int64_t>(
          random_() % static_cast<uint64_t>(std::max<int64_t>(1, plan_.pay_ns)));
      step.intended_ns = step.press_intended_ns = now_ns + pay_ns;
      Queue(step);
    } else if (status == 201) {
      ++counts.bad_answers;
      Problem("201 to a reservation without order_id or status reserved", attempt.user);
    } else if (status == 409 && fields.error == "sold_out") {
      ++counts.sold_out;
      stats_.sold_out_ns.push_back(now_ns);
    } else if (status == 409 && fields.error == "limit_exceeded") {
      ++counts.limit_exceeded;
    } else if (status == 403 && (fields.error == "not_started" || fields.error == "ended")) {
      ++counts.outside_window;
    } else {
      ++counts.other;
      Problem("reservation answered " + std::to_string(status), attempt.user);
    }
    return;
  }
  OrderSeen& order = orders_[static_cast<std::size_t>(attempt.order)];
  const bool confirm = attempt.step == kStepConfirm;
  if (status == 200 && fields.status == (confirm ? "confirmed" : "cancelled")) {
    ++(confirm ? counts.confirmed : counts.cancelled);
    order.told = confirm ? OrderTold::kConfirmed : OrderTold::kCancelled;
  } else if (status == 409 && fields.error == "conflict") {
    ++counts.conflicts;
    order.told = OrderTold::kConflict;
  } else {
    ++(status == 200 ? counts.bad_answers : counts.other);
    Problem(std::string(confirm ? "confirm" : "cancel") + " answered " + std::to_string(status),
            attempt.user);
  }
}

void FireSource::OnFailure(const Attempt& attempt, Failure failure, int64_t now_ns) {
  ++stats_.failures[static_cast<std::size_t>(failure)];
  RetryOrGiveUp(attempt, now_ns, -1);
}

int64_t FireSource::QueuedCount() const {
  const int64_t presses_left =
      next_user_ < plan_.users ? (plan_.users - next_user_ + threads_ - 1) / threads_ : 0;
  return presses_left + static_cast<int64_t>(later_.size());
}

void FireSource::GiveUp(const Attempt& attempt, int64_t now_ns) {
  ++stats_.presses_given_up;
  stats_.press.Record(now_ns - attempt.press_intended_ns);
  if (!plan_.Orders(attempt.user)) {
    users_[static_cast<std::size_t>(attempt.user)].told |= kToldUnknown;
  } else if (attempt.step == kStepPress) {
    ++stats_.orders.reserves_in_doubt;
  } else {
    ++stats_.orders.steps_in_doubt;
    orders_[static_cast<std::size_t>(attempt.order)].told = OrderTold::kUnknown;
  }
}

void FireSource::RetryOrGiveUp(const Attempt& attempt, int64_t now_ns, int retry_after_s) {
  if (attempt.attempt >= plan_.retries) {
    GiveUp(attempt, now_ns);
    return;
  }
  // The server's Retry-After when it gave one (never earlier, up to half again later so one
  // burst's retries do not come back together); else exponential back-off, +-50 % jitter.
  Attempt retry = attempt;
  ++retry.attempt;
  if (retry_after_s > 0) {
    std::uniform_real_distribution<double> jitter(1.0, 1.5);
    retry.intended_ns =
        now_ns + static_cast<int64_t>(static_cast<double>(retry_after_s) * 1e9 * jitter(random_));
  } else {
    std::uniform_real_distribution<double> jitter(0.5, 1.5);
    retry.intended_ns =
        now_ns + static_cast<int64_t>(static_cast<double>(plan_.backoff_ns << attempt.attempt) *
                                      jitter(random_));
  }
  ++stats_.retries;
  Queue(retry);
}

void FireSource::NoteClaim(const Attempt& attempt, std::string_view claim_id,
                           std::string_view coupon_code, bool granted) {
  UserRecord& user = users_[static_cast<std::size_t>(attempt.user)];
  user.told |= kToldClaim;
  if (user.claim < 0) {
    user.claim = static_cast<int32_t>(claims_.size());
    claims_.push_back({attempt.user, std::string(claim_id), std::string(coupon_code), granted});
    return;
  }
  ClaimSeen& seen = claims_[static_cast<std::size_t>(user.claim)];
  if (seen.claim_id != claim_id) {
    ++stats_.two_claims;
    Problem("a user was told two different claim_ids", attempt.user);
    return;
  }
  if (granted && !seen.seen_granted) {
    seen.seen_granted = true;
    seen.coupon_code = coupon_code;
  } else if (granted && seen.coupon_code != coupon_code) {
    ++stats_.bad_grants;
    Problem("one claim_id came with two different coupon_codes", attempt.user);
  }
}

void FireSource::Problem(std::string_view what, int32_t user) {
  if (!stats_.first_problem.empty()) return;
  stats_.first_problem = std::string(what) + " (user u-" + std::to_string(user) + ")";
}

}  // namespace hotdeal::bench
