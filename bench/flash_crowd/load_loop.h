// The transport of flash_crowd: one thread, one epoll set, a fixed pool of HTTP/1.1 keep-alive
// connections to one server, one request in flight per connection (what a browser does; no
// pipelining). It knows nothing of sales: an AttemptSource says what to send and when, and
// hears every answer or failure. It must never send before an attempt's intended time, and it
// never blocks: a single core can drive it while the server runs on the other.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http_response.h"

namespace hotdeal::bench {

// One try at one request. `press_intended_ns` is when the user pressed (the first try's
// intended time); `intended_ns` is when this try was meant to leave (later for retries).
struct Attempt {
  int64_t intended_ns = 0;
  int64_t press_intended_ns = 0;
  int32_t user = 0;
  uint8_t press = 0;    // 0: the user's first press, 1: their second (a repeat)
  uint8_t attempt = 0;  // 0: first try, n: n-th retry
  uint8_t step = 0;     // the source's own tag (flash_sale: press, confirm or cancel)
  int32_t order = -1;   // the source's own index (flash_sale: the order a step acts on)
};

enum class Failure : uint8_t {
  kConnect,   // could not connect (refused, unreachable)
  kReset,     // the connection broke or closed before the whole answer arrived
  kTimeout,   // no answer within the request timeout
  kProtocol,  // the bytes were not an HTTP/1.1 response this client can frame
};
inline constexpr int kFailureCount = 4;
std::string_view FailureName(Failure failure);

// What to send and when, and where the answers go. Called from the loop's thread only.
class AttemptSource {
 public:
  virtual ~AttemptSource() = default;
  // The intended send time of the next attempt, or false if none is queued right now.
  virtual bool PeekNextNs(int64_t& intended_ns) = 0;
  virtual Attempt Pop() = 0;
  // Writes the whole request into out[0, capacity) and returns its size (0: does not fit).
  virtual std::size_t WriteRequest(const Attempt& attempt, char* out, std::size_t capacity) = 0;
  // `sent_ns`: when the request's last byte went to the socket (for service latency).
  virtual void OnResponse(const Attempt& attempt, const ParsedResponse& response, int64_t sent_ns,
                          int64_t now_ns) = 0;
  virtual void OnFailure(const Attempt& attempt, Failure failure, int64_t now_ns) = 0;
};

struct LoopConfig {
  sockaddr_storage address{};
  socklen_t address_size = 0;
  int connections = 64;
  int64_t request_timeout_ns = 5'000'000'000;
};

struct LoopStats {
  int64_t sent = 0;
  int64_t answered = 0;
  int64_t connects = 0;
  // The server closed an idle keep-alive connection (not a failure of any request).
  int64_t idle_closes = 0;
  int64_t first_send_ns = 0;
  int64_t last_answer_ns = 0;
  // Requests still in flight when the deadline stopped the run.
  int64_t abandoned_in_flight = 0;
  bool deadline_hit = false;
  // Why the first answer could not be framed, for the report.
  std::string first_protocol_error;
};

class LoadLoop {
 public:
  static constexpr int kConnectionsMax = 4096;
  // Fixed per-connection buffers: requests are a few hundred bytes, answers below 16 KiB.
  static constexpr std::size_t kRequestBytesMax = 2048;
  static constexpr std::size_t kResponseBytesMax = 16 * 1024;

  explicit LoadLoop(const LoopConfig& config);
  ~LoadLoop();
  LoadLoop(const LoadLoop&) = delete;
  LoadLoop& operator=(const LoadLoop&) = delete;

  // Runs until the source has nothing queued and nothing is in flight, or until deadline_ns
  // (steady clock). Connections stay open for the next Run.
  LoopStats Run(AttemptSource& source, int64_t deadline_ns);

 private:
  struct Connection;

  void Dispatch(Connection& connection, const Attempt& attempt, int64_t now_ns);
  void OnEvent(Connection& connection, uint32_t events, int64_t now_ns);
  void OnConnected(Connection& connection, int64_t now_ns);
  void WriteSome(Connection& connection, int64_t now_ns);
  void ReadSome(Connection& connection, int64_t now_ns);
  void Fail(Connection& connection, Failure failure, int64_t now_ns);
  void FailProtocol(Connection& connection, std::string_view why, int64_t now_ns);
  void Close(Connection& connection);
  void MakeIdle(Connection& connection);
  void ExpireTimeouts(int64_t now_ns);
  void Watch(Connection& connection, bool want_write);

  LoopConfig config_;
  int epoll_fd_ = -1;
  std::vector<Connection> connections_;
  // Connections ready for a request: open ones first (no handshake), then closed ones.
  std::vector<int> idle_open_;
  std::vector<int> closed_;
  int in_flight_ = 0;
  AttemptSource* source_ = nullptr;
  LoopStats stats_;
};

}  // namespace hotdeal::bench
