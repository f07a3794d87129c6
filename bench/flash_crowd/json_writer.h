// A small streaming JSON writer for flash_crowd's --json report: keys, numbers, strings with
// escaping, nested objects and arrays, commas placed for the caller. Output only; the report
// is a few kilobytes, so it builds a std::string.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hotdeal::bench {

class JsonWriter {
 public:
  // Inside an object every value needs a Key() first; inside an array it must not have one.
  JsonWriter& Key(std::string_view key);
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  // Non-finite numbers have no JSON form and are written as null.
  JsonWriter& Double(double value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();

  // The document; complete once every Begin has its End.
  const std::string& text() const { return text_; }

 private:
  void BeforeValue();
  void AppendQuoted(std::string_view value);

  std::string text_;
  // Per open container: whether it already holds a value (so the next one needs a comma).
  std::vector<bool> has_value_;
  bool after_key_ = false;
};

}  // namespace hotdeal::bench
