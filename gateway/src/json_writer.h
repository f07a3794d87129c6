// A small streaming JSON writer for responses: appends to a caller-owned string, escapes every
// string it is given and never builds a DOM. It must never emit invalid JSON for any input
// bytes, and never allocate beyond the target string's growth (which stops once the reused
// buffer has reached its working size).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hotdeal::gateway {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  void BeginObject() { Open('{'); }
  void EndObject() { Close('}'); }
  void BeginArray() { Open('['); }
  void EndArray() { Close(']'); }

  // Starts a member of the current object; `key` is escaped like any string.
  void Key(std::string_view key);

  void String(std::string_view value);
  void Int(std::int64_t value);
  void Uint(std::uint64_t value);
  void Bool(bool value);
  void Null();
  // Appends `json`, which the caller guarantees is one valid JSON value (e.g. a formatted time).
  void Raw(std::string_view json);

 private:
  void Open(char bracket);
  void Close(char bracket);
  void BeforeValue();
  void Escaped(std::string_view text);

  std::string& out_;
  // Whether the next value in the current container needs a comma before it.
  bool need_comma_ = false;
};

}  // namespace hotdeal::gateway
