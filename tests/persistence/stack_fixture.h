// Shared by the tests that need the local stack (`scripts/stack up`, then
// `eval "$(scripts/stack env)"`): options from the HOTDEAL_* variables, a topic and a database
// of its own per test run (so reruns and parallel tests never share state; the database is
// dropped afterwards), and a direct MySQL connection for checking tables.
#pragma once

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <mysql.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "hotdeal/engine/event.h"
#include "hotdeal/persistence/options.h"

namespace hotdeal::persistence::testing {

inline std::string Env(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

class StackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::getenv("HOTDEAL_KAFKA_BROKERS") == nullptr) {
      GTEST_SKIP() << "needs the local stack: scripts/stack up && eval \"$(scripts/stack env)\"";
    }
    const auto now = std::chrono::system_clock::now().time_since_epoch().count();
    unique_ = std::to_string(getpid()) + "_" + std::to_string(now % 1'000'000'000);
    options_.kafka_brokers = Env("HOTDEAL_KAFKA_BROKERS", "");
    options_.kafka_topic = std::string("hotdeal.test.") +
                           ::testing::UnitTest::GetInstance()->current_test_info()->name() + "." +
                           unique_;
    options_.topic_partitions = 3;
    options_.mysql_host = Env("HOTDEAL_MYSQL_HOST", "127.0.0.1");
    options_.mysql_port =
        static_cast<std::uint16_t>(std::atoi(Env("HOTDEAL_MYSQL_PORT", "13306").c_str()));
    options_.mysql_user = Env("HOTDEAL_MYSQL_USER", "hotdeal");
    options_.mysql_password = Env("HOTDEAL_MYSQL_PASSWORD", "hotdeal");
    // The stack grants hotdeal_test*: never the database `hotdeal serve` uses.
    options_.mysql_database = "hotdeal_test_" + unique_;
    options_.batch_wait = std::chrono::milliseconds(20);
    mysql_ = mysql_init(nullptr);
    ASSERT_NE(mysql_real_connect(mysql_, options_.mysql_host.c_str(), options_.mysql_user.c_str(),
                                 options_.mysql_password.c_str(), nullptr, options_.mysql_port,
                                 nullptr, 0),
              nullptr)
        << mysql_error(mysql_);
    Exec("CREATE DATABASE " + options_.mysql_database);
    ASSERT_EQ(mysql_select_db(mysql_, options_.mysql_database.c_str()), 0);
  }
  void TearDown() override {
    if (mysql_ == nullptr) return;
    Exec("DROP DATABASE IF EXISTS " + options_.mysql_database, true);
    DeleteTopic();
    mysql_close(mysql_);
  }

  // Best effort: a test topic left behind only costs the broker some disk.
  void DeleteTopic() {
    char error[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", options_.kafka_brokers.c_str(), error,
                      sizeof error);
    rd_kafka_t* admin = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (admin == nullptr) return;
    rd_kafka_DeleteTopic_t* topic = rd_kafka_DeleteTopic_new(options_.kafka_topic.c_str());
    rd_kafka_queue_t* queue = rd_kafka_queue_new(admin);
    rd_kafka_DeleteTopics(admin, &topic, 1, nullptr, queue);
    if (rd_kafka_event_t* done = rd_kafka_queue_poll(queue, 10'000)) rd_kafka_event_destroy(done);
    rd_kafka_queue_destroy(queue);
    rd_kafka_DeleteTopic_destroy(topic);
    rd_kafka_destroy(admin);
  }

  // A campaign id unique to this run.
  engine::CampaignId Campaign(const std::string& name) const {
    return *engine::CampaignId::Parse(name + "-" + unique_);
  }

  void Exec(const std::string& sql, bool may_fail = false) {
    const int rc = mysql_query(mysql_, sql.c_str());
    if (!may_fail) {
      ASSERT_EQ(rc, 0) << sql << ": " << mysql_error(mysql_);
    }
    if (MYSQL_RES* r = mysql_store_result(mysql_)) mysql_free_result(r);
  }

  // The query's rows, one line each, fields separated by '|': easy to compare whole tables.
  std::string Rows(const std::string& sql) {
    if (mysql_query(mysql_, sql.c_str()) != 0) return std::string("error: ") + mysql_error(mysql_);
    MYSQL_RES* result = mysql_store_result(mysql_);
    std::string out;
    const unsigned fields = mysql_num_fields(result);
    while (MYSQL_ROW row = mysql_fetch_row(result)) {
      for (unsigned i = 0; i < fields; ++i) {
        out += row[i] != nullptr ? row[i] : "NULL";
        out += i + 1 < fields ? "|" : "\n";
      }
    }
    mysql_free_result(result);
    return out;
  }

  std::int64_t Number(const std::string& sql) {
    const std::string text = Rows(sql);
    return text.starts_with("error") ? -1 : std::atoll(text.c_str());
  }

  // Waits until the persister has stored offsets covering `events` messages (the topic is new,
  // so its offsets start at 0 and their sum is the number of messages written).
  bool WaitForOffsets(std::int64_t events,
                      std::chrono::seconds timeout = std::chrono::seconds(60)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::int64_t stored = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      stored = Number("SELECT COALESCE(SUM(next_offset), 0) FROM consumer_offsets WHERE topic = '" +
                      options_.kafka_topic + "'");
      if (stored == events) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    // Which way it missed tells a stuck persister (fewer) from a topic holding more than the
    // test wrote (a duplicate).
    ADD_FAILURE() << "stored offsets sum to " << stored << ", expected " << events;
    return false;
  }

  Options options_;
  std::string unique_;
  MYSQL* mysql_ = nullptr;
};

}  // namespace hotdeal::persistence::testing
