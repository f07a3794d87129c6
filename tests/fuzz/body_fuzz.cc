// libFuzzer target: every route's JSON body decoder, and the query-string reader, on arbitrary
// bytes. Each must answer a BodyError or a value, never crash, read out of bounds or leak
// (ASan and UBSan are on). tests/fuzz/run builds and runs it.
#include <simdjson.h>

#include <cstdint>
#include <string>

#include "http_request.h"
#include "request_body.h"

namespace {

using namespace hotdeal::gateway;

simdjson::ondemand::parser& Parser() {
  static simdjson::ondemand::parser parser;
  return parser;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The gateway always parses from a buffer with SIMDJSON_PADDING bytes after the body.
  std::string body(reinterpret_cast<const char*>(data), size);
  body.reserve(size + simdjson::SIMDJSON_PADDING);
  PaddedBody padded{body.data(), body.size(), body.capacity()};
  simdjson::ondemand::parser& parser = Parser();
  UserBody user;
  OrderBody order;
  MoveBody move;
  hotdeal::engine::CampaignSpec spec;
  (void)DecodeUserBody(parser, padded, user);
  (void)DecodeOrderBody(parser, padded, order);
  (void)DecodeMoveBody(parser, padded, move);
  (void)DecodeEmptyBody(parser, padded);
  BodyError error = DecodeCampaignBody(parser, padded, {}, spec);
  if (!error && spec.name.empty()) __builtin_trap();  // a campaign always has a name
  (void)FindQuery(body, "limit");
  return 0;
}
