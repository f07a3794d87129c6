// JsonWriter: output is valid JSON (checked by simdjson's DOM parser) and strings round-trip,
// whatever bytes they hold.
#include "json_writer.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

namespace hotdeal::gateway {
namespace {

std::string WriteOneString(std::string_view value) {
  std::string out;
  JsonWriter json(out);
  json.BeginObject();
  json.Key("name");
  json.String(value);
  json.EndObject();
  return out;
}

// Parses `out` and returns its "name" member.
std::string ReadBack(const std::string& out) {
  simdjson::dom::parser parser;
  simdjson::dom::element document;
  EXPECT_EQ(parser.parse(out).get(document), simdjson::SUCCESS) << out;
  std::string_view name;
  EXPECT_EQ(document["name"].get(name), simdjson::SUCCESS) << out;
  return std::string(name);
}

TEST(JsonWriter, WritesNestedContainersWithCommas) {
  std::string out;
  JsonWriter json(out);
  json.BeginObject();
  json.Key("a");
  json.Int(-3);
  json.Key("b");
  json.BeginArray();
  json.Uint(1);
  json.Bool(true);
  json.Null();
  json.BeginObject();
  json.EndObject();
  json.EndArray();
  json.Key("c");
  json.Raw("\"2026-11-21T10:00:00Z\"");
  json.EndObject();
  EXPECT_EQ(out, R"({"a":-3,"b":[1,true,null,{}],"c":"2026-11-21T10:00:00Z"})");
}

TEST(JsonWriter, EscapesQuotesBackslashesAndControlCharacters) {
  std::string text = "say \"hi\"\\ \n\t\r\b\x01\x1f\x7f end";
  std::string out = WriteOneString(text);
  EXPECT_EQ(out.find('\n'), std::string::npos);
  EXPECT_NE(out.find("\\u0001"), std::string::npos);
  EXPECT_NE(out.find("\\u007f"), std::string::npos);
  EXPECT_EQ(ReadBack(out), text);
}

TEST(JsonWriter, KeepsValidUtf8AsIs) {
  std::string text = "10% off \xE2\x82\xAC \xF0\x9F\x94\xA5 \xC3\xA9";  // euro sign, fire, e-acute
  EXPECT_EQ(ReadBack(WriteOneString(text)), text);
}

TEST(JsonWriter, ReplacesInvalidUtf8SoOutputStaysValid) {
  // Lone continuation byte, overlong encoding, a UTF-16 surrogate in UTF-8, truncated sequence.
  for (std::string bad : {"a\x80z", "a\xC0\xAFz", "a\xED\xA0\x80z", "a\xE2\x82"}) {
    std::string out = WriteOneString(bad);
    std::string back = ReadBack(out);
    EXPECT_NE(back.find("\xEF\xBF\xBD"), std::string::npos) << out;
    EXPECT_EQ(back.front(), 'a');
  }
}

TEST(JsonWriter, EveryByteValueYieldsValidJson) {
  std::string all;
  for (int byte = 0; byte < 256; ++byte)
    all.push_back(static_cast<char>(byte));
  std::string out = WriteOneString(all);
  std::string back = ReadBack(out);
  // ASCII survives exactly; every byte >= 0x80 alone is invalid UTF-8 and was replaced.
  EXPECT_EQ(back.substr(0, 128), all.substr(0, 128));
}

}  // namespace
}  // namespace hotdeal::gateway
