// RAII over one MariaDB Connector/C connection, with errors as values. Internal: the only
// header that includes mysql.h, and no public header includes it.
//
// Must never: reconnect by itself. A connection lost during COMMIT leaves the outcome unknown;
// only the caller, who can re-read its offsets, may decide what happens next. Statements are
// text the caller built from validated ids; the one free-text field goes through Escape().
#pragma once

#include <mysql.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace hotdeal::persistence {

struct Options;

struct MysqlError {
  unsigned code = 0;  // server ER_* or client CR_* number
  std::string message;
};

inline constexpr unsigned kMysqlDuplicateKey = 1062;  // ER_DUP_ENTRY

// A fully read result set (mysql_store_result); rows are arrays of nullable C strings.
class MysqlResult {
 public:
  explicit MysqlResult(MYSQL_RES* result) : result_(result) {}
  MYSQL_ROW Next() noexcept { return result_ ? mysql_fetch_row(result_.get()) : nullptr; }
  std::uint64_t rows() const noexcept { return result_ ? mysql_num_rows(result_.get()) : 0; }

 private:
  struct Free {
    void operator()(MYSQL_RES* r) const noexcept { mysql_free_result(r); }
  };
  std::unique_ptr<MYSQL_RES, Free> result_;
};

class MysqlConnection {
 public:
  MysqlConnection();
  ~MysqlConnection();
  MysqlConnection(const MysqlConnection&) = delete;
  MysqlConnection& operator=(const MysqlConnection&) = delete;

  // Read and write timeouts bound how long a stalled server can hold a call.
  std::optional<MysqlError> Connect(const Options& options, std::chrono::seconds io_timeout);
  std::optional<MysqlError> Execute(std::string_view sql) noexcept;
  // Runs a statement that returns rows.
  std::optional<MysqlError> Query(std::string_view sql, std::optional<MysqlResult>& out) noexcept;
  // Appends `text` to `out` escaped for a single-quoted SQL string.
  void Escape(std::string_view text, std::string& out) const;

 private:
  MysqlError LastError() const;
  MYSQL* mysql_ = nullptr;
};

}  // namespace hotdeal::persistence
