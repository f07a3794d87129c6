// The seam to MariaDB Connector/C: one connection, its statements and its rows, with errors as
// base::Status values. With rows.h, statement.h and sql.h, the only files that call mysql_*; no
// public header includes them.
//
// Must never: reconnect by itself. A connection lost during COMMIT leaves the outcome unknown;
// only the caller, who can re-read its offsets, may decide what happens next.
#pragma once

#include <mysql.h>

#include <chrono>
#include <string>
#include <string_view>

#include "hotdeal/base/status.h"
#include "mysql/rows.h"
#include "mysql/statement.h"

namespace hotdeal::persistence {
struct Options;
}

namespace hotdeal::persistence::mysql {

inline constexpr int kDuplicateKey = 1062;  // ER_DUP_ENTRY, as Status::code()

class Connection {
 public:
  Connection();
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Read and write timeouts bound how long a stalled server can hold a call.
  base::Status Connect(const Options& options, std::chrono::seconds io_timeout);
  base::Status Execute(std::string_view sql) noexcept;
  // Runs a statement that returns rows and reads them all.
  base::Result<ResultSet> Query(std::string_view sql);
  // A server-side prepared statement; it must not outlive the connection.
  base::Result<Statement> Prepare(std::string_view sql);
  // Appends `text` to `out` escaped for a single-quoted SQL string.
  void Escape(std::string_view text, std::string& out) const;

 private:
  base::Status LastError() const;
  MYSQL* mysql_ = nullptr;
};

}  // namespace hotdeal::persistence::mysql
