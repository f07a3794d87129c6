// The run's report: what was played, what came back, how fast, and every audit check. Printed
// as text for people and, with --json, as JSON for scripts/demo and the bench scripts.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "audit.h"
#include "flash_sale.h"
#include "load_loop.h"
#include "options.h"
#include "streams.h"

namespace hotdeal::bench {

struct RunReport {
  std::string campaign_id;
  std::string sale_campaign_id;  // the order flow's campaign: campaign_id + "-sale"
  std::string starts_at;
  std::string clock_source;  // "server GET /v1/time" or "local clock"
  int64_t clock_offset_ns = 0;
  SaleStats sale;
  LoopStats loop;        // summed over load threads
  int64_t not_sent = 0;  // attempts still queued when the run stopped (cap or time)
  int64_t claims_known = 0;
  int64_t claims_granted = 0;  // seen in a 201
  // From the opening: the first sold_out after the last 201 (-1: none seen).
  int64_t sell_out_ns = -1;
  int64_t last_grant_ns = -1;  // from the opening (-1: no 201)
  double duration_s = 0;       // first send to last answer
  double requests_per_s = 0;
  double granted_per_s = 0;
  // CPU the load threads used during the sale, against its wall time: near 100 % per thread
  // means the generator, not the server, may have set the pace.
  double generator_cpu_s = 0;
  // --streams: what the streams saw; last heard sold_out, from the sell-out above (-1: not
  // all heard it, or no sell-out seen).
  std::optional<StreamsReport> streams;
  int64_t streams_last_heard_ns = -1;
  std::vector<Check> checks;

  bool Passed() const;
};

// Fills the derived numbers (sell-out time, rates) from sale, loop and open_ns.
void Derive(RunReport& report, int64_t open_ns);

void PrintReport(std::ostream& out, const Options& options, const RunReport& report);
std::string ReportJson(const Options& options, const RunReport& report);

}  // namespace hotdeal::bench
