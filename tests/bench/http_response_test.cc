// ParseResponse: framing of complete, partial and unframeable HTTP/1.1 responses.
#include "http_response.h"

#include <gtest/gtest.h>

#include <string>

namespace hotdeal::bench {
namespace {

TEST(HttpResponseTest, CompleteResponseWithBody) {
  const std::string text =
      "HTTP/1.1 409 Conflict\r\ncontent-length: 20\r\nContent-Type: application/json\r\n\r\n"
      "{\"error\":\"sold_out\"}";
  const ParsedResponse response = ParseResponse(text);
  ASSERT_EQ(response.parse_status, ParseStatus::kComplete);
  EXPECT_EQ(response.status_code, 409);
  EXPECT_EQ(response.body, "{\"error\":\"sold_out\"}");
  EXPECT_EQ(response.size_bytes, text.size());
  EXPECT_FALSE(response.close);
}

TEST(HttpResponseTest, EveryPrefixNeedsMore) {
  const std::string text = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}";
  for (std::size_t size = 0; size < text.size(); ++size) {
    EXPECT_EQ(ParseResponse(text.substr(0, size)).parse_status, ParseStatus::kNeedMore) << size;
  }
}

TEST(HttpResponseTest, ConnectionCloseAndHttp10) {
  EXPECT_TRUE(
      ParseResponse("HTTP/1.1 503 X\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").close);
  EXPECT_TRUE(ParseResponse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").close);
  EXPECT_FALSE(
      ParseResponse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n")
          .close);
}

TEST(HttpResponseTest, RetryAfterInSeconds) {
  EXPECT_EQ(
      ParseResponse("HTTP/1.1 503 X\r\nRetry-After: 2\r\nContent-Length: 0\r\n\r\n").retry_after_s,
      2);
  EXPECT_EQ(ParseResponse("HTTP/1.1 503 X\r\nContent-Length: 0\r\n\r\n").retry_after_s, -1);
  // An HTTP date is not read: the client's own back-off applies then.
  EXPECT_EQ(ParseResponse("HTTP/1.1 429 X\r\nretry-after: Wed, 21 Oct 2026 07:28:00 GMT\r\n"
                          "Content-Length: 0\r\n\r\n")
                .retry_after_s,
            -1);
}

TEST(HttpResponseTest, BodilessStatusNeedsNoLength) {
  const ParsedResponse response = ParseResponse("HTTP/1.1 204 No Content\r\n\r\n");
  ASSERT_EQ(response.parse_status, ParseStatus::kComplete);
  EXPECT_TRUE(response.body.empty());
}

TEST(HttpResponseTest, RefusesWhatItCannotFrame) {
  EXPECT_EQ(ParseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").parse_status,
            ParseStatus::kError);
  EXPECT_EQ(ParseResponse("HTTP/1.1 200 OK\r\n\r\n").parse_status, ParseStatus::kError);
  EXPECT_EQ(ParseResponse("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n").parse_status,
            ParseStatus::kError);
  EXPECT_EQ(ParseResponse("SPDY/3 200 OK\r\n\r\n").parse_status, ParseStatus::kError);
  EXPECT_EQ(ParseResponse(std::string(kResponseHeaderBytesMax + 1, 'a')).parse_status,
            ParseStatus::kError);
}

}  // namespace
}  // namespace hotdeal::bench
