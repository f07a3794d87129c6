// flash_crowd end to end against the in-process fake server: a clean sale passes, faults are
// retried into a passing sale, an oversell and a bad target are caught.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fake_server.h"
#include "run.h"

namespace hotdeal::bench {
namespace {

using testing::FakeFaults;
using testing::FakeServer;

struct Outcome {
  int exit_code;
  std::string out;
  std::string err;
};

// A small sale: 3000 users, 200 coupons, 16 connections, opening within two seconds.
Outcome Play(const FakeServer& server, std::vector<std::string> extra) {
  std::vector<std::string> args = {"--server",         server.address(),
                                   "--admin-token",    "t",
                                   "--users",          "3000",
                                   "--stock",          "200",
                                   "--connections",    "16",
                                   "--ramp-ms",        "300",
                                   "--lead-ms",        "0",
                                   "--timeout-s",      "20",
                                   "--repeat-percent", "20"};
  args.insert(args.end(), extra.begin(), extra.end());
  std::ostringstream out;
  std::ostringstream err;
  const int exit_code = RunFlashCrowd(args, out, err);
  return {exit_code, out.str(), err.str()};
}

TEST(FlashCrowdTest, CleanSalePassesEveryAudit) {
  FakeServer server(FakeFaults{});
  const std::string json_path = ::testing::TempDir() + "flash_crowd_report.json";
  const Outcome outcome = Play(server, {"--json", json_path});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.out << outcome.err;
  EXPECT_NE(outcome.out.find("RESULT: PASS"), std::string::npos);
  EXPECT_NE(outcome.out.find("409 already_claimed"), std::string::npos) << outcome.out;
  EXPECT_NE(outcome.out.find("clock: server GET /v1/time"), std::string::npos);
  std::ifstream json(json_path);
  std::ostringstream read;
  read << json.rdbuf();
  const std::string text = read.str();
  EXPECT_NE(text.find("\"passed\":true"), std::string::npos) << text;
  EXPECT_NE(text.find("\"granted\":200"), std::string::npos) << text;
}

TEST(FlashCrowdTest, RetriesWithTheSameKeyRideOutFaults) {
  FakeFaults faults;
  faults.unavailable_every = 7;
  faults.drop_every = 11;
  faults.serve_time = false;
  FakeServer server(faults);
  const Outcome outcome = Play(server, {"--audit", "full", "--threads", "2"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.out << outcome.err;
  EXPECT_NE(outcome.out.find("503 unavailable"), std::string::npos) << outcome.out;
  EXPECT_NE(outcome.out.find("connection_reset"), std::string::npos) << outcome.out;
  EXPECT_NE(outcome.out.find("clock: local clock"), std::string::npos);
}

// A claim the durable log has not acknowledged yet reads 503: the audit reads it again after
// the server's Retry-After, and fails only if it never gets an answer.
TEST(FlashCrowdTest, AuditReadsAgainWhatAnswered503) {
  FakeFaults faults;
  faults.pending_reads = 500;
  FakeServer server(faults);
  const Outcome outcome = Play(server, {"--audit", "full"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.out << outcome.err;
  EXPECT_NE(outcome.out.find("3000 checked, 0 not read in time"), std::string::npos) << outcome.out;
}

TEST(FlashCrowdTest, AuditFailsWhenReadsKeepAnswering503) {
  FakeFaults faults;
  faults.pending_reads = -1;
  FakeServer server(faults);
  const Outcome outcome = Play(server, {"--audit", "sample", "--audit-sample", "10"});
  EXPECT_EQ(outcome.exit_code, 1) << outcome.out << outcome.err;
  EXPECT_NE(outcome.out.find("FAIL        users' claims match the server"), std::string::npos)
      << outcome.out;
  EXPECT_NE(outcome.out.find("0 checked,"), std::string::npos) << outcome.out;
}

TEST(FlashCrowdTest, OversellFails) {
  FakeFaults faults;
  faults.oversell = true;
  FakeServer server(faults);
  const Outcome outcome = Play(server, {});
  EXPECT_EQ(outcome.exit_code, 1) << outcome.out << outcome.err;
  EXPECT_NE(outcome.out.find("FAIL        claims granted == 200: 201"), std::string::npos)
      << outcome.out;
}

TEST(FlashCrowdTest, ACutShortSaleFails) {
  FakeServer server(FakeFaults{});
  const Outcome outcome = Play(server, {"--max-requests", "100"});
  EXPECT_EQ(outcome.exit_code, 1) << outcome.out << outcome.err;
  EXPECT_NE(outcome.out.find("FAIL        the whole sale was played"), std::string::npos)
      << outcome.out;
}

TEST(FlashCrowdTest, FewerUsersThanStockLeavesTheRest) {
  FakeServer server(FakeFaults{});
  const Outcome outcome = Play(server, {"--users", "50", "--stock", "200", "--audit", "full"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.out << outcome.err;
  EXPECT_NE(outcome.out.find("remaining == 150 and status live"), std::string::npos) << outcome.out;
}

TEST(FlashCrowdTest, RefusesNonLoopbackAndBadFlags) {
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(RunFlashCrowd({"--server", "192.0.2.1:80"}, out, err), 2);
  EXPECT_NE(err.str().find("--allow-remote"), std::string::npos);
  EXPECT_EQ(RunFlashCrowd({"--users", "0"}, out, err), 2);
  EXPECT_EQ(RunFlashCrowd({"--bogus"}, out, err), 2);
  EXPECT_EQ(RunFlashCrowd({"--help"}, out, err), 0);
  EXPECT_NE(out.str().find("--max-requests"), std::string::npos);
}

}  // namespace
}  // namespace hotdeal::bench
