// libFuzzer target: raw bytes as one connection's worth of pipelined HTTP/1.1 requests, through
// what a Connection does with them (RequestParser, Api::Handle, RunControl on the control
// thread for a creation or an archive, WriteHead) to a real in-memory engine (--log none) and back.
// Each reply must have a status, a head that is well formed (CRLF lines, no stray CR or LF a client
// could read as a second response), a Content-Length equal to its body and, for JSON, a body that
// parses. tests/fuzz/run builds and runs it.
//
// Every input starts from the same fresh engine: a coupon campaign `coupon`, a sale `sale`
// and one reserved order of user `u-seed`, whose id replaces each `@order` in the input, so
// confirm, cancel and reads reach a real order although its id is random.
#include <simdjson.h>

#include <atomic>
#include <charconv>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "api.h"
#include "http_request.h"
#include "metrics.h"
#include "reply.h"
#include "time_text.h"
#include "worker_stats.h"

namespace {

using namespace hotdeal;
using namespace hotdeal::gateway;

constexpr std::string_view kOrderPlaceholder = "@order";
constexpr std::size_t kRequestsMax = 16;  // per input, so every input stays fast

void Require(bool condition) {
  if (!condition) __builtin_trap();
}

engine::TimePoint Now() {
  return *ParseTime("2026-12-01T12:00:00Z");
}

engine::EngineOptions EngineOptionsForFuzz() {
  engine::EngineOptions options;
  options.workers = 1;
  options.campaigns_max = 4;
  options.stock_max = 1000;
  options.idempotency_keys_max = 256;
  // An archive runs on the control thread while this input's thread, the one worker, waits for
  // it: the control call passes the worker's quiescent points itself.
  options.workers_idle_in_control = true;
  return options;
}

GatewayOptions GatewayOptionsForFuzz() {
  GatewayOptions options;
  options.admin_token = "fuzz-admin-token";
  options.service_token = "fuzz-service-token";
  options.pending_wait_max = std::chrono::milliseconds{0};
  options.user_rate_limit = {};  // off: an input's answers must not depend on the last one's
  options.rate_limit_slots = 64;
  options.cors_allow_origins = {"https://shop.example"};
  options.campaign_limits = {.stock_max = 1000, .campaigns_max = 4, .memory_budget_bytes = 0};
  return options;
}

engine::CampaignSpec Campaign(std::string_view id, engine::CampaignKind kind) {
  engine::CampaignSpec spec;
  spec.id = *engine::CampaignId::Parse(id);
  spec.kind = kind;
  spec.name = std::string(id);
  spec.stock = 20;
  spec.per_user_limit = kind == engine::CampaignKind::kSale ? 2 : 1;  // a coupon: one each
  spec.starts_at = *ParseTime("2026-12-01T00:00:00Z");
  if (kind == engine::CampaignKind::kSale) {
    spec.price = 1999;
    spec.hold_seconds = 300;
  }
  return spec;
}

// One fresh server's worth of state; rebuilt per input (a few hundred microseconds).
struct Harness {
  engine::DiscardSink sink;
  engine::Engine engine{EngineOptionsForFuzz(), sink};
  GatewayOptions options = GatewayOptionsForFuzz();
  std::vector<WorkerStats> stats = std::vector<WorkerStats>(1);
  base::MetricsRegistry metrics;
  std::atomic<bool> ready{true};
  Api api{engine, options, ready, metrics, nullptr};
  WorkerContext worker{0, stats[0]};
  std::string order_id;

  Harness() {
    metrics.Register(std::make_shared<GatewayMetrics>(stats, engine, options));
    worker.now = Now();
    worker.steady_now = std::chrono::steady_clock::now();
    for (auto kind : {engine::CampaignKind::kCoupon, engine::CampaignKind::kSale}) {
      auto spec = Campaign(kind == engine::CampaignKind::kSale ? "sale" : "coupon", kind);
      Require(engine.CreateCampaign(spec, worker.now).outcome == engine::Outcome::kCreated);
    }
    auto order = engine.PlaceOrder(worker.id, *engine::CampaignId::Parse("sale"),
                                   *engine::UserId::Parse("u-seed"), 1, std::nullopt, worker.now);
    order_id = std::string(engine::Engine::OrderIdText(order.value->id).view());
  }
};

simdjson::dom::parser& ReplyParser() {
  static simdjson::dom::parser parser;
  return parser;
}

// What a client would read: a head it can parse and a body of the length it announces.
void CheckReply(const Reply& reply, Persistence persistence) {
  Require(reply.status >= 100 && reply.status <= 599);
  std::string head;
  WriteHead(reply, persistence, head);
  Require(head.size() >= 4 && head.compare(head.size() - 4, 4, "\r\n\r\n") == 0);
  for (std::size_t i = 0; i < head.size(); ++i) {
    char c = head[i];
    if (c == '\r') Require(i + 1 < head.size() && head[i + 1] == '\n');
    if (c == '\n') Require(i > 0 && head[i - 1] == '\r');
    Require(c == '\r' || c == '\n' || (c >= 0x20 && c < 0x7f));
  }
  if (reply.content_type == ContentType::kEventStream) return;  // no length: ends with the socket
  if (reply.status == 204) {  // no content, and no Content-Length (RFC 9110 8.6)
    Require(reply.body.empty() && head.find("Content-Length") == std::string::npos);
    return;
  }
  std::string length = "\r\nContent-Length: " + std::to_string(reply.body.size()) + "\r\n";
  Require(head.find(length) != std::string::npos);
  if (reply.content_type == ContentType::kJson && !reply.body.empty()) {
    simdjson::dom::element document;
    Require(ReplyParser().parse(reply.body).get(document) == simdjson::SUCCESS);
    if (reply.status >= 400) {
      std::string_view code;
      Require(document["error"].get(code) == simdjson::SUCCESS && !code.empty());
      Require(document["message"].is_string());
    }
  }
}

// POST /v1/campaigns and DELETE /v1/campaigns/{id}: the engine call runs on the Api's control
// thread, as for a Connection; here the caller waits for it and finishes the reply on its own
// thread.
Completion RunControl(Harness& harness, RequestData& request, Reply& reply) {
  std::promise<FinishReply> finished;
  Completion completion = harness.api.RunControl(
      harness.worker, request, reply,
      [&finished](FinishReply finish) { finished.set_value(std::move(finish)); });
  if (completion != Completion::kControl) return completion;
  return finished.get_future().get()(reply);
}

std::string WithOrderId(std::string input, const std::string& order_id) {
  for (std::size_t at = input.find(kOrderPlaceholder); at != std::string::npos;
       at = input.find(kOrderPlaceholder, at + order_id.size())) {
    input.replace(at, kOrderPlaceholder.size(), order_id);
  }
  return input;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Harness harness;
  std::string input =
      WithOrderId(std::string(reinterpret_cast<const char*>(data), size), harness.order_id);
  std::string_view rest = input;
  RequestData request;
  Reply reply;
  for (std::size_t requests = 0; requests < kRequestsMax && !rest.empty(); ++requests) {
    request.Clear();
    RequestParser parser(request, harness.options.header_bytes_max, harness.options.body_bytes_max);
    boost::beast::error_code error;
    // As Connection::Pump: the parser stops after the head (a client that sent Expect:
    // 100-continue hears whether to send its body), then takes the body.
    while (!error && !parser.is_done() && !rest.empty()) {
      std::size_t used = parser.put(boost::asio::buffer(rest.data(), rest.size()), error);
      rest.remove_prefix(used);
      if (!error && parser.is_header_done() && !parser.is_done() && request.expect_continue) {
        request.expect_continue = false;
        RouteId route = RouteId::kUnmatched;
        if (!harness.api.AcceptsBody(harness.worker, request, reply, route)) {
          CheckReply(reply, Persistence::kClose);
          return 0;  // the final answer; the connection closes
        }
      }
      if (used == 0) break;
    }
    // Malformed, oversized or cut short: the connection answers a fixed 400 or 413 and closes,
    // or waits for bytes that never come.
    if (error || !parser.is_done()) return 0;
    Persistence persistence = parser.keep_alive() ? Persistence::kKeepAlive : Persistence::kClose;
    RouteId route = RouteId::kUnmatched;
    Completion completion = harness.api.Handle(harness.worker, request, reply, route);
    if (completion == Completion::kControl) completion = RunControl(harness, request, reply);
    // --log none: no ticket to await, and no decision the log has not answered.
    Require(completion == Completion::kDone);
    CheckReply(reply, persistence);
    harness.stats[0].RecordRequest(route, reply.status, std::chrono::nanoseconds{0});
    // A stream's head hands the socket over; a closing reply ends the connection.
    if (route == RouteId::kStreamCampaign && reply.status == 200) return 0;
    if (persistence == Persistence::kClose) return 0;
  }
  return 0;
}
