// Audit checks: local consistency of the answers, campaign counters, per-user server reads.
#include "audit.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "batch.h"
#include "clock.h"

namespace hotdeal::bench {
namespace {

Check Make(std::string name, bool pass, std::string detail) {
  return {std::move(name), pass ? Verdict::kPass : Verdict::kFail, std::move(detail)};
}

// How many claims a correct server hands out: every unit when more users than units press.
int64_t ExpectedClaims(const Options& options) {
  return std::min(options.users, options.stock);
}

// Users who order are audited by their orders (orders_audit.h), not here.
std::vector<int32_t> SelectUsers(const Options& options, const SalePlan& plan,
                                 const std::vector<UserRecord>& users) {
  std::vector<int32_t> selected;
  selected.reserve(users.size());
  const auto count = static_cast<int32_t>(users.size());
  if (options.audit == AuditMode::kFull) {
    for (int32_t user = 0; user < count; ++user) {
      if (!plan.Orders(user)) selected.push_back(user);
    }
    return selected;
  }
  // Every user told of a claim or left in doubt, plus a seeded sample of those told "no".
  std::vector<int32_t> told_no;
  for (int32_t user = 0; user < count; ++user) {
    if (plan.Orders(user)) continue;
    const uint8_t told = users[static_cast<std::size_t>(user)].told;
    (told == kToldNo ? told_no : selected).push_back(user);
  }
  std::mt19937_64 random(static_cast<uint64_t>(options.seed));
  std::shuffle(told_no.begin(), told_no.end(), random);
  told_no.resize(
      std::min<std::size_t>(told_no.size(), static_cast<std::size_t>(options.audit_sample)));
  selected.insert(selected.end(), told_no.begin(), told_no.end());
  return selected;
}

}  // namespace

std::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass:
      return "PASS";
    case Verdict::kFail:
      return "FAIL";
    case Verdict::kNotChecked:
      return "NOT CHECKED";
  }
  return "?";
}

Check CheckWholeSale(const LoopStats& loop, int64_t not_sent) {
  return Make("the whole sale was played (no request or time cap hit)",
              not_sent == 0 && loop.abandoned_in_flight == 0 && !loop.deadline_hit,
              std::to_string(not_sent) + " requests not sent, " +
                  std::to_string(loop.abandoned_in_flight) + " abandoned in flight");
}

std::vector<Check> CheckAnswers(const Options& options, const SaleStats& stats,
                                const std::vector<ClaimSeen>& claims) {
  std::vector<Check> checks;
  const auto known = static_cast<int64_t>(claims.size());
  const int64_t expected = ExpectedClaims(options);
  checks.push_back(Make(
      "claims granted == " + std::to_string(expected), known == expected,
      std::to_string(known) + " distinct claim_ids told to users (" +
          std::to_string(std::count_if(claims.begin(), claims.end(),
                                       [](const ClaimSeen& claim) { return claim.seen_granted; })) +
          " seen in a 201)"));
  checks.push_back(Make("no user told two different claim_ids", stats.two_claims == 0,
                        std::to_string(stats.two_claims) + " users"));
  checks.push_back(
      Make("every 201 carries claim_id and coupon_code for its user",
           stats.bad_grants == 0 && stats.unreadable_bodies == 0,
           std::to_string(stats.bad_grants) + " malformed, " +
               std::to_string(stats.unreadable_bodies) + " unreadable bodies" +
               (stats.first_problem.empty() ? "" : "; first: " + stats.first_problem)));
  std::unordered_set<std::string_view> claim_ids;
  std::unordered_set<std::string_view> coupon_codes;
  claim_ids.reserve(claims.size());
  coupon_codes.reserve(claims.size());
  int64_t shared_ids = 0;
  int64_t shared_codes = 0;
  for (const ClaimSeen& claim : claims) {
    if (!claim_ids.insert(claim.claim_id).second) ++shared_ids;
    if (!claim.coupon_code.empty() && !coupon_codes.insert(claim.coupon_code).second) {
      ++shared_codes;
    }
  }
  checks.push_back(Make("claim_ids distinct across users", shared_ids == 0,
                        std::to_string(shared_ids) + " claim_ids held by more than one user"));
  checks.push_back(Make("coupon codes distinct", shared_codes == 0,
                        std::to_string(coupon_codes.size()) + " codes, " +
                            std::to_string(shared_codes) + " repeated"));
  return checks;
}

Check CheckCampaign(const Options& options, const std::optional<CampaignState>& campaign,
                    int64_t claims_known) {
  const bool sells_out = options.users >= options.stock;
  const std::string want_status = sells_out ? "sold_out" : "live";
  const int64_t want_remaining = sells_out ? 0 : options.stock - claims_known;
  const std::string name = "campaign shows remaining == " + std::to_string(want_remaining) +
                           " and status " + want_status;
  if (!campaign) return {name, Verdict::kFail, "GET /v1/campaigns/{id} could not be read"};
  return Make(name,
              campaign->remaining == want_remaining && campaign->status == want_status &&
                  campaign->stock == options.stock,
              "stock " + std::to_string(campaign->stock) + ", remaining " +
                  std::to_string(campaign->remaining) + ", status " + campaign->status);
}

ServerAuditResult AuditUsers(LoadLoop& loop, const Options& options, const SalePlan& plan,
                             const std::vector<UserRecord>& users,
                             const std::vector<ClaimSeen>& claims, int64_t deadline_ns) {
  ServerAuditResult result;
  const std::vector<int32_t> selected = SelectUsers(options, plan, users);
  // A claim whose decision the durable log has not acknowledged yet answers 503 (pending, or in
  // doubt while the server settles it): read those users again after the Retry-After second.
  std::vector<int32_t> unread = selected;
  std::vector<int32_t> busy;
  AnswerReader reader;
  auto mismatch = [&](int32_t user, const std::string& why) {
    ++result.mismatches;
    if (result.first_mismatch.empty()) {
      result.first_mismatch = "u-" + std::to_string(user) + ": " + why;
    }
  };
  auto read = [&](int index, char* out, std::size_t capacity) {
    std::array<char, 16> user_buffer;
    char target[192];
    BufferWriter path(target, sizeof target);
    path.Append("/v1/campaigns/").Append(plan.campaign_id).Append("/claims/");
    const int32_t user = unread[static_cast<std::size_t>(index)];
    path.Append(UserId(plan, user, user_buffer));
    if (!path.ok()) return std::size_t{0};
    return FormatRequest(out, capacity, "GET", path.view(), plan.host,
                         UserAuthorization(plan, user), {});
  };
  auto check = [&](int index, const ParsedResponse* response, std::optional<Failure> failure) {
    const int32_t user = unread[static_cast<std::size_t>(index)];
    const UserRecord& record = users[static_cast<std::size_t>(user)];
    if (!failure && response->status_code == 503) {
      busy.push_back(user);
      return;
    }
    ++result.audited;
    ClaimFields fields;
    const bool has_claim = response != nullptr && response->status_code == 200 &&
                           reader.ReadClaim(response->body, fields);
    if (failure || (!has_claim && response->status_code != 404)) {
      ++result.errors;
      mismatch(user, failure ? std::string(FailureName(*failure))
                             : "GET answered " + std::to_string(response->status_code));
      return;
    }
    result.server_claims += has_claim ? 1 : 0;
    if (record.claim >= 0) {
      const ClaimSeen& told = claims[static_cast<std::size_t>(record.claim)];
      if (!has_claim) {
        mismatch(user, "told claim " + told.claim_id + ", server has none");
      } else if (fields.claim_id != told.claim_id ||
                 (!told.coupon_code.empty() && fields.coupon_code != told.coupon_code)) {
        mismatch(user,
                 "told claim " + told.claim_id + ", server has " + std::string(fields.claim_id));
      }
    } else if (record.told == kToldNo) {
      if (has_claim) mismatch(user, "told no, server has claim " + std::string(fields.claim_id));
    } else {
      // No definitive answer reached this user: whatever the server holds is the truth.
      (has_claim ? result.in_doubt_claimed : result.in_doubt_none) += 1;
    }
  };
  constexpr int kPassesMax = 5;
  for (int pass = 0; pass < kPassesMax && !unread.empty(); ++pass) {
    if (pass > 0) {
      const int64_t wake_ns = SteadyNowNs() + kNsPerSecond;  // the server's Retry-After: 1
      if (wake_ns >= deadline_ns) break;
      std::this_thread::sleep_for(std::chrono::nanoseconds(kNsPerSecond));
    }
    BatchSource source(static_cast<int>(unread.size()), read, check);
    loop.Run(source, deadline_ns);
    unread.swap(busy);
    busy.clear();
  }
  result.not_audited = static_cast<int64_t>(selected.size()) - result.audited;
  return result;
}

std::vector<Check> CheckServerAudit(const Options& options, const ServerAuditResult& result,
                                    const std::optional<CampaignState>& campaign,
                                    int64_t claims_known) {
  std::vector<Check> checks;
  if (options.audit == AuditMode::kNone) {
    checks.push_back({"users' claims match the server", Verdict::kNotChecked, "--audit none"});
    return checks;
  }
  const char* scope = options.audit == AuditMode::kFull ? "all users" : "sampled users";
  checks.push_back(
      Make(std::string("users' claims match the server (") + scope + ")",
           result.mismatches == 0 && result.errors == 0 && result.not_audited == 0,
           std::to_string(result.audited) + " checked, " + std::to_string(result.not_audited) +
               " not read in time (time cap, or 503 in every pass), " +
               std::to_string(result.mismatches) + " mismatches, " + std::to_string(result.errors) +
               " errors; in doubt: " + std::to_string(result.in_doubt_claimed) + " hold a claim, " +
               std::to_string(result.in_doubt_none) + " none" +
               (result.first_mismatch.empty() ? "" : "; first: " + result.first_mismatch)));
  if (options.audit == AuditMode::kFull) {
    const std::string detail = std::to_string(result.server_claims) + " claims on the server, " +
                               std::to_string(claims_known) + " told to users";
    if (!campaign) {
      checks.push_back({"server's claims == stock - remaining", Verdict::kFail,
                        detail + "; campaign unreadable"});
    } else {
      checks.push_back(Make("server's claims == stock - remaining == claims told to users",
                            result.server_claims == campaign->stock - campaign->remaining &&
                                result.server_claims == claims_known,
                            detail + ", stock - remaining = " +
                                std::to_string(campaign->stock - campaign->remaining)));
    }
  }
  return checks;
}

}  // namespace hotdeal::bench
