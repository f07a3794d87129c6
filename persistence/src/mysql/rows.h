// Rows read from MySQL, typed and named. A Row's columns are named by an enum whose values are
// their positions in the SELECT that read them (tables.h builds both from one list), so no caller
// counts columns; a number that does not parse is remembered, and the reader says which.
#pragma once

#include <mysql.h>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <type_traits>

namespace hotdeal::persistence::mysql {

class Row {
 public:
  Row(MYSQL_ROW row, const unsigned long* lengths) noexcept : row_(row), lengths_(lengths) {}

  template <class Column>
  bool IsNull(Column c) const noexcept {
    return row_[Index(c)] == nullptr;
  }
  // "" for NULL.
  template <class Column>
  std::string_view Text(Column c) const noexcept {
    const std::size_t i = Index(c);
    return row_[i] == nullptr ? std::string_view{} : std::string_view{row_[i], lengths_[i]};
  }
  // 0, and the row is bad, if the column is NULL or not all digits of an Int.
  template <class Int, class Column>
  Int Number(Column c) const noexcept {
    const std::string_view text = Text(c);
    Int value{};
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || end != text.data() + text.size() || text.empty()) {
      if (!bad_column_) bad_column_ = Index(c);
      return Int{};
    }
    return value;
  }
  // The first column a Number() could not read.
  std::optional<std::size_t> bad_column() const noexcept { return bad_column_; }

 private:
  template <class Column>
  static constexpr std::size_t Index(Column c) noexcept {
    if constexpr (std::is_enum_v<Column>) {
      return static_cast<std::size_t>(c);
    } else {
      return c;
    }
  }
  MYSQL_ROW row_;
  const unsigned long* lengths_;
  mutable std::optional<std::size_t> bad_column_;
};

// A fully read result set (mysql_store_result).
class ResultSet {
 public:
  explicit ResultSet(MYSQL_RES* result) noexcept : result_(result) {}
  // The next row, valid until the next call; nullopt after the last.
  std::optional<Row> Next() noexcept {
    if (!result_) return std::nullopt;
    MYSQL_ROW row = mysql_fetch_row(result_.get());
    if (row == nullptr) return std::nullopt;
    return Row(row, mysql_fetch_lengths(result_.get()));
  }
  std::uint64_t size() const noexcept { return result_ ? mysql_num_rows(result_.get()) : 0; }

 private:
  struct Free {
    void operator()(MYSQL_RES* r) const noexcept { mysql_free_result(r); }
  };
  std::unique_ptr<MYSQL_RES, Free> result_;
};

}  // namespace hotdeal::persistence::mysql
