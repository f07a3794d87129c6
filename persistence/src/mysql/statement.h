// A server-side prepared statement with typed binds: the values travel in MySQL's binary
// protocol, never spliced into SQL text, and the server parses the statement once. Used for the
// statements run again and again with one row's values (an order's move, an owner's epoch).
#pragma once

#include <mysql.h>

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "hotdeal/base/status.h"

namespace hotdeal::persistence::mysql {

class Statement {
 public:
  Statement(Statement&&) noexcept = default;
  Statement& operator=(Statement&&) noexcept = default;

  // Binds parameter `i` (from 0) for the next Execute; a string must live until then.
  void Bind(std::size_t i, std::int64_t value) noexcept;
  void Bind(std::size_t i, std::uint64_t value) noexcept;
  void Bind(std::size_t i, std::string_view value) noexcept;
  void BindNull(std::size_t i) noexcept;
  // Runs it with the values bound; the rows it changed.
  base::Result<std::uint64_t> Execute() noexcept;

 private:
  friend class Connection;
  explicit Statement(MYSQL_STMT* stmt) noexcept : stmt_(stmt) {}
  void ResizeBinds(std::size_t count);
  base::Status LastError() const;

  struct Close {
    void operator()(MYSQL_STMT* s) const noexcept { mysql_stmt_close(s); }
  };
  // A parameter's value, where MYSQL_BIND points.
  struct Value {
    std::int64_t number = 0;
    unsigned long length = 0;
    my_bool is_null = 0;
  };
  std::unique_ptr<MYSQL_STMT, Close> stmt_;
  std::vector<MYSQL_BIND> binds_;
  std::vector<Value> values_;  // never resized after ResizeBinds: binds_ point into it
};

}  // namespace hotdeal::persistence::mysql
