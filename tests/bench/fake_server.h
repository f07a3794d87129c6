// A tiny in-process stand-in for `hotdeal serve`, for flash_crowd's tests only: the coupon
// claim API of API.md on loopback port 0, thread per connection, one mutex. It can misbehave
// on purpose (503 before deciding, dropping the connection after deciding, overselling) so the
// tests can see flash_crowd retry correctly and its audits fail when they should.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hotdeal::bench::testing {

struct FakeFaults {
  int unavailable_every = 0;  // every n-th claim answers 503 without deciding (0: never)
  int drop_every = 0;         // every n-th claim decides, then closes without answering
  bool oversell = false;      // grants one unit more than the stock
  bool serve_time = true;     // answers GET /v1/time
  // The first n reads of a claim answer 503, as hotdeal does for a claim whose event the
  // durable log has not acknowledged yet (-1: every read).
  int pending_reads = 0;
};

class FakeServer {
 public:
  explicit FakeServer(FakeFaults faults);
  ~FakeServer();
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  struct Claim {
    std::string claim_id;
    std::string coupon_code;
  };
  struct Campaign {
    std::string starts_at;
    long long starts_ms = 0;
    long long stock = 0;
    long long remaining = 0;
    std::map<std::string, Claim> by_user;
    std::map<std::string, std::pair<int, std::string>> by_key;  // idempotency key -> answer
  };

  void Accept();
  void Serve(int fd);
  // Returns status and body; `drop` asks the caller to close without answering.
  std::pair<int, std::string> Handle(const std::string& method, const std::string& target,
                                     const std::string& key, const std::string& body, bool& drop);
  std::pair<int, std::string> HandleClaim(Campaign& campaign, const std::string& id,
                                          const std::string& body, bool& drop);

  FakeFaults faults_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<std::thread> workers_;
  std::vector<int> fds_;
  std::map<std::string, Campaign> campaigns_;
  long long claims_seen_ = 0;
  long long claim_reads_ = 0;
  long long next_claim_ = 0;
};

}  // namespace hotdeal::bench::testing
