// StoreConfig -> persistence::Options; see store_options.h.
#include "store_options.h"

namespace hotdeal::app {

persistence::Options PersistenceOptionsFrom(const StoreConfig& config) {
  persistence::Options options;
  options.kafka_brokers = config.kafka_brokers;
  options.kafka_topic = config.kafka_topic;
  options.mysql_host = config.mysql_host;
  options.mysql_port = config.mysql_port;
  options.mysql_user = config.mysql_user;
  options.mysql_password = config.mysql_password;
  options.mysql_database = config.mysql_database;
  return options;
}

}  // namespace hotdeal::app
