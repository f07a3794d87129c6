// SQL text for the statements whose shape depends on the data: multi-row INSERTs of a batch,
// id lists. Values go in by type, so a string is always quoted and escaped and a number always
// printed; only Trusted() splices text unescaped, for ids the event decoder already validated
// to [A-Za-z0-9_-] (escaping them would cost the persister's batches for nothing).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mysql/connection.h"

namespace hotdeal::persistence::mysql {

class Sql {
 public:
  explicit Sql(const Connection& db) : db_(db) { text_.reserve(1 << 16); }

  // SQL itself: keywords, column lists, punctuation.
  Sql& operator<<(std::string_view sql) { return Append(sql); }
  Sql& Value(std::int64_t v) { return Append(std::to_string(v)); }
  Sql& Value(std::uint64_t v) { return Append(std::to_string(v)); }
  Sql& Value(std::uint32_t v) { return Value(std::uint64_t{v}); }
  // A quoted, escaped string literal.
  Sql& Value(std::string_view s) {
    text_.push_back('\'');
    db_.Escape(s, text_);
    text_.push_back('\'');
    return *this;
  }
  Sql& Null() { return Append("NULL"); }
  template <class T>
  Sql& Value(const std::optional<T>& v) {
    return v ? Value(*v) : Null();
  }
  // A quoted literal of text known to need no escaping (see the top of this file).
  Sql& Trusted(std::string_view s) {
    text_.push_back('\'');
    text_.append(s);
    text_.push_back('\'');
    return *this;
  }

  void Clear() { text_.clear(); }
  bool empty() const { return text_.empty(); }
  const std::string& str() const { return text_; }

 private:
  Sql& Append(std::string_view s) {
    text_.append(s);
    return *this;
  }
  const Connection& db_;
  std::string text_;
};

}  // namespace hotdeal::persistence::mysql
