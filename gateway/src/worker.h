// One gateway worker: an io_context run by one thread, its acceptor, its periodic timer, the
// connections it accepted and the event streams they became. Everything here is touched only from
// that thread, except the shared open-connection counter (one atomic add per accepted connection,
// none per request). Must never share a connection, a parser or a buffer with another worker.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "api.h"
#include "hotdeal/gateway/server.h"
#include "stream.h"

namespace hotdeal::gateway {

class Connection;
class Worker;

// A reply waiting for the durable log. Owned by its worker's fixed pool; it holds the connection
// alive until settled, so a client that disconnects meanwhile leaves nothing dangling.
class PendingAck final : public engine::LogWaiter {
 public:
  explicit PendingAck(Worker& worker) : worker_(worker) {}
  // The log's thread: only posts to the worker's io_context. Not persisted (reverted) and in
  // doubt are alike to the client: 503, retry.
  void OnSettled(engine::Durability durability) noexcept override;

  std::shared_ptr<Connection> connection;  // set while taken
  std::size_t slot = 0;                    // the connection's reply slot
  std::uint32_t generation = 0;            // of the slot's request (Connection::Settle)

 private:
  Worker& worker_;
};

class Worker {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  Worker(std::uint32_t index, const GatewayOptions& options, engine::Engine& engine, Api& api,
         WorkerStats& stats, std::atomic<std::uint32_t>& open_connections, engine::DurableLog* log);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Opens the acceptor with SO_REUSEPORT, binds and listens. Start-up only; throws.
  void Listen(const boost::asio::ip::tcp::endpoint& endpoint);
  std::uint16_t port() const;

  // The thread body: accepts, ticks and serves until Stop() and the last connection closes.
  void Run();

  // Called from another thread; each posts its work to this worker's io_context.
  void BeginDrain();  // stop accepting; idle connections close, busy ones after their reply
  void Stop();        // close every connection and the timer; Run() then returns

  // For this worker's connections.
  boost::asio::io_context& io() { return io_; }
  WorkerContext& context() { return context_; }
  WorkerStats& stats() { return stats_; }
  Api& api() { return api_; }
  StreamHub& streams() { return streams_; }
  const GatewayOptions& options() const { return options_; }
  SteadyTime steady_now() const { return context_.steady_now; }
  bool draining() const { return draining_; }
  // Reads both clocks once; called per read batch and per tick (the cached clock).
  void RefreshClock();
  void Link(Connection* connection);
  void Unlink(Connection* connection);
  // Called by a Connection's destructor.
  void ConnectionClosed();
  // Waits for `ticket` on the log; the connection's Settle(slot, generation, persisted) runs on
  // this thread once the log knows. false: every waiter is taken; the ticket has been
  // forgotten and the caller answers 503.
  bool AwaitAck(engine::LogTicket ticket, std::shared_ptr<Connection> connection, std::size_t slot,
                std::uint32_t generation);
  // This thread, posted by PendingAck::OnSettled.
  void SettleAck(PendingAck& ack, bool persisted);

 private:
  void Accept();
  void OnAccept(const boost::system::error_code& error, boost::asio::ip::tcp::socket socket);
  void Reject(boost::asio::ip::tcp::socket& socket);
  void ArmTick();
  void OnTick();

  const GatewayOptions& options_;
  engine::Engine& engine_;
  Api& api_;
  WorkerStats& stats_;
  std::atomic<std::uint32_t>& open_connections_;
  // Declared before everything that holds handlers or sockets, so it is destroyed last.
  boost::asio::io_context io_{1};  // concurrency hint 1: only this worker's thread runs it
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer tick_timer_;          // expiry of reservations and deadlines
  boost::asio::steady_timer accept_retry_timer_;  // backs off after accept errors (EMFILE)
  WorkerContext context_;
  StreamHub streams_;  // GET /v1/campaigns/{id}/stream; its one timer
  bool draining_ = false;
  bool stopped_ = false;
  Connection* connections_ = nullptr;  // intrusive list of this worker's open connections
  engine::DurableLog* const log_;      // null with --log none
  // pending_acks_max waiters made once (each is referenced by the log while taken, so they
  // never move); declared last so taken ones release their connections first.
  std::vector<std::unique_ptr<PendingAck>> acks_;
  std::vector<PendingAck*> free_acks_;  // capacity fixed at construction
};

}  // namespace hotdeal::gateway
