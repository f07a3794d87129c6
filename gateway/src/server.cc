// Server: builds the shared pieces (stats, metrics, API), one Worker per thread, and runs the
// shutdown sequence.
#include "hotdeal/gateway/server.h"

#include <boost/asio/ip/address.hpp>
#include <stdexcept>
#include <thread>
#include <vector>

#include "api.h"
#include "edge.h"
#include "hotdeal/base/check.h"
#include "metrics.h"
#include "worker.h"

namespace hotdeal::gateway {

class Server::Impl {
 public:
  Impl(GatewayOptions options, engine::Engine& engine, engine::DurableLog* log,
       std::shared_ptr<base::MetricsRegistry> metrics)
      : options_(std::move(options)),
        stats_(options_.threads),
        metrics_(metrics ? std::move(metrics) : std::make_shared<base::MetricsRegistry>()),
        api_(engine, options_, ready_, *metrics_, log) {
    metrics_->Register(std::make_shared<GatewayMetrics>(stats_, engine, options_));
    for (std::uint32_t i = 0; i < options_.threads; ++i) {
      workers_.push_back(
          std::make_unique<Worker>(i, options_, engine, api_, stats_[i], open_connections_, log));
    }
  }

  ~Impl() { Shutdown(std::chrono::milliseconds{0}); }

  void Start() {
    auto address = boost::asio::ip::make_address(options_.listen_host);
    boost::asio::ip::tcp::endpoint endpoint(address, options_.listen_port);
    if (options_.listen_port != 0) ProbePortIsFree(endpoint);
    // The first bind resolves port 0; the others join that port through SO_REUSEPORT.
    workers_.front()->Listen(endpoint);
    port_ = workers_.front()->port();
    endpoint.port(port_);
    for (std::size_t i = 1; i < workers_.size(); ++i)
      workers_[i]->Listen(endpoint);
    for (auto& worker : workers_) {
      threads_.emplace_back([&worker] { worker->Run(); });
    }
  }

  std::uint16_t port() const { return port_; }

  // SO_REUSEPORT would let this process silently share a port with another server (any
  // process of the same user that also sets it), splitting traffic between them. A plain bind
  // first fails with "address in use" if anyone holds the port; it is released at once.
  static void ProbePortIsFree(const boost::asio::ip::tcp::endpoint& endpoint) {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor probe(io);
    probe.open(endpoint.protocol());
    probe.set_option(boost::asio::socket_base::reuse_address(true));
    probe.bind(endpoint);
  }

  void SetReady(bool ready) { ready_.store(ready, std::memory_order_release); }

  void Shutdown(std::chrono::milliseconds grace) {
    if (threads_.empty()) return;
    for (auto& worker : workers_)
      worker->BeginDrain();
    auto deadline = std::chrono::steady_clock::now() + grace;
    while (open_connections_.load(std::memory_order_relaxed) > 0 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
    }
    for (auto& worker : workers_)
      worker->Stop();
    for (std::thread& thread : threads_)
      thread.join();
    threads_.clear();
  }

 private:
  const GatewayOptions options_;
  std::atomic<bool> ready_{false};
  std::atomic<std::uint32_t> open_connections_{0};
  std::vector<WorkerStats> stats_;  // one per worker; sized once, never moved
  std::shared_ptr<base::MetricsRegistry> metrics_;
  Api api_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
};

Server::Server(GatewayOptions options, engine::Engine& engine, engine::DurableLog* log,
               std::shared_ptr<base::MetricsRegistry> metrics)
    : impl_(std::make_unique<Impl>(std::move(options), engine, log, std::move(metrics))) {}

Server::~Server() = default;

void Server::Start() {
  impl_->Start();
}
std::uint16_t Server::port() const {
  return impl_->port();
}
void Server::SetReady(bool ready) {
  impl_->SetReady(ready);
}
std::optional<std::string> Server::CheckOptions(const GatewayOptions& options) {
  try {
    UserAuth check(options);
    std::string error;
    if (!TrustedProxies::Parse(options.trusted_proxies, error)) return "trusted proxies: " + error;
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return std::nullopt;
}

void Server::Shutdown(std::chrono::milliseconds grace) {
  impl_->Shutdown(grace);
}

}  // namespace hotdeal::gateway
