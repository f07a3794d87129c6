// LoadLoop against a peer that accepts connections but never answers: the deadline ends a run,
// and the loop stays usable for the next one.
#include "load_loop.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "batch.h"
#include "clock.h"

namespace hotdeal::bench {
namespace {

// Listens on a loopback port and never accepts: the kernel completes handshakes, nobody reads.
class SilentPeer {
 public:
  SilentPeer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    address_.sin_family = AF_INET;
    address_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address_), sizeof address_), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t size = sizeof address_;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address_), &size);
  }
  ~SilentPeer() { ::close(fd_); }

  LoopConfig Config() const {
    LoopConfig config;
    std::memcpy(&config.address, &address_, sizeof address_);
    config.address_size = sizeof address_;
    config.connections = 1;
    return config;
  }

 private:
  int fd_ = -1;
  sockaddr_in address_{};
};

LoopStats OneGet(LoadLoop& loop, int64_t wait_ns) {
  BatchSource source(
      1,
      [](int, char* out, std::size_t capacity) {
        return FormatRequest(out, capacity, "GET", "/", "x", {}, {});
      },
      [](int, const ParsedResponse*, std::optional<Failure>) {});
  return loop.Run(source, SteadyNowNs() + wait_ns);
}

TEST(LoadLoopTest, DeadlineAbandonsAndTheLoopStaysUsable) {
  SilentPeer peer;
  LoadLoop loop(peer.Config());
  for (int run = 0; run < 2; ++run) {
    const LoopStats stats = OneGet(loop, 50'000'000);
    EXPECT_TRUE(stats.deadline_hit) << run;
    EXPECT_EQ(stats.sent, 1) << run;
    EXPECT_EQ(stats.connects, 1) << run;
    EXPECT_EQ(stats.abandoned_in_flight, 1) << run;
  }
}

TEST(LoadLoopTest, RequestTimeoutFailsTheAttempt) {
  SilentPeer peer;
  LoopConfig config = peer.Config();
  config.request_timeout_ns = 20'000'000;
  LoadLoop loop(config);
  std::optional<Failure> seen;
  BatchSource source(
      1,
      [](int, char* out, std::size_t capacity) {
        return FormatRequest(out, capacity, "GET", "/", "x", {}, {});
      },
      [&](int, const ParsedResponse*, std::optional<Failure> failure) { seen = failure; });
  const LoopStats stats = loop.Run(source, SteadyNowNs() + 1'000'000'000);
  EXPECT_FALSE(stats.deadline_hit);
  EXPECT_EQ(seen, Failure::kTimeout);
}

}  // namespace
}  // namespace hotdeal::bench
