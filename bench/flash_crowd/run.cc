// Orchestration of a run: control plane calls, load threads, merge, audit, report.
#include "run.h"

#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <memory>
#include <ostream>
#include <thread>

#include "answers.h"
#include "audit.h"
#include "batch.h"
#include "clock.h"
#include "orders_audit.h"
#include "report.h"
#include "streams.h"

namespace hotdeal::bench {
namespace {

constexpr int64_t kNsPerMs = 1'000'000;

LoopConfig LoopFor(const Endpoint& endpoint, const Options& options, int connections) {
  LoopConfig config;
  config.address = endpoint.address;
  config.address_size = endpoint.address_size;
  config.connections = connections;
  config.request_timeout_ns = options.request_timeout_ms * kNsPerMs;
  return config;
}

struct Control {
  LoadLoop& loop;
  const Endpoint& endpoint;
  int64_t deadline_ns;

  HttpAnswer Call(std::string_view method, std::string_view target, std::string_view headers,
                  std::string_view body) const {
    HttpAnswer answer =
        CallOnce(loop, method, target, endpoint.host_header, headers, body, deadline_ns);
    // A keep-alive connection that sat idle may have been closed by the server just as it was
    // reused; a GET is safe to send once more, as every HTTP client does.
    if (answer.status == 0 && method == "GET") {
      answer = CallOnce(loop, method, target, endpoint.host_header, headers, body, deadline_ns);
    }
    return answer;
  }
};

// Reads the server's clock if it offers GET /v1/time, so the opening is the server's second.
// Best of a few samples, NTP style: the one with the shortest round trip bounds the error by
// half that trip, and an offset inside that bound (one host, one clock) is taken as zero
// rather than as noise that would fire the first presses early.
void SyncClock(const Control& control, RunReport& report) {
  constexpr int kSamples = 5;
  report.clock_source = "local clock (no GET /v1/time)";
  AnswerReader reader;
  int64_t best_round_trip_ns = INT64_MAX;
  for (int sample = 0; sample < kSamples; ++sample) {
    const int64_t before_ns = WallNowNs();
    const HttpAnswer answer = control.Call("GET", "/v1/time", {}, {});
    const int64_t after_ns = WallNowNs();
    const auto server_ns =
        answer.status == 200 ? reader.ReadServerTimeNs(answer.body) : std::nullopt;
    if (!server_ns) break;
    if (after_ns - before_ns >= best_round_trip_ns) continue;
    best_round_trip_ns = after_ns - before_ns;
    report.clock_offset_ns = *server_ns - (before_ns + after_ns) / 2;
  }
  if (best_round_trip_ns == INT64_MAX) return;
  report.clock_source = "server GET /v1/time";
  if (2 * std::abs(report.clock_offset_ns) <= best_round_trip_ns) report.clock_offset_ns = 0;
}

std::optional<CampaignState> ReadCampaign(const Control& control, const std::string& id,
                                          std::string* starts_at) {
  const HttpAnswer answer = control.Call("GET", "/v1/campaigns/" + id, {}, {});
  AnswerReader reader;
  CampaignFields fields;
  if (answer.status != 200 || !reader.ReadCampaign(answer.body, fields)) return std::nullopt;
  if (starts_at != nullptr) *starts_at = fields.starts_at;
  return CampaignState{fields.stock, fields.remaining, std::string(fields.status)};
}

// Creates the campaign (with --admin-token) or reads the existing one. Returns the opening on
// the server's wall clock, or nullopt after writing why to `err`.
std::optional<int64_t> SetUpCampaign(const Control& control, Options& options, RunReport& report,
                                     std::ostream& err) {
  if (!options.admin_token.empty()) {
    const int64_t server_now_ns = WallNowNs() + report.clock_offset_ns;
    const int64_t earliest_ns = server_now_ns + options.lead_ms * kNsPerMs;
    const int64_t starts_ns = (earliest_ns + kNsPerSecond - 1) / kNsPerSecond * kNsPerSecond;
    report.starts_at = FormatRfc3339(starts_ns);
    auto create = [&](const std::string& body) {
      const HttpAnswer answer = control.Call(
          "POST", "/v1/campaigns", "Authorization: Bearer " + options.admin_token + "\r\n", body);
      if (answer.status == 201) return true;
      err << "flash_crowd: POST /v1/campaigns answered "
          << (answer.status == 0 ? answer.failure
                                 : std::to_string(answer.status) + " " + answer.body)
          << '\n';
      return false;
    };
    if (options.flow != Flow::kOrders &&
        !create("{\"id\":\"" + report.campaign_id +
                "\",\"kind\":\"coupon\",\"name\":\"flash_crowd\",\"stock\":" +
                std::to_string(options.stock) + ",\"per_user_limit\":1,\"starts_at\":\"" +
                report.starts_at + "\"}")) {
      return std::nullopt;
    }
    if (options.flow != Flow::kClaims &&
        !create("{\"id\":\"" + report.sale_campaign_id +
                "\",\"kind\":\"sale\",\"name\":\"flash_crowd sale\",\"stock\":" +
                std::to_string(options.sale_stock) +
                ",\"per_user_limit\":" + std::to_string(options.per_user_limit) +
                ",\"price\":100,\"hold_seconds\":" + std::to_string(options.hold_seconds) +
                ",\"starts_at\":\"" + report.starts_at + "\"}")) {
      return std::nullopt;
    }
    return starts_ns;
  }
  std::string starts_at;
  const auto campaign = ReadCampaign(control, report.campaign_id, &starts_at);
  const auto starts_ns = ParseRfc3339Ns(starts_at);
  if (!campaign || !starts_ns) {
    err << "flash_crowd: campaign " << report.campaign_id
        << " could not be read (without --admin-token it must exist)\n";
    return std::nullopt;
  }
  // The server's campaign is the truth the audit holds answers against.
  options.stock = campaign->stock;
  report.starts_at = starts_at;
  return *starts_ns;
}

struct LoadThread {
  SaleStats stats;
  LoopStats loop;
  std::vector<ClaimSeen> claims;
  std::vector<OrderSeen> orders;
  int64_t not_sent = 0;
  int64_t cpu_ns = 0;  // this thread's CPU time during the sale
  std::string error;
};

int64_t ThreadCpuNs() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<int64_t>(now.tv_sec) * kNsPerSecond + now.tv_nsec;
}

// One load thread: warm its connections before the opening, then play its share of users.
void PlayShare(const Options& options, const Endpoint& endpoint, const SalePlan& plan, int thread,
               std::vector<UserRecord>& users, int64_t deadline_ns, LoadThread& result) {
  // The default 50 us timer slack would make every paced send that late, and that lag would
  // count as server latency in the corrected numbers.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  try {
    const LoopConfig config =
        LoopFor(endpoint, options,
                static_cast<int>(options.connections / options.threads +
                                 (thread < options.connections % options.threads)));
    LoadLoop loop(config);
    // Connect every connection now, so the opening second measures claims, not handshakes.
    const std::string target =
        "/v1/campaigns/" +
        (options.flow == Flow::kOrders ? plan.sale_campaign_id : plan.campaign_id);
    BatchSource warm_up(
        config.connections,
        [&](int, char* out, std::size_t capacity) {
          return FormatRequest(out, capacity, "GET", target, plan.host, {}, {});
        },
        [](int, const ParsedResponse*, std::optional<Failure>) {});
    const int64_t warm_connects = loop.Run(warm_up, std::min(plan.open_ns, deadline_ns)).connects;
    FireSource fire(plan, thread, static_cast<int>(options.threads), users);
    const int64_t cpu_before_ns = ThreadCpuNs();
    result.loop = loop.Run(fire, deadline_ns);
    result.cpu_ns = ThreadCpuNs() - cpu_before_ns;
    result.loop.connects += warm_connects;
    result.not_sent = fire.QueuedCount();
    result.stats = std::move(fire.stats());
    result.claims = std::move(fire.claims());
    result.orders = std::move(fire.orders());
  } catch (const std::exception& error) {
    result.error = error.what();
  }
}

// Joins the threads' results: claim lists are concatenated and each user's claim index moved
// by its thread's offset.
void Merge(std::vector<LoadThread>& threads, std::vector<UserRecord>& users, RunReport& report,
           std::vector<ClaimSeen>& claims, std::vector<OrderSeen>& orders) {
  std::vector<int32_t> offsets;
  for (LoadThread& thread : threads) {
    offsets.push_back(static_cast<int32_t>(claims.size()));
    for (ClaimSeen& claim : thread.claims)
      claims.push_back(std::move(claim));
    for (OrderSeen& order : thread.orders)
      orders.push_back(std::move(order));
    report.sale.Merge(thread.stats);
    report.loop.sent += thread.loop.sent;
    report.loop.answered += thread.loop.answered;
    report.loop.connects += thread.loop.connects;
    report.loop.idle_closes += thread.loop.idle_closes;
    if (report.loop.first_protocol_error.empty()) {
      report.loop.first_protocol_error = thread.loop.first_protocol_error;
    }
    report.loop.abandoned_in_flight += thread.loop.abandoned_in_flight;
    report.loop.deadline_hit = report.loop.deadline_hit || thread.loop.deadline_hit;
    if (report.loop.first_send_ns == 0 || thread.loop.first_send_ns < report.loop.first_send_ns) {
      report.loop.first_send_ns = thread.loop.first_send_ns;
    }
    report.loop.last_answer_ns = std::max(report.loop.last_answer_ns, thread.loop.last_answer_ns);
    report.not_sent += thread.not_sent;
    report.generator_cpu_s += static_cast<double>(thread.cpu_ns) / kNsPerSecond;
  }
  const auto thread_count = static_cast<int32_t>(threads.size());
  for (std::size_t user = 0; user < users.size(); ++user) {
    if (users[user].claim >= 0) {
      users[user].claim +=
          offsets[static_cast<std::size_t>(static_cast<int32_t>(user) % thread_count)];
    }
  }
  report.claims_known = static_cast<int64_t>(claims.size());
  report.claims_granted = std::count_if(claims.begin(), claims.end(),
                                        [](const ClaimSeen& claim) { return claim.seen_granted; });
}

// The users file of `hotdeal token --users-file`: a header line, then user_id,token per row;
// user i is row i. Returns false after writing why to `err`.
bool LoadUsers(const Options& options, SalePlan& plan, std::ostream& err) {
  if (options.users_file.empty()) return true;
  std::ifstream in(options.users_file);
  std::string line;
  if (!in || !std::getline(in, line) || line != "user_id,token") {
    err << "flash_crowd: " << options.users_file
        << " is not a users file (first line must be 'user_id,token')\n";
    return false;
  }
  while (static_cast<int64_t>(plan.user_ids.size()) < options.users && std::getline(in, line)) {
    const std::size_t comma = line.find(',');
    if (comma == std::string::npos || comma == 0 || comma + 1 == line.size()) {
      err << "flash_crowd: " << options.users_file << ": bad row '" << line << "'\n";
      return false;
    }
    plan.user_ids.push_back(line.substr(0, comma));
    plan.user_tokens.push_back(line.substr(comma + 1));
  }
  if (static_cast<int64_t>(plan.user_ids.size()) < options.users) {
    err << "flash_crowd: " << options.users_file << " holds " << plan.user_ids.size()
        << " users, fewer than --users " << options.users << '\n';
    return false;
  }
  return true;
}

SalePlan MakePlan(const Options& options, const Endpoint& endpoint, const RunReport& report,
                  int64_t starts_ns) {
  SalePlan plan;
  plan.sale_campaign_id = report.sale_campaign_id;
  plan.quantity = options.quantity;
  plan.confirm_percent = static_cast<int>(options.confirm_percent);
  plan.cancel_percent = static_cast<int>(options.cancel_percent);
  plan.pay_ns = options.pay_ms * kNsPerMs;
  plan.service_token = options.service_token;
  plan.campaign_id = report.campaign_id;
  plan.host = endpoint.host_header;
  plan.run_tag = "fc" + std::to_string(WallNowNs() % (int64_t{1} << 40));
  plan.users = static_cast<int32_t>(options.users);
  plan.open_ns = WallToSteadyNs(starts_ns - report.clock_offset_ns);
  plan.retries = static_cast<int>(options.retries);
  plan.backoff_ns = options.backoff_ms * kNsPerMs;
  plan.requests_max = (options.requests_max + options.threads - 1) / options.threads;
  plan.seed = static_cast<uint64_t>(options.seed);
  BuildSchedule(plan, options.arrival, options.ramp_ms * kNsPerMs, options.repeat_percent,
                options.repeat_gap_ms);
  if (options.flow != Flow::kClaims) {
    ChooseOrderers(
        plan, options.users,
        options.flow == Flow::kOrders ? 100.0 : static_cast<double>(options.sale_percent));
  }
  return plan;
}

// Runs the load threads to the end of the sale and merges what they saw into the report.
bool PlaySale(const Options& options, const Endpoint& endpoint, const SalePlan& plan,
              int64_t deadline_ns, std::vector<UserRecord>& users, std::vector<ClaimSeen>& claims,
              std::vector<OrderSeen>& orders, RunReport& report, std::ostream& err) {
  std::vector<LoadThread> threads(static_cast<std::size_t>(options.threads));
  {
    std::vector<std::jthread> running;
    for (int thread = 0; thread < options.threads; ++thread) {
      running.emplace_back(PlayShare, std::cref(options), std::cref(endpoint), std::cref(plan),
                           thread, std::ref(users), deadline_ns,
                           std::ref(threads[static_cast<std::size_t>(thread)]));
    }
  }
  for (const LoadThread& thread : threads) {
    if (!thread.error.empty()) {
      err << "flash_crowd: load thread failed: " << thread.error << '\n';
      return false;
    }
  }
  Merge(threads, users, report, claims, orders);
  Derive(report, plan.open_ns);
  return true;
}

// The order flow's checks: with --expire-wait first until every hold ran out.
void AuditOrderFlow(const Options& options, const Endpoint& endpoint, const SalePlan& plan,
                    const std::vector<OrderSeen>& orders, int64_t deadline_ns, RunReport& report) {
  if (options.expire_wait) {
    // The last hold began before the last answer of the sale; a second for the expiry.
    const int64_t wake_ns = std::min(
        report.loop.last_answer_ns + (options.hold_seconds + 1) * kNsPerSecond, deadline_ns);
    if (wake_ns > SteadyNowNs()) {
      std::this_thread::sleep_for(std::chrono::nanoseconds(wake_ns - SteadyNowNs()));
    }
  }
  LoadLoop audit_loop(LoopFor(endpoint, options, static_cast<int>(options.connections)));
  const OrderAuditResult audit = AuditOrders(audit_loop, options, plan, orders, deadline_ns);
  const std::optional<SaleBooks> books =
      ReadSaleBooks(endpoint, plan.sale_campaign_id, options.expire_wait, 5 * kNsPerSecond);
  for (Check& check : CheckOrders(options, report.sale.orders, audit, books)) {
    report.checks.push_back(std::move(check));
  }
}

// Every check, in the order the report lists them.
void Audit(const Control& control, const Options& options, const Endpoint& endpoint,
           const SalePlan& plan, const std::vector<UserRecord>& users,
           const std::vector<ClaimSeen>& claims, const std::vector<OrderSeen>& orders,
           RunReport& report) {
  report.checks.push_back(CheckWholeSale(report.loop, report.not_sent));
  if (options.flow != Flow::kOrders) {
    // The claim checks count only the users who claim.
    Options claiming = options;
    claiming.users = std::count(plan.orders.begin(), plan.orders.end(), 0);
    if (plan.orders.empty()) claiming.users = options.users;
    for (Check& check : CheckAnswers(claiming, report.sale, claims)) {
      report.checks.push_back(std::move(check));
    }
    const std::optional<CampaignState> campaign =
        ReadCampaign(control, report.campaign_id, nullptr);
    report.checks.push_back(CheckCampaign(claiming, campaign, report.claims_known));
    ServerAuditResult server_audit;
    if (options.audit != AuditMode::kNone) {
      LoadLoop audit_loop(LoopFor(endpoint, options, static_cast<int>(options.connections)));
      server_audit = AuditUsers(audit_loop, options, plan, users, claims, control.deadline_ns);
    }
    for (Check& check : CheckServerAudit(claiming, server_audit, campaign, report.claims_known)) {
      report.checks.push_back(std::move(check));
    }
  }
  if (options.flow != Flow::kClaims) {
    AuditOrderFlow(options, endpoint, plan, orders, control.deadline_ns, report);
  }
  report.checks.push_back({"MySQL rows and Kafka events match the sale", Verdict::kNotChecked,
                           "not checked here (the persistence accounting script does that)"});
}

// --streams: every stream opens this long before the opening, and after the sale has this
// long to hear sold_out.
constexpr int64_t kStreamsReadyBeforeNs = 100 * kNsPerMs;
constexpr int64_t kStreamsGraceNs = 5000 * kNsPerMs;

void AddStreams(const StreamsReport& streams, int64_t open_ns, RunReport& report) {
  report.streams = streams;
  const bool all_heard = streams.opened > 0 && streams.heard_sold_out == streams.opened;
  if (all_heard && report.sell_out_ns >= 0) {
    report.streams_last_heard_ns = streams.last_sold_out_ns - (open_ns + report.sell_out_ns);
  }
  report.checks.push_back({"every stream heard sold_out",
                           all_heard ? Verdict::kPass : Verdict::kFail,
                           std::to_string(streams.heard_sold_out) + " of " +
                               std::to_string(streams.opened) + " open streams"});
}

}  // namespace

int RunFlashCrowd(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string error;
  std::optional<Options> parsed = ParseOptions(args, error);
  if (!parsed) {
    err << "flash_crowd: " << error << '\n';
    return kExitUsage;
  }
  Options& options = *parsed;
  if (options.help) {
    PrintHelp(out);
    return kExitPass;
  }
  const std::optional<Endpoint> endpoint =
      ResolveServer(options.server, options.allow_remote, error);
  if (!endpoint) {
    err << "flash_crowd: " << error << '\n';
    return kExitUsage;
  }
  const int64_t deadline_ns = SteadyNowNs() + options.timeout_s * kNsPerSecond;
  // The audit keeps a quarter of the time cap, so a sale that runs to its limit still gets
  // checked instead of being cut off unaudited.
  const int64_t sale_deadline_ns = deadline_ns - options.timeout_s * kNsPerSecond / 4;
  RunReport report;
  report.campaign_id =
      !options.campaign.empty()
          ? options.campaign
          : "fc-" + std::to_string(WallNowNs() / kNsPerSecond) + "-" + std::to_string(getpid());
  report.sale_campaign_id = report.campaign_id + "-sale";
  LoadLoop control_loop(LoopFor(*endpoint, options, 1));
  const Control control{control_loop, *endpoint, deadline_ns};
  SyncClock(control, report);
  const std::optional<int64_t> starts_ns = SetUpCampaign(control, options, report, err);
  if (!starts_ns) return kExitFail;
  SalePlan plan = MakePlan(options, *endpoint, report, *starts_ns);
  if (!LoadUsers(options, plan, err)) return kExitUsage;
  if (plan.open_ns >= sale_deadline_ns) {
    err << "flash_crowd: the campaign opens too late for --timeout-s (the sale gets the first "
           "three quarters of it)\n";
    return kExitFail;
  }
  std::vector<UserRecord> users(static_cast<std::size_t>(options.users));
  std::vector<ClaimSeen> claims;
  std::vector<OrderSeen> orders;
  std::unique_ptr<StreamCrowd> streams;
  if (options.streams > 0) {
    streams = std::make_unique<StreamCrowd>(*endpoint, report.campaign_id, options.streams);
    streams->Open(plan.open_ns - kStreamsReadyBeforeNs);
    if (!streams->report().error.empty()) {
      err << "flash_crowd: --streams: " << streams->report().error << " ("
          << streams->report().opened << " of " << options.streams
          << " open; raise --lead-ms, the server's --connections-max or ulimit -n)\n";
      return kExitFail;
    }
  }
  std::atomic<bool> sale_over{false};
  bool played = false;
  {
    std::jthread watcher;
    if (streams) {
      watcher = std::jthread(
          [&] { streams->Watch(sale_over, kStreamsGraceNs, sale_deadline_ns + kStreamsGraceNs); });
    }
    played =
        PlaySale(options, *endpoint, plan, sale_deadline_ns, users, claims, orders, report, err);
    sale_over.store(true, std::memory_order_release);
  }
  if (!played) return kExitFail;
  if (streams) AddStreams(streams->report(), plan.open_ns, report);
  Audit(control, options, *endpoint, plan, users, claims, orders, report);
  PrintReport(out, options, report);
  if (!options.json_path.empty()) {
    std::ofstream json(options.json_path);
    json << ReportJson(options, report);
    if (!json) {
      err << "flash_crowd: cannot write " << options.json_path << '\n';
      return kExitFail;
    }
  }
  return report.Passed() ? kExitPass : kExitFail;
}

}  // namespace hotdeal::bench
