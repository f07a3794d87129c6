// After the sale: checks that what users were told adds up (exactly S granted, one claim per
// user, well-formed and distinct claims and coupon codes) and that the server agrees (the
// campaign's counters, and each audited user's claim as GET shows it). Each check ends as
// PASS, FAIL or NOT CHECKED with a one-line reason; the run passes only if none FAILs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "answers.h"
#include "flash_sale.h"
#include "load_loop.h"
#include "options.h"

namespace hotdeal::bench {

enum class Verdict { kPass, kFail, kNotChecked };
std::string_view VerdictName(Verdict verdict);

struct Check {
  std::string name;
  Verdict verdict = Verdict::kNotChecked;
  std::string detail;
};

// What GET /v1/campaigns/{id} said after the sale; nullopt if it could not be read.
struct CampaignState {
  int64_t stock = 0;
  int64_t remaining = 0;
  std::string status;
};

// Every press was sent and answered: neither the request cap nor the time cap cut the sale
// short (a cut sale proves nothing about the rest of the checks).
Check CheckWholeSale(const LoopStats& loop, int64_t not_sent);

// Checks on the answers alone. `claims` is the merged list (UserRecord::claim indexes it).
std::vector<Check> CheckAnswers(const Options& options, const SaleStats& stats,
                                const std::vector<ClaimSeen>& claims);

// Checks the campaign counters against the claims users were told about.
Check CheckCampaign(const Options& options, const std::optional<CampaignState>& campaign,
                    int64_t claims_known);

struct ServerAuditResult {
  int64_t audited = 0;
  int64_t mismatches = 0;
  int64_t errors = 0;       // a GET that failed or answered neither 200 nor 404
  int64_t not_audited = 0;  // selected, but the time cap came first or every read answered 503
  int64_t in_doubt_claimed =
      0;  // users without a definitive answer whom the server holds a claim for
  int64_t in_doubt_none = 0;
  int64_t server_claims = 0;  // 200s seen (all of the server's claims, in full mode)
  std::string first_mismatch;
};

// GETs each selected user's claim over `loop` (closed loop, all its connections) and compares it
// with what that user was told.
ServerAuditResult AuditUsers(LoadLoop& loop, const Options& options, const SalePlan& plan,
                             const std::vector<UserRecord>& users,
                             const std::vector<ClaimSeen>& claims, int64_t deadline_ns);

// Turns the server audit into checks (the full-mode count check needs the campaign state).
std::vector<Check> CheckServerAudit(const Options& options, const ServerAuditResult& result,
                                    const std::optional<CampaignState>& campaign,
                                    int64_t claims_known);

}  // namespace hotdeal::bench
