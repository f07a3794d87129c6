// RunServe: builds the engine with the chosen event sink, recovers its state (durable mode),
// starts the gateway, waits for a signal and shuts down: gateway (drain), log, persister.
#include "serve.h"

#include <unistd.h>

#include <csignal>
#include <exception>
#include <optional>
#include <string>

#include "hotdeal/base/log.h"
#include "hotdeal/base/metrics_registry.h"
#include "hotdeal/engine/engine.h"
#include "hotdeal/gateway/server.h"
#include "hotdeal/persistence/in_doubt_settler.h"
#include "hotdeal/persistence/kafka_log.h"
#include "hotdeal/persistence/owner.h"
#include "hotdeal/persistence/persister.h"
#include "hotdeal/persistence/recovery.h"
#include "node.h"
#include "owner_lock.h"
#include "process_metrics.h"
#include "signals.h"

namespace hotdeal::app {
namespace {

using base::Log;
using base::LogLevel;

// Starts the workers; false (after saying why) if the address cannot be served.
bool StartGateway(gateway::Server& server, const ServeConfig& config) {
  try {
    server.Start();
  } catch (const std::exception& error) {
    Log(LogLevel::kError, "serve", "cannot listen on %s:%u: %s", config.gateway.listen_host.c_str(),
        unsigned{config.gateway.listen_port}, error.what());
    return false;
  }
  return true;
}

void WaitAndDrain(gateway::Server& server, const ServeConfig& config, const sigset_t& signals) {
  int signal_number = WaitForShutdownSignal(signals);
  Log(LogLevel::kInfo, "serve", "signal %d, draining for up to %lld ms", signal_number,
      static_cast<long long>(config.shutdown_grace.count()));
  server.Shutdown(config.shutdown_grace);
}

int ServeWithoutLog(const ServeConfig& config, const sigset_t& signals) {
  engine::DiscardSink sink;
  engine::Engine engine(config.engine, sink);
  auto metrics = std::make_shared<base::MetricsRegistry>();
  metrics->Register(std::make_shared<ProcessMetrics>("serve"));
  gateway::Server server(config.gateway, engine, nullptr, metrics);
  if (!StartGateway(server, config)) return 1;
  // No state to recover: ready as soon as we listen.
  server.SetReady(true);
  Log(LogLevel::kInfo, "serve",
      "listening on %s:%u with %u thread(s), --log none (events are not kept)",
      config.gateway.listen_host.c_str(), unsigned{server.port()},
      unsigned{config.gateway.threads});
  WaitAndDrain(server, config, signals);
  Log(LogLevel::kInfo, "serve", "stopped");
  return 0;
}

// The composition of persistence/README.md: log as the engine's sink, recovery before any
// worker runs, then the gateway, then (optionally) the persister. Node stops what started in
// reverse on any failure and at the end.
int ServeDurable(const ServeConfig& config, const sigset_t& signals) {
  std::string lock_error;
  std::optional<OwnerLock> lock = OwnerLock::Acquire(config.data_dir, lock_error);
  if (!lock) {
    Log(LogLevel::kError, "serve", "%s; refusing to start a second owner", lock_error.c_str());
    return 1;
  }
  persistence::Options options = config.store;
  // Before the log exists (each event it appends carries the epoch) and before recovery (which
  // must read past the fence). Bounded by the MySQL and Kafka timeouts.
  if (!Node::Try("serve", "take ownership of topic " + options.kafka_topic,
                 [&] { options.owner_epoch = persistence::TakeOwnership(options); })) {
    return 1;
  }
  Log(LogLevel::kInfo, "serve", "owner of topic %s with epoch %llu", options.kafka_topic.c_str(),
      static_cast<unsigned long long>(options.owner_epoch));
  persistence::KafkaLog log(options);
  engine::Engine engine(config.engine, log);
  persistence::SettlerOptions settler_options;
  // A replaced producer's last requests may still land for up to a delivery timeout.
  settler_options.replaced_producer_quiet = options.delivery_timeout;
  persistence::InDoubtSettler settler(engine, log, options, settler_options);
  auto metrics = std::make_shared<base::MetricsRegistry>();
  gateway::Server server(config.gateway, engine, &log, metrics);
  metrics->Register(log.probe());
  metrics->Register(settler.probe());
  std::optional<persistence::Persister> persister;
  if (config.persister) {
    persister.emplace(options);
    metrics->Register(persister->probe());
  }
  persistence::OwnerWatch watch(options);  // after `server`: its callback uses it
  metrics->Register(watch.probe());
  auto process = std::make_shared<ProcessMetrics>("serve");
  metrics->Register(process);
  // After every member: destroyed first, so its stops still reach them on any return.
  Node node("serve");

  // The persister starts after recovery (it must not migrate the schema while Recover reads)
  // but stops last, after the log settled what was in flight: it writes the last batch.
  node.StopAfterWhatFollows([&] {
    if (persister) persister->Stop();
  });
  // Both throw after their own bounded waits (admin request timeout, MySQL connect timeout).
  if (!node.Start(
          "start the durable log on Kafka " + options.kafka_brokers + " (topic " +
              options.kafka_topic + ")",
          [&] { log.Start(engine, &settler); }, [&] { log.Stop(); })) {
    return 1;
  }
  persistence::RecoveryReport report;
  const auto recovery_started = std::chrono::steady_clock::now();
  if (!node.Start("recover from MySQL " + options.mysql_host + ":" +
                      std::to_string(options.mysql_port) + "/" + options.mysql_database +
                      " and Kafka " + options.kafka_brokers,
                  [&] { report = persistence::Recover(engine, options); })) {
    return 1;
  }
  process->SetRecovered(std::chrono::steady_clock::now() - recovery_started,
                        report.events_replayed);
  Log(LogLevel::kInfo, "serve",
      "recovered %llu campaign(s) (%llu archived), %llu claim(s), %llu order(s) from MySQL and "
      "%llu event(s) from Kafka, skipped %llu event(s) of replaced owners",
      static_cast<unsigned long long>(report.campaigns),
      static_cast<unsigned long long>(report.archived),
      static_cast<unsigned long long>(report.claims),
      static_cast<unsigned long long>(report.orders),
      static_cast<unsigned long long>(report.events_replayed),
      static_cast<unsigned long long>(report.stale_epoch_events));
  // After recovery, before any decision: its session starts at the high watermarks now. The
  // gateway has stopped deciding by the time it stops (WaitAndDrain); what is still in doubt
  // then stays for the next recovery to decide from the log.
  if (!node.Start(
          "start the in-doubt settler on Kafka " + options.kafka_brokers, [&] { settler.Start(); },
          [&] { settler.Stop(); })) {
    return 1;
  }
  if (persister) persister->Start();
  if (!StartGateway(server, config)) return 1;
  server.SetReady(true);
  if (!node.Start(
          "watch the owner fence",
          [&] {
            watch.Start([&server](const std::string& why) {
              // A newer owner sells now: refuse every decision at once, then shut down as on
              // SIGTERM.
              server.SetReady(false);
              Log(LogLevel::kError, "serve", "fenced, %s; no longer selling, exiting %d",
                  why.c_str(), kExitFenced);
              ::kill(::getpid(), SIGTERM);
            });
          },
          [&] { watch.Stop(); })) {
    return 1;
  }
  Log(LogLevel::kInfo, "serve",
      "listening on %s:%u with %u thread(s), --log kafka --ack %s, persister %s",
      config.gateway.listen_host.c_str(), unsigned{server.port()}, unsigned{config.gateway.threads},
      config.gateway.ack == gateway::AckMode::kDurable ? "durable" : "memory",
      persister ? "on" : "off");
  WaitAndDrain(server, config, signals);
  // Newest first: the watch, the settler, the log (it settles what is in flight; replies to
  // clients still connected went out during the drain), then the persister's last batch.
  node.StopAll();
  Log(LogLevel::kInfo, "serve", "stopped");
  return watch.fenced() ? kExitFenced : 0;
}

}  // namespace

int RunServe(const ServeConfig& config) {
  base::SetLogFormat(config.logging.format);
  base::SetLogLevel(config.logging.level);
  if (config.gateway.threads == 0) {
    Log(LogLevel::kError, "serve", "--threads must be at least 1");
    return 2;
  }
  if (std::optional<std::string> error = gateway::Server::CheckOptions(config.gateway)) {
    Log(LogLevel::kError, "serve", "%s", error->c_str());
    return 2;
  }
  // Before any thread starts, so every thread inherits the mask.
  sigset_t signals = BlockShutdownSignals();
  return config.log == LogMode::kKafka ? ServeDurable(config, signals)
                                       : ServeWithoutLog(config, signals);
}

}  // namespace hotdeal::app
