// Worker: accept loop, connection cap, periodic tick (ExpireDue and deadlines), drain and stop.
#include "worker.h"

#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>

#include "connection.h"

namespace hotdeal::gateway {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;

namespace {

// Sent to a connection over the cap before closing it. Fixed text: no allocation, no state.
constexpr std::string_view kOverCapReply =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 61\r\n"
    "Retry-After: 1\r\n"
    "Connection: close\r\n"
    "\r\n"
    R"({"error":"unavailable","message":"too many open connections"})";
static_assert(kOverCapReply.size() - kOverCapReply.find("\r\n\r\n") - 4 == 61);

constexpr std::chrono::milliseconds kAcceptRetryDelay{10};

}  // namespace

Worker::Worker(std::uint32_t index, const GatewayOptions& options, engine::Engine& engine, Api& api,
               WorkerStats& stats, std::atomic<std::uint32_t>& open_connections,
               engine::DurableLog* log)
    : options_(options),
      engine_(engine),
      api_(api),
      stats_(stats),
      open_connections_(open_connections),
      acceptor_(io_),
      tick_timer_(io_),
      accept_retry_timer_(io_),
      context_(index, stats),
      streams_(*this, engine),
      log_(log) {
  RefreshClock();
  if (log_ == nullptr) return;
  acks_.reserve(options_.pending_acks_max);
  free_acks_.reserve(options_.pending_acks_max);
  for (std::uint32_t i = 0; i < options_.pending_acks_max; ++i) {
    acks_.push_back(std::make_unique<PendingAck>(*this));
    free_acks_.push_back(acks_.back().get());
  }
}

Worker::~Worker() = default;

void Worker::Listen(const tcp::endpoint& endpoint) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  // Every worker binds the same port; the kernel spreads new connections across them.
  acceptor_.set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
}

std::uint16_t Worker::port() const {
  return acceptor_.local_endpoint().port();
}

void Worker::Run() {
  Accept();
  ArmTick();
  io_.run();
}

void Worker::RefreshClock() {
  context_.now =
      std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  context_.steady_now = std::chrono::steady_clock::now();
}

void Worker::Accept() {
  acceptor_.async_accept(
      [this](const error_code& error, tcp::socket socket) { OnAccept(error, std::move(socket)); });
}

void Worker::OnAccept(const error_code& error, tcp::socket socket) {
  if (error == asio::error::operation_aborted || !acceptor_.is_open()) return;
  if (error) {
    // Out of descriptors or a transient failure: try again shortly instead of spinning.
    accept_retry_timer_.expires_after(kAcceptRetryDelay);
    accept_retry_timer_.async_wait([this](const error_code& wait_error) {
      if (!wait_error && acceptor_.is_open()) Accept();
    });
    return;
  }
  if (open_connections_.fetch_add(1, std::memory_order_relaxed) >= options_.connections_max) {
    open_connections_.fetch_sub(1, std::memory_order_relaxed);
    stats_.connections_rejected.Add();
    Reject(socket);
  } else {
    stats_.connections_opened.Add();
    error_code ignored;
    // Replies are whole writes; Nagle would only delay pipelined or back-to-back ones.
    socket.set_option(tcp::no_delay(true), ignored);
    RefreshClock();
    std::make_shared<Connection>(*this, std::move(socket))->Start();
  }
  Accept();
}

void Worker::Reject(tcp::socket& socket) {
  // Best effort and never blocking: a fresh socket's send buffer takes this small reply.
  error_code ignored;
  socket.non_blocking(true, ignored);
  socket.write_some(asio::buffer(kOverCapReply), ignored);
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

void Worker::ConnectionClosed() {
  stats_.connections_closed.Add();
  open_connections_.fetch_sub(1, std::memory_order_relaxed);
}

bool Worker::AwaitAck(engine::LogTicket ticket, std::shared_ptr<Connection> connection,
                      std::size_t slot, std::uint32_t generation) {
  if (free_acks_.empty()) {
    log_->Forget(ticket);
    return false;
  }
  PendingAck* ack = free_acks_.back();
  free_acks_.pop_back();
  ack->connection = std::move(connection);
  ack->slot = slot;
  ack->generation = generation;
  log_->Await(ticket, *ack);
  return true;
}

void Worker::SettleAck(PendingAck& ack, bool persisted) {
  std::shared_ptr<Connection> connection = std::move(ack.connection);
  free_acks_.push_back(&ack);
  connection->Settle(ack.slot, ack.generation, persisted);
}

void PendingAck::OnSettled(engine::Durability durability) noexcept {
  const bool persisted = durability == engine::Durability::kPersisted;
  // After Shutdown the io_context no longer runs: the handler is dropped, and the connection
  // is released with the pool when the worker is destroyed.
  asio::post(worker_.io(), [this, persisted] { worker_.SettleAck(*this, persisted); });
}

void Worker::Link(Connection* connection) {
  connection->next = connections_;
  if (connections_ != nullptr) connections_->prev = connection;
  connections_ = connection;
}

void Worker::Unlink(Connection* connection) {
  if (connection->prev != nullptr) connection->prev->next = connection->next;
  if (connection->next != nullptr) connection->next->prev = connection->prev;
  if (connections_ == connection) connections_ = connection->next;
  connection->prev = nullptr;
  connection->next = nullptr;
}

void Worker::ArmTick() {
  tick_timer_.expires_after(options_.tick_interval);
  tick_timer_.async_wait([this](const error_code& error) {
    if (!error && !stopped_) OnTick();
  });
}

void Worker::OnTick() {
  RefreshClock();
  engine_.ExpireDue(context_.id, context_.now);
  // Close() only closes the socket; the connection is destroyed later, from its aborted
  // handlers, so the list stays intact while we walk it.
  for (Connection* connection = connections_; connection != nullptr;
       connection = connection->next) {
    connection->OnTick(context_.steady_now);
  }
  ArmTick();
}

void Worker::BeginDrain() {
  asio::post(io_, [this] {
    draining_ = true;
    error_code ignored;
    acceptor_.close(ignored);
    accept_retry_timer_.cancel();
    for (Connection* connection = connections_; connection != nullptr;
         connection = connection->next) {
      connection->Drain();
    }
    // A stream never finishes by itself; its client reconnects to whoever serves next.
    streams_.CloseAll();
  });
}

void Worker::Stop() {
  asio::post(io_, [this] {
    stopped_ = true;
    draining_ = true;
    error_code ignored;
    acceptor_.close(ignored);
    accept_retry_timer_.cancel();
    tick_timer_.cancel();
    for (Connection* connection = connections_; connection != nullptr;
         connection = connection->next) {
      connection->Close();
    }
    streams_.CloseAll();
  });
}

}  // namespace hotdeal::gateway
