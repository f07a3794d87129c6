// Text and JSON rendering of a flash_crowd run.
#include "report.h"

#include <algorithm>
#include <cstdio>
#include <ostream>

#include "json_writer.h"

namespace hotdeal::bench {
namespace {

constexpr double kNsPerMs = 1e6;

double Ms(int64_t ns) {
  return static_cast<double>(ns) / kNsPerMs;
}

const char* ArrivalName(Arrival arrival) {
  switch (arrival) {
    case Arrival::kUniform:
      return "uniform";
    case Arrival::kPoisson:
      return "poisson";
    case Arrival::kBurst:
      return "burst";
  }
  return "?";
}

struct Quantile {
  const char* name;
  double quantile;
};
constexpr Quantile kQuantiles[] = {{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p999", 0.999}};

void PrintLatency(std::ostream& out, const char* name, const LatencyHistogram& histogram) {
  char line[256];
  std::snprintf(line, sizeof line,
                "  %-34s p50 %8.3f  p90 %8.3f  p99 %8.3f  p999 %8.3f  max %8.3f  (n=%lld)\n", name,
                Ms(histogram.ValueAtQuantileNs(0.5)), Ms(histogram.ValueAtQuantileNs(0.9)),
                Ms(histogram.ValueAtQuantileNs(0.99)), Ms(histogram.ValueAtQuantileNs(0.999)),
                Ms(histogram.max_ns()), static_cast<long long>(histogram.count()));
  out << line;
}

void LatencyJson(JsonWriter& json, const char* name, const LatencyHistogram& histogram) {
  json.Key(name).BeginObject();
  json.Key("count").Int(histogram.count());
  for (const Quantile& quantile : kQuantiles) {
    json.Key(quantile.name).Double(Ms(histogram.ValueAtQuantileNs(quantile.quantile)));
  }
  json.Key("max").Double(Ms(histogram.max_ns()));
  json.Key("mean").Double(histogram.MeanNs() / kNsPerMs);
  json.EndObject();
}

void PrintAnswers(std::ostream& out, const RunReport& report) {
  char line[256];
  out << "answers\n";
  for (int i = 0; i < kOutcomeCount; ++i) {
    if (report.sale.outcomes[i] == 0) continue;
    const auto outcome = static_cast<Outcome>(i);
    std::snprintf(line, sizeof line, "  %3d %-18s %10lld\n", OutcomeStatus(outcome),
                  OutcomeName(outcome).data(), static_cast<long long>(report.sale.outcomes[i]));
    out << line;
  }
  for (int i = 0; i < kFailureCount; ++i) {
    if (report.sale.failures[i] == 0) continue;
    std::snprintf(line, sizeof line, "  --- %-18s %10lld\n",
                  FailureName(static_cast<Failure>(i)).data(),
                  static_cast<long long>(report.sale.failures[i]));
    out << line;
  }
  if (!report.loop.first_protocol_error.empty()) {
    out << "  (first protocol error: " << report.loop.first_protocol_error << ")\n";
  }
  if (report.sale.sold_out_to_holders > 0) {
    out << "  (" << report.sale.sold_out_to_holders
        << " sold_out answers went to users already holding a claim)\n";
  }
  if (report.sale.outcomes[static_cast<int>(Outcome::kOther)] > 0) {
    out << "  other statuses:";
    for (std::size_t status = 0; status < report.sale.statuses.size(); ++status) {
      if (report.sale.statuses[status] > 0)
        out << ' ' << status << 'x' << report.sale.statuses[status];
    }
    out << '\n';
  }
}

// The order flow's answers (503 and 429 were retried with the same key, not errors).
struct OrderCount {
  const char* name;
  int64_t OrderStats::*count;
};
constexpr OrderCount kOrderCounts[] = {
    {"reserved", &OrderStats::reserved},
    {"sold_out", &OrderStats::sold_out},
    {"limit_exceeded", &OrderStats::limit_exceeded},
    {"outside_window", &OrderStats::outside_window},
    {"confirmed", &OrderStats::confirmed},
    {"cancelled", &OrderStats::cancelled},
    {"conflict", &OrderStats::conflicts},
    {"abandoned", &OrderStats::abandoned},
    {"retried_503", &OrderStats::unavailable},
    {"retried_429", &OrderStats::rate_limited},
    {"other", &OrderStats::other},
    {"reserves_in_doubt", &OrderStats::reserves_in_doubt},
    {"steps_in_doubt", &OrderStats::steps_in_doubt},
};

void PrintOrders(std::ostream& out, const RunReport& report) {
  out << "orders (sale " << report.sale_campaign_id << ")\n ";
  for (const OrderCount& count : kOrderCounts) {
    out << ' ' << count.name << ' ' << report.sale.orders.*count.count;
  }
  out << '\n';
}

void PrintSpeed(std::ostream& out, const RunReport& report) {
  char line[256];
  out << "speed\n";
  std::snprintf(line, sizeof line,
                "  %.0f requests/s over %.3f s (first send to last answer); generator CPU %.2f s "
                "(%.0f %% of one core)\n",
                report.requests_per_s, report.duration_s, report.generator_cpu_s,
                100.0 * report.generator_cpu_s / report.duration_s);
  out << line;
  if (report.last_grant_ns < 0) {
    out << "  no 201 seen\n";
  } else {
    std::snprintf(line, sizeof line, "  %.0f granted/s; last 201 at %.1f ms after opening\n",
                  report.granted_per_s, Ms(report.last_grant_ns));
    out << line;
  }
  if (report.sell_out_ns >= 0) {
    std::snprintf(line, sizeof line,
                  "  sold out at %.1f ms after opening (first sold_out after the last 201)\n",
                  Ms(report.sell_out_ns));
    out << line;
  }
}

// Requests, answers by outcome and failure, and raw statuses.
void CountsJson(JsonWriter& json, const RunReport& report) {
  json.Key("requests").BeginObject();
  json.Key("sent").Int(report.loop.sent);
  json.Key("answered").Int(report.loop.answered);
  json.Key("retries").Int(report.sale.retries);
  json.Key("presses_given_up").Int(report.sale.presses_given_up);
  json.Key("not_sent").Int(report.not_sent);
  json.Key("abandoned").Int(report.loop.abandoned_in_flight);
  json.Key("connects").Int(report.loop.connects);
  json.Key("idle_closes").Int(report.loop.idle_closes);
  json.Key("first_protocol_error").String(report.loop.first_protocol_error);
  json.Key("deadline_hit").Bool(report.loop.deadline_hit);
  json.Key("sold_out_to_holders").Int(report.sale.sold_out_to_holders);
  json.EndObject();
  json.Key("answers").BeginObject();
  for (int i = 0; i < kOutcomeCount; ++i) {
    json.Key(OutcomeName(static_cast<Outcome>(i))).Int(report.sale.outcomes[i]);
  }
  for (int i = 0; i < kFailureCount; ++i) {
    json.Key(FailureName(static_cast<Failure>(i))).Int(report.sale.failures[i]);
  }
  json.EndObject();
  json.Key("statuses").BeginObject();
  for (std::size_t status = 0; status < report.sale.statuses.size(); ++status) {
    if (report.sale.statuses[status] > 0) {
      json.Key(std::to_string(status)).Int(report.sale.statuses[status]);
    }
  }
  json.EndObject();
}

}  // namespace

bool RunReport::Passed() const {
  return !checks.empty() && std::none_of(checks.begin(), checks.end(), [](const Check& check) {
    return check.verdict == Verdict::kFail;
  });
}

void Derive(RunReport& report, int64_t open_ns) {
  const SaleStats& sale = report.sale;
  if (sale.last_grant_ns > 0) {
    report.last_grant_ns = sale.last_grant_ns - open_ns;
    const auto after =
        std::upper_bound(sale.sold_out_ns.begin(), sale.sold_out_ns.end(), sale.last_grant_ns);
    if (after != sale.sold_out_ns.end()) report.sell_out_ns = *after - open_ns;
  }
  const int64_t span_ns = report.loop.last_answer_ns - report.loop.first_send_ns;
  report.duration_s = static_cast<double>(std::max<int64_t>(span_ns, 1)) / 1e9;
  report.requests_per_s = static_cast<double>(report.loop.answered) / report.duration_s;
  if (report.last_grant_ns > 0) {
    report.granted_per_s = static_cast<double>(report.claims_granted) /
                           (static_cast<double>(report.last_grant_ns) / 1e9);
  }
}

void PrintStreams(std::ostream& out, const StreamsReport& streams, int64_t last_heard_ns) {
  char line[256];
  out << "streams\n";
  std::snprintf(line, sizeof line,
                "  %lld wanted, %lld open with their first event, %lld heard sold_out\n",
                static_cast<long long>(streams.wanted), static_cast<long long>(streams.opened),
                static_cast<long long>(streams.heard_sold_out));
  out << line;
  if (last_heard_ns >= 0) {
    std::snprintf(line, sizeof line,
                  "  the last heard sold_out %.1f ms after the sell-out (first to last: %.1f ms)\n",
                  Ms(last_heard_ns), Ms(streams.last_sold_out_ns - streams.first_sold_out_ns));
    out << line;
  }
  if (streams.rss_before_bytes >= 0 && streams.rss_after_bytes >= 0 && streams.opened > 0) {
    std::snprintf(
        line, sizeof line,
        "  server resident memory %.1f MiB before, %.1f MiB with them open: %.0f bytes "
        "per stream\n",
        streams.rss_before_bytes / 1048576, streams.rss_after_bytes / 1048576,
        (streams.rss_after_bytes - streams.rss_before_bytes) / static_cast<double>(streams.opened));
    out << line;
  }
}

void PrintReport(std::ostream& out, const Options& options, const RunReport& report) {
  char line[256];
  out << "flash_crowd: " << options.users << " users, " << options.stock << " coupons, campaign "
      << report.campaign_id << " on " << options.server << "\n";
  out << "  opened " << report.starts_at << " (clock: " << report.clock_source << ", offset "
      << Ms(report.clock_offset_ns) << " ms); arrivals " << ArrivalName(options.arrival) << " over "
      << options.ramp_ms << " ms; " << options.connections << " connections, " << options.threads
      << " thread(s)\n";
  out << "requests\n";
  std::snprintf(
      line, sizeof line,
      "  sent %lld, answered %lld, retries %lld, presses given up %lld, not sent %lld, "
      "abandoned at the time cap %lld, connects %lld, idle closes by the server %lld\n",
      static_cast<long long>(report.loop.sent), static_cast<long long>(report.loop.answered),
      static_cast<long long>(report.sale.retries),
      static_cast<long long>(report.sale.presses_given_up), static_cast<long long>(report.not_sent),
      static_cast<long long>(report.loop.abandoned_in_flight),
      static_cast<long long>(report.loop.connects),
      static_cast<long long>(report.loop.idle_closes));
  out << line;
  PrintAnswers(out, report);
  if (options.flow != Flow::kClaims) PrintOrders(out, report);
  PrintSpeed(out, report);
  out << "latency, ms\n";
  PrintLatency(out, "from intended send (CO-corrected)", report.sale.corrected);
  PrintLatency(out, "from actual send (service time)", report.sale.service);
  PrintLatency(out, "press to final answer (w/ retries)", report.sale.press);
  PrintLatency(out, "send lag (generator queueing)", report.sale.send_lag);
  if (report.streams) PrintStreams(out, *report.streams, report.streams_last_heard_ns);
  out << "audit\n";
  for (const Check& check : report.checks) {
    std::snprintf(line, sizeof line, "  %-12s", VerdictName(check.verdict).data());
    out << line << check.name << ": " << check.detail << '\n';
  }
  out << (report.Passed() ? "RESULT: PASS\n" : "RESULT: FAIL\n");
}

std::string ReportJson(const Options& options, const RunReport& report) {
  JsonWriter json;
  json.BeginObject();
  json.Key("tool").String("flash_crowd");
  json.Key("server").String(options.server);
  json.Key("campaign_id").String(report.campaign_id);
  json.Key("starts_at").String(report.starts_at);
  json.Key("clock").BeginObject();
  json.Key("source").String(report.clock_source);
  json.Key("offset_ms").Double(Ms(report.clock_offset_ns));
  json.EndObject();
  json.Key("config").BeginObject();
  json.Key("users").Int(options.users);
  json.Key("stock").Int(options.stock);
  json.Key("connections").Int(options.connections);
  json.Key("threads").Int(options.threads);
  json.Key("ramp_ms").Int(options.ramp_ms);
  json.Key("arrival").String(ArrivalName(options.arrival));
  json.Key("repeat_percent").Double(options.repeat_percent);
  json.Key("retries").Int(options.retries);
  json.Key("seed").Int(options.seed);
  json.EndObject();
  CountsJson(json, report);
  if (options.flow != Flow::kClaims) {
    json.Key("orders").BeginObject();
    json.Key("campaign_id").String(report.sale_campaign_id);
    for (const OrderCount& count : kOrderCounts) {
      json.Key(count.name).Int(report.sale.orders.*count.count);
    }
    json.EndObject();
  }
  json.Key("claims").BeginObject();
  json.Key("known").Int(report.claims_known);
  json.Key("seen_in_201").Int(report.claims_granted);
  json.EndObject();
  json.Key("last_grant_ms");
  report.last_grant_ns < 0 ? json.Null() : json.Double(Ms(report.last_grant_ns));
  json.Key("sell_out_ms");
  report.sell_out_ns < 0 ? json.Null() : json.Double(Ms(report.sell_out_ns));
  json.Key("duration_s").Double(report.duration_s);
  json.Key("requests_per_s").Double(report.requests_per_s);
  json.Key("granted_per_s").Double(report.granted_per_s);
  json.Key("generator_cpu_s").Double(report.generator_cpu_s);
  json.Key("latency_ms").BeginObject();
  LatencyJson(json, "corrected", report.sale.corrected);
  LatencyJson(json, "service", report.sale.service);
  LatencyJson(json, "press", report.sale.press);
  LatencyJson(json, "send_lag", report.sale.send_lag);
  json.EndObject();
  if (report.streams) {
    const StreamsReport& streams = *report.streams;
    json.Key("streams").BeginObject();
    json.Key("wanted").Int(streams.wanted);
    json.Key("opened").Int(streams.opened);
    json.Key("heard_sold_out").Int(streams.heard_sold_out);
    json.Key("last_heard_after_sell_out_ms");
    report.streams_last_heard_ns < 0 ? json.Null() : json.Double(Ms(report.streams_last_heard_ns));
    json.Key("server_rss_before_bytes").Double(streams.rss_before_bytes);
    json.Key("server_rss_after_bytes").Double(streams.rss_after_bytes);
    json.EndObject();
  }
  json.Key("checks").BeginArray();
  for (const Check& check : report.checks) {
    json.BeginObject();
    json.Key("name").String(check.name);
    json.Key("result").String(VerdictName(check.verdict));
    json.Key("detail").String(check.detail);
    json.EndObject();
  }
  json.EndArray();
  json.Key("passed").Bool(report.Passed());
  json.EndObject();
  return json.text() + "\n";
}

}  // namespace hotdeal::bench
