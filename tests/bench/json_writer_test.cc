// JsonWriter: commas, nesting, escaping; and the RFC 3339 helpers the report relies on.
#include "json_writer.h"

#include <gtest/gtest.h>

#include <cmath>

#include "clock.h"

namespace hotdeal::bench {
namespace {

TEST(JsonWriterTest, NestsAndPlacesCommas) {
  JsonWriter json;
  json.BeginObject();
  json.Key("a").Int(1);
  json.Key("b").BeginArray().Int(2).String("x").BeginObject().EndObject().EndArray();
  json.Key("c").Double(0.5);
  json.Key("d").Double(std::nan("")).Key("e").Bool(true).Key("f").Null();
  json.EndObject();
  EXPECT_EQ(json.text(), R"({"a":1,"b":[2,"x",{}],"c":0.5,"d":null,"e":true,"f":null})");
}

TEST(JsonWriterTest, EscapesStrings) {
  JsonWriter json;
  json.String("q\"b\\n\n\x01");
  EXPECT_EQ(json.text(), R"("q\"b\\n\n\u0001")");
}

TEST(ClockTest, Rfc3339RoundTripsAndReadsOffsets) {
  const int64_t at_ns = int64_t{1'795'255'200} * 1'000'000'000;  // 2026-11-21T10:00:00Z
  EXPECT_EQ(FormatRfc3339(at_ns), "2026-11-21T10:00:00Z");
  EXPECT_EQ(ParseRfc3339Ns("2026-11-21T10:00:00Z"), at_ns);
  EXPECT_EQ(ParseRfc3339Ns("2026-11-21T10:00:00.250Z"), at_ns + 250'000'000);
  EXPECT_EQ(ParseRfc3339Ns("2026-11-21T11:30:00+01:30"), at_ns);
  EXPECT_FALSE(ParseRfc3339Ns("2026-11-21 10:00:00"));
  EXPECT_FALSE(ParseRfc3339Ns("2026-13-21T10:00:00Z"));
}

}  // namespace
}  // namespace hotdeal::bench
