// RunServe: builds the engine with the chosen event sink, starts the gateway, waits for a
// signal and shuts down within shutdown_grace_ms.
#include "serve.h"

#include <pthread.h>

#include <csignal>
#include <exception>
#include <iostream>

#include "hotdeal/engine/engine.h"
#include "hotdeal/gateway/server.h"

namespace hotdeal::app {
namespace {

gateway::GatewayOptions GatewayOptionsFrom(const ServeConfig& config) {
  gateway::GatewayOptions options;
  options.listen_host = config.listen_host;
  options.listen_port = config.listen_port;
  options.threads = config.threads;
  options.connections_max = config.connections_max;
  options.header_bytes_max = config.header_bytes_max;
  options.body_bytes_max = config.body_bytes_max;
  options.idle_timeout = std::chrono::milliseconds{config.idle_timeout_ms};
  options.request_timeout = std::chrono::milliseconds{config.request_timeout_ms};
  options.admin_token = config.admin_token;
  return options;
}

engine::EngineOptions EngineOptionsFrom(const ServeConfig& config) {
  engine::EngineOptions options;
  options.workers = config.threads;
  options.campaigns_max = config.campaigns_max;
  options.idempotency_window = std::chrono::seconds{config.idempotency_window_seconds};
  return options;
}

}  // namespace

int RunServe(const ServeConfig& config) {
  if (config.log == LogMode::kKafka) {
    std::cerr << "hotdeal serve: --log kafka is not built yet (persistence comes later); "
                 "run with --log none\n";
    return 2;
  }
  if (config.threads == 0) {
    std::cerr << "hotdeal serve: --threads must be at least 1\n";
    return 2;
  }
  // Block the shutdown signals before any thread starts, so every thread inherits the mask and
  // only sigwait below receives them: no handler runs on a worker in the middle of a request.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  engine::DiscardSink sink;
  engine::Engine engine(EngineOptionsFrom(config), sink);
  gateway::Server server(GatewayOptionsFrom(config), engine);
  try {
    server.Start();
  } catch (const std::exception& error) {
    std::cerr << "hotdeal serve: cannot listen on " << config.listen_host << ":"
              << config.listen_port << ": " << error.what() << "\n";
    return 1;
  }
  // With --log none there is no state to recover: ready as soon as we listen.
  server.SetReady(true);
  std::cerr << "hotdeal serve: listening on " << config.listen_host << ":" << server.port()
            << " with " << config.threads << " thread(s), --log none (events are not kept)\n";

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  std::cerr << "hotdeal serve: signal " << signal_number << ", draining for up to "
            << config.shutdown_grace_ms << " ms\n";
  server.Shutdown(std::chrono::milliseconds{config.shutdown_grace_ms});
  std::cerr << "hotdeal serve: stopped\n";
  return 0;
}

}  // namespace hotdeal::app
