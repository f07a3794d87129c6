// Everything persistence/ can be told by the app: where Kafka and MySQL are and the fixed
// bounds of every queue and batch. Plain data; the app fills it from its flags.
//
// Must never: hold defaults that only work on one machine without saying so (the defaults are
// the local stack of scripts/stack).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace hotdeal::persistence {

struct Options {
  // Kafka.
  std::string kafka_brokers = "127.0.0.1:19092";
  std::string kafka_topic = "hotdeal.events";
  std::int32_t topic_partitions = 6;          // used only when the log creates the topic
  std::int16_t topic_replication_factor = 1;  // single-node local stack; 3 in production
  // Events accepted but not yet settled. Sizes the log's slot table and librdkafka's queue
  // (queue.buffering.max.messages), so the two bounds are one bound.
  std::uint32_t in_flight_max = 1 << 17;
  std::chrono::milliseconds linger{2};
  // How long librdkafka may try to deliver one event before reporting it failed.
  std::chrono::milliseconds delivery_timeout{10'000};
  // Stamped on every event the log appends: the epoch TakeOwnership answered (owner.h). 0 only
  // where no owner is taken (tests of the log alone).
  std::uint64_t owner_epoch = 0;
  // Engine data-plane workers (EngineOptions::workers). The log also expects the engine's
  // control-plane id, WorkerId{workers}.
  std::uint32_t workers = 1;

  // MySQL / MariaDB.
  std::string mysql_host = "127.0.0.1";
  std::uint16_t mysql_port = 13306;
  std::string mysql_user = "hotdeal";
  std::string mysql_password = "hotdeal";
  std::string mysql_database = "hotdeal";

  // Persister: events per transaction, and how long a partial batch may wait for more.
  std::uint32_t batch_events_max = 4096;
  std::chrono::milliseconds batch_wait{50};
  std::chrono::milliseconds retry_backoff_min{100};
  std::chrono::milliseconds retry_backoff_max{5'000};
  // The persister keeps and exports the books (hotdeal_persister_units, _log_units) of at most
  // this many campaigns, the newest: the engine holds at most as many (--campaigns-max).
  std::uint32_t campaigns_max = 1024;

  // OwnerWatch: how often a serving owner checks that no newer owner took over.
  std::chrono::milliseconds owner_check_interval{1'000};
};

}  // namespace hotdeal::persistence
