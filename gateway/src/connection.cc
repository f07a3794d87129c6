// Connection: the read-parse-dispatch-write loop. Reads and writes may both be outstanding
// (HTTP pipelining); both handlers run on the worker's single thread, so no strand is needed.
#include "connection.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <utility>

namespace hotdeal::gateway {

namespace http = boost::beast::http;
using boost::system::error_code;

namespace {
// A wait for the log's answer rechecks after 0.5 ms, 1 ms, 2 ms ... up to this apart: Kafka
// answers within milliseconds, and a slow answer should cost few rechecks.
constexpr std::chrono::microseconds kFirstWaitBackoff{500};
constexpr std::chrono::microseconds kWaitBackoffMax{32'000};
}  // namespace

Connection::Connection(Worker& worker, boost::asio::ip::tcp::socket socket)
    : worker_(worker),
      socket_(std::move(socket)),
      read_buffer_(worker.options().header_bytes_max + kReadChunkBytes),
      wait_timer_(worker.io()) {
  worker_.Link(this);
  error_code error;
  auto peer = socket_.remote_endpoint(error);
  // A peer already gone has no address; its requests (if any arrived) share key 0.
  if (!error) {
    request_.client_key = worker_.api().ClientKey(ToBytes(peer.address()));
    request_.peer_trusted = worker_.api().TrustsPeer(peer.address());
    proxy_line_pending_ = request_.peer_trusted;
    if (!request_.peer_trusted) {
      Api::ConnectionAdmission admission = worker_.api().AdmitConnection(ToBytes(peer.address()));
      address_counter_ = admission.counter;
      probes_only_ = !admission.within;
    }
  }
}

Connection::~Connection() {
  worker_.api().ReleaseConnection(address_counter_);
  worker_.Unlink(this);
  if (!handed_off_) worker_.ConnectionClosed();
}

void Connection::Start() {
  Pump();
}

bool Connection::Idle() const {
  return count_ == 0 && !request_started_ && read_buffer_.size() == 0;
}

void Connection::Pump() {
  // Shutting down: a connection with nothing in progress has nothing left to wait for.
  if (worker_.draining() && Idle()) return Close();
  if (proxy_line_pending_ && !ReadProxyLineFirst()) {
    if (!stop_reading_ && !reading_) ReadMore();
    return WriteReady();
  }
  while (!stop_reading_ && !paused_ && count_ < kPipelineDepth && read_buffer_.size() > 0) {
    if (!parser_) {
      parser_.emplace(request_, worker_.options().header_bytes_max,
                      worker_.options().body_bytes_max);
    }
    error_code error;
    std::size_t used = parser_->put(read_buffer_.data(), error);
    read_buffer_.consume(used);
    if (error == http::error::need_more) break;
    if (error == http::error::body_limit) {
      FailRequest(ApiError::kPayloadTooLarge, "request body over the configured limit");
    } else if (error == http::error::header_limit) {
      FailRequest(ApiError::kPayloadTooLarge, "request header over the configured limit");
    } else if (error && !request_.head_error.empty()) {
      worker_.stats().edge_refused[static_cast<std::size_t>(EdgeRefusal::kHead)].Add();
      FailRequest(ApiError::kBadRequest, request_.head_error);
    } else if (error) {
      FailRequest(ApiError::kBadRequest, "malformed HTTP request");
    } else if (!parser_->is_done()) {
      // A client that asked may send its body only once the head is judged.
      if (parser_->is_header_done() && request_.expect_continue) AnswerExpectContinue();
    } else {
      Dispatch();
      parser_.reset();
      // Bytes already here belong to the next (pipelined) request, which starts now.
      if (read_buffer_.size() > 0) {
        request_started_ = worker_.steady_now();
      } else {
        request_started_.reset();
      }
    }
  }
  if (!stop_reading_ && !paused_ && count_ < kPipelineDepth && !reading_) ReadMore();
  WriteReady();
}

bool Connection::ReadProxyLineFirst() {
  auto data = read_buffer_.data();
  ProxyLineRead line = ReadProxyLine({static_cast<const char*>(data.data()), data.size()});
  switch (line.kind) {
    case ProxyLine::kPartial:
      return false;
    case ProxyLine::kMalformed:
      proxy_line_pending_ = false;
      FailRequest(ApiError::kBadRequest, "malformed PROXY protocol line");
      return false;
    case ProxyLine::kClient:
      // The client's address keys the per-address limit for the whole connection.
      request_.client_key = worker_.api().ClientKey(line.client);
      break;
    case ProxyLine::kAbsent:
    case ProxyLine::kUnknown:
      break;
  }
  read_buffer_.consume(line.size);
  proxy_line_pending_ = false;
  return true;
}

void Connection::ReadMore() {
  std::size_t room = read_buffer_.max_size() - read_buffer_.size();
  if (room == 0) {
    // Only a header larger than the buffer can fill it; Beast's header_limit, which is
    // smaller, normally reports it first.
    FailRequest(ApiError::kPayloadTooLarge, "request header over the configured limit");
    return;
  }
  reading_ = true;
  read_deadline_ = request_started_ ? *request_started_ + worker_.options().request_timeout
                                    : worker_.steady_now() + worker_.options().idle_timeout;
  socket_.async_read_some(read_buffer_.prepare(std::min(room, kReadChunkBytes)),
                          [self = shared_from_this()](const error_code& error, std::size_t bytes) {
                            self->OnRead(error, bytes);
                          });
}

void Connection::OnRead(const error_code& error, std::size_t bytes) {
  reading_ = false;
  if (closed_) return;
  if (lingering_) {
    // Discard until the client closes or the linger deadline passes.
    if (error) return Close();
    read_buffer_.consume(read_buffer_.size());
    return Linger();
  }
  read_deadline_ = Worker::SteadyTime::max();
  if (error) {
    // EOF after complete requests: answer them, then close. Anything else: the peer is gone.
    if (error != boost::asio::error::eof) return Close();
    stop_reading_ = true;
    return WriteReady();
  }
  read_buffer_.commit(bytes);
  worker_.RefreshClock();
  if (!request_started_) request_started_ = worker_.steady_now();
  Pump();
}

Connection::Slot& Connection::TakeSlot() {
  Slot& slot = slots_[(head_ + count_) % kPipelineDepth];
  ++count_;
  slot.ready = false;
  slot.stream = false;
  slot.route = RouteId::kUnmatched;
  slot.started = worker_.steady_now();
  ++slot.generation;
  slot.ack_deadline.reset();
  return slot;
}

void Connection::Dispatch() {
  std::string_view path = std::string_view(request_.target).substr(0, request_.target.find('?'));
  if (probes_only_ && path != "/healthz" && path != "/readyz") {
    // Over the per-address cap: orchestrators' probes still get through, nothing else.
    worker_.stats()
        .edge_refused[static_cast<std::size_t>(EdgeRefusal::kConnectionsPerAddress)]
        .Add();
    return AnswerAndClose(ApiError::kUnavailable, "too many open connections from this address");
  }
  Slot& slot = TakeSlot();
  bool http10 = request_.version < 11;
  slot.close = !parser_->keep_alive() || worker_.draining();
  slot.persistence = slot.close ? Persistence::kClose
                     : http10   ? Persistence::kKeepAliveHttp10
                                : Persistence::kKeepAlive;
  if (slot.close) stop_reading_ = true;
  Completion completion = worker_.api().Handle(worker_.context(), request_, slot.reply, slot.route);
  if (slot.route == RouteId::kStreamCampaign && slot.reply.status == 200) {
    // Events follow this head until the connection ends: no later request is read.
    slot.stream = true;
    stop_reading_ = true;
  }
  Proceed(slot, completion);
}

void Connection::Proceed(Slot& slot, Completion completion) {
  switch (completion) {
    case Completion::kDone:
      Complete(slot);
      break;
    case Completion::kPending:
      // The ring's order keeps later replies behind this one until Settle marks it ready.
      if (!worker_.AwaitAck(slot.reply.ticket, shared_from_this(), IndexOf(slot),
                            slot.generation)) {
        SetUnavailable(slot, "too many replies waiting for the durable log; retry later");
      } else if (worker_.options().ack_wait_max.count() > 0) {
        slot.ack_deadline = worker_.steady_now() + worker_.options().ack_wait_max;
      }
      break;
    case Completion::kControl:
      RunControl(slot);
      break;
    case Completion::kWait:
      paused_ = true;
      wait_started_ = worker_.steady_now();
      worker_.stats().pending_waits_started.Add();
      WaitForDecision(slot, kFirstWaitBackoff);
      break;
  }
}

void Connection::RunControl(Slot& slot) {
  // The work guard keeps this worker's io_context running until the answer is back, so that a
  // shutdown meanwhile still runs (and so drops) it on this thread.
  // The control thread's job holds the connection only until it posts the answer: the
  // reference moves into the posted handler, so the last one is always dropped on this
  // connection's own thread (a ~Connection on the control thread would unlink it from the
  // worker's list while the worker runs).
  auto back = boost::asio::make_work_guard(worker_.io());
  auto resume = [self = shared_from_this(), index = IndexOf(slot),
                 back](FinishReply finish) mutable {
    boost::asio::post(back.get_executor(),
                      [self = std::move(self), index, finish = std::move(finish)] {
                        self->Resume(index, finish(self->slots_[index].reply));
                      });
  };
  Completion completion =
      worker_.api().RunControl(worker_.context(), request_, slot.reply, std::move(resume));
  if (completion == Completion::kControl) {
    paused_ = true;
  } else {
    Proceed(slot, completion);
  }
}

void Connection::Resume(std::size_t index, Completion completion) {
  paused_ = false;
  worker_.RefreshClock();
  Proceed(slots_[index], completion);
  if (!closed_) Pump();
}

void Connection::WaitForDecision(Slot& slot, std::chrono::microseconds backoff) {
  wait_timer_.expires_after(backoff);
  wait_timer_.async_wait(
      [self = shared_from_this(), index = IndexOf(slot), backoff](const error_code& error) {
        Slot& waiting = self->slots_[index];
        WorkerStats& stats = self->worker_.stats();
        if (error || self->closed_) {
          stats.pending_waits_ended[static_cast<std::size_t>(PendingWaitEnd::kAbandoned)].Add();
          return;  // closed: nobody to answer
        }
        self->worker_.RefreshClock();
        Completion completion =
            self->worker_.api().Recheck(self->worker_.context(), self->request_, waiting.reply);
        bool timed_out = self->worker_.steady_now() - self->wait_started_ >=
                         self->worker_.options().pending_wait_max;
        if (completion == Completion::kWait && !timed_out) {
          return self->WaitForDecision(waiting, std::min(2 * backoff, kWaitBackoffMax));
        }
        stats
            .pending_waits_ended[static_cast<std::size_t>(completion == Completion::kWait
                                                              ? PendingWaitEnd::kTimedOut
                                                              : PendingWaitEnd::kAnswered)]
            .Add();
        // Past its bound the reply stands as the engine gave it: 503 pending, Retry-After.
        self->Resume(index, completion == Completion::kWait ? Completion::kDone : completion);
      });
}

void Connection::AnswerExpectContinue() {
  request_.expect_continue = false;  // once per request
  // HTTP/1.0 clients do not know 100 (RFC 9110 10.1.1); they send the body anyway.
  if (request_.version < 11) return;
  Slot& slot = TakeSlot();
  if (worker_.api().AcceptsBody(worker_.context(), request_, slot.reply, slot.route)) {
    // A head-only slot, written in order behind earlier pipelined replies and never counted
    // as an answer (Complete is not called); the request's answer follows in its own slot.
    slot.close = false;
    slot.head.assign("HTTP/1.1 100 Continue\r\n\r\n");
    slot.ready = true;
    return;
  }
  // The final answer without reading the body. Whether the client sends the body anyway is
  // unknown, so the connection closes after the answer (lingering discards what comes).
  slot.close = true;
  slot.persistence = Persistence::kClose;
  stop_reading_ = true;
  Complete(slot);
}

void Connection::Settle(std::size_t index, std::uint32_t generation, bool persisted) {
  Slot& slot = slots_[index];
  if (slot.generation != generation || slot.ready) return;  // answered at ack_wait_max
  slot.ack_deadline.reset();
  if (persisted) {
    Complete(slot);
  } else {
    SetUnavailable(slot,
                   "the durable log did not confirm the decision; retry with the same "
                   "Idempotency-Key");
  }
  // A client that left meanwhile (closed, timed out) hears nothing: WriteReady does nothing
  // and the connection dies with its last reference.
  WriteReady();
}

void Connection::SetUnavailable(Slot& slot, std::string_view message) {
  slot.reply.Reset();
  SetError(slot.reply, ApiError::kUnavailable, message);
  Complete(slot);
}

void Connection::FailRequest(ApiError error, std::string_view message) {
  worker_.stats().parse_errors.Add();
  AnswerAndClose(error, message);
}

void Connection::AnswerAndClose(ApiError error, std::string_view message) {
  Slot& slot = TakeSlot();
  slot.reply.Reset();
  SetError(slot.reply, error, message);
  slot.close = true;
  slot.persistence = Persistence::kClose;
  stop_reading_ = true;
  Complete(slot);
}

void Connection::Complete(Slot& slot) {
  WriteHead(slot.reply, slot.persistence, slot.head);
  slot.ready = true;
  worker_.stats().RecordRequest(slot.route, slot.reply.status,
                                std::chrono::steady_clock::now() - slot.started);
}

void Connection::WriteReady() {
  if (writing_ || closed_ || lingering_) return;
  // Every ready reply at the head of the queue goes out in one write.
  std::array<boost::asio::const_buffer, 2 * kPipelineDepth> buffers{};
  std::size_t slots = 0;
  while (slots < count_) {
    Slot& slot = slots_[(head_ + slots) % kPipelineDepth];
    if (!slot.ready) break;
    buffers[2 * slots] = boost::asio::buffer(slot.head);
    buffers[2 * slots + 1] = boost::asio::buffer(slot.reply.body);
    ++slots;
    if (slot.close || slot.stream) break;
  }
  if (slots == 0) {
    if (count_ == 0 && stop_reading_ && !reading_) Linger();
    return;
  }
  writing_ = true;
  write_deadline_ = worker_.steady_now() + worker_.options().request_timeout;
  boost::asio::async_write(
      socket_, buffers, [self = shared_from_this(), slots](const error_code& error, std::size_t) {
        self->OnWrite(error, slots);
      });
}

void Connection::OnWrite(const error_code& error, std::size_t slots_written) {
  writing_ = false;
  write_deadline_ = Worker::SteadyTime::max();
  if (closed_) return;
  if (error) return Close();
  bool close = false;
  bool stream = false;
  for (std::size_t i = 0; i < slots_written; ++i) {
    Slot& slot = slots_[head_];
    close = close || slot.close;
    stream = stream || slot.stream;
    // A big reply (a long campaign list, /metrics) must not keep its memory on an idle
    // connection: ordinary replies fit far below this.
    if (slot.reply.body.capacity() > kReplyBytesKept) std::string().swap(slot.reply.body);
    head_ = (head_ + 1) % kPipelineDepth;
    --count_;
  }
  // A client's `Connection: close` changes nothing for a stream, which ends with the
  // connection anyway; a draining server sends the head and closes.
  if (stream && !worker_.draining()) return HandOff();
  if (close) {
    stop_reading_ = true;
    return Linger();
  }
  Pump();
}

void Connection::HandOff() {
  std::string_view path = std::string_view(request_.target).substr(0, request_.target.find('?'));
  // Api::StreamCampaign answered 200 for this very path, so both parse.
  auto campaign = engine::CampaignId::Parse(MatchRoute(Method::kGet, path).params[0]);
  std::optional<std::uint64_t> last_event_id;
  if (request_.last_event_id.present()) last_event_id = ParseEventId(request_.last_event_id.view());
  error_code ignored;
  // A read still outstanding must complete here (aborted), not on the stream's socket.
  if (reading_) socket_.cancel(ignored);
  closed_ = true;
  handed_off_ = true;
  worker_.streams().Open(std::move(socket_), *campaign, last_event_id,
                         std::exchange(address_counter_, Api::kNoCounter));
}

void Connection::Linger() {
  if (!lingering_) {
    lingering_ = true;
    error_code ignored;
    socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
    read_deadline_ = worker_.steady_now() + kLingerTimeout;
  }
  if (reading_) return;  // the read in flight comes back to OnRead, which discards
  reading_ = true;
  read_buffer_.consume(read_buffer_.size());
  socket_.async_read_some(read_buffer_.prepare(kReadChunkBytes),
                          [self = shared_from_this()](const error_code& read_error, std::size_t) {
                            self->OnRead(read_error, 0);
                          });
}

void Connection::OnTick(Worker::SteadyTime now) {
  if (closed_) return;
  bool answered = false;
  for (std::size_t i = 0; i < count_; ++i) {
    Slot& slot = slots_[(head_ + i) % kPipelineDepth];
    if (!slot.ack_deadline || now < *slot.ack_deadline) continue;
    slot.ack_deadline.reset();
    worker_.stats().ack_waits_timed_out.Add();
    SetUnavailable(slot,
                   "the durable log has not confirmed the decision yet; retry with the same "
                   "Idempotency-Key to learn its outcome");
    answered = true;
  }
  if (answered) WriteReady();
  if (closed_ || now < std::min(read_deadline_, write_deadline_)) return;
  if (!lingering_) worker_.stats().timeouts.Add();
  Close();
}

void Connection::Drain() {
  if (Idle()) return Close();
  // The reply to the request being received or processed will carry Connection: close.
}

void Connection::Close() {
  if (closed_) return;
  closed_ = true;
  error_code ignored;
  socket_.close(ignored);
  wait_timer_.cancel();
}

}  // namespace hotdeal::gateway
