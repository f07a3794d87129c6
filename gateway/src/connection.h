// One accepted HTTP/1.1 connection: reads into a buffer reused for the connection's life,
// parses with RequestParser, answers pipelined requests in order from a fixed ring of reply
// slots, and enforces the idle, request and write deadlines. Lives on its worker's thread only;
// must never read more requests than it has free slots (that is the pipelining bound) and never
// write a reply before the ones ahead of it.
#pragma once

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "http_request.h"
#include "reply.h"
#include "worker.h"

namespace hotdeal::gateway {

// Replies queued per connection at most; reading pauses while all are taken.
inline constexpr std::size_t kPipelineDepth = 8;
// Bytes asked of the socket per read; the read buffer holds a whole header plus one of these.
inline constexpr std::size_t kReadChunkBytes = 4096;
// Reply body capacity a slot keeps after writing; more is freed.
inline constexpr std::size_t kReplyBytesKept = 16 * 1024;
// How long a closing connection keeps discarding input so the client sees our last reply
// instead of a reset.
inline constexpr std::chrono::milliseconds kLingerTimeout{500};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Worker& worker, boost::asio::ip::tcp::socket socket);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void Start();
  // Called by the worker's timer: answers replies that waited for the log past ack_wait_max,
  // and closes the connection if a deadline has passed.
  void OnTick(Worker::SteadyTime now);
  // Graceful shutdown: close if idle, otherwise after the reply in progress.
  void Drain();
  // Closes the socket now; pending handlers see operation_aborted and release the connection.
  void Close();
  // The durable log settled the reply in `slot` to the request of `generation`
  // (Worker::AwaitAck): persisted sends it, anything else replaces it with 503 + Retry-After.
  // Nothing if that reply was already sent as 503 pending (ack_wait_max passed).
  void Settle(std::size_t slot, std::uint32_t generation, bool persisted);
  // The reply in `slot`, finished off the event loop (Completion::kControl), goes on as
  // `completion` says. This worker's thread.
  void Resume(std::size_t slot, Completion completion);

  // The worker's intrusive list of connections.
  Connection* prev = nullptr;
  Connection* next = nullptr;

 private:
  struct Slot {
    Reply reply;
    std::string head;
    RouteId route = RouteId::kUnmatched;
    Worker::SteadyTime started{};
    bool ready = false;   // head and body complete; may be written once the slots before are
    bool close = false;   // the connection closes after this reply
    bool stream = false;  // an event stream's head: once written, the socket goes to the hub
    Persistence persistence = Persistence::kKeepAlive;
    // Counts the requests this slot held, so a log report for an earlier one finds nothing.
    std::uint32_t generation = 0;
    // While the reply waits for the log: when it is answered 503 pending instead.
    std::optional<Worker::SteadyTime> ack_deadline;
  };

  void Pump();
  // false: wait for more bytes (or the connection is failing).
  bool ReadProxyLineFirst();
  void ReadMore();
  void OnRead(const boost::system::error_code& error, std::size_t bytes);
  void Dispatch();
  // Goes on with a reply as Api said: complete it, await its ticket, or finish it later.
  void Proceed(Slot& slot, Completion completion);
  // Completion::kControl: the engine call runs on the Api's control thread.
  void RunControl(Slot& slot);
  // Completion::kWait: decides the request again after `backoff`, doubling it, until the
  // answer is not kWait or pending_wait_max has passed since `wait_started_`.
  void WaitForDecision(Slot& slot, std::chrono::microseconds backoff);
  std::size_t IndexOf(const Slot& slot) const {
    return static_cast<std::size_t>(&slot - slots_.data());
  }
  void AnswerExpectContinue();
  // A malformed or oversized request: counted, answered, and the connection closes.
  void FailRequest(ApiError error, std::string_view message);
  // `error` as the last reply of this connection.
  void AnswerAndClose(ApiError error, std::string_view message);
  Slot& TakeSlot();
  void Complete(Slot& slot);
  void SetUnavailable(Slot& slot, std::string_view message);
  void WriteReady();
  void OnWrite(const boost::system::error_code& error, std::size_t slots_written);
  void Linger();
  // The stream head is written: the socket, the connection's place in the caps and what the
  // client heard last go to the worker's StreamHub; this connection then dies.
  void HandOff();
  bool Idle() const;

  Worker& worker_;
  boost::asio::ip::tcp::socket socket_;
  // Raw bytes from the socket, at most one header plus one read chunk; reused.
  boost::beast::flat_buffer read_buffer_;
  RequestData request_;                  // the request being parsed; reused
  std::optional<RequestParser> parser_;  // re-emplaced per request (Beast parsers are one-shot)
  std::array<Slot, kPipelineDepth> slots_;
  std::size_t head_ = 0;   // oldest reply not yet written
  std::size_t count_ = 0;  // replies queued, ready or not
  bool reading_ = false;
  bool writing_ = false;
  bool stop_reading_ = false;  // no more requests: close after the queued replies
  bool lingering_ = false;
  bool closed_ = false;
  bool handed_off_ = false;  // a stream counts as the connection from now on
  // A request is being finished off the event loop or waits for a decision (kControl, kWait):
  // nothing more is read or decided until it is, so pipelined requests are decided in order
  // and `request_` stays the one being finished.
  bool paused_ = false;
  boost::asio::steady_timer wait_timer_;  // kWait's backoff
  Worker::SteadyTime wait_started_{};
  // When the request being received started; empty between requests (then the idle deadline
  // applies instead).
  std::optional<Worker::SteadyTime> request_started_;
  // Its address's slot in the per-address connection count; probes_only_: over that cap,
  // so only /healthz and /readyz are answered.
  std::uint32_t address_counter_ = Api::kNoCounter;
  bool probes_only_ = false;
  // A trusted proxy's connection may start with a PROXY protocol v1 line; until it has been
  // read (or the first bytes show there is none), HTTP parsing waits.
  bool proxy_line_pending_ = false;
  Worker::SteadyTime read_deadline_ = Worker::SteadyTime::max();
  Worker::SteadyTime write_deadline_ = Worker::SteadyTime::max();
};

}  // namespace hotdeal::gateway
