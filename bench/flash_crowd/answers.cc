// JSON answer reading with simdjson On Demand: one pass over the fields, order-independent.
#include "answers.h"

#include <cstring>

#include "clock.h"

namespace hotdeal::bench {

AnswerReader::AnswerReader()
    : padded_(new char[kBodyBytesMax + simdjson::SIMDJSON_PADDING]), parser_(kBodyBytesMax) {}

bool AnswerReader::Load(std::string_view body, simdjson::ondemand::object& object) {
  if (body.size() > kBodyBytesMax) return false;
  std::memcpy(padded_.get(), body.data(), body.size());
  std::memset(padded_.get() + body.size(), 0, simdjson::SIMDJSON_PADDING);
  const simdjson::padded_string_view view(padded_.get(), body.size(),
                                          body.size() + simdjson::SIMDJSON_PADDING);
  if (parser_.iterate(view).get(document_) != simdjson::SUCCESS) return false;
  return document_.get_object().get(object) == simdjson::SUCCESS;
}

bool AnswerReader::ReadClaim(std::string_view body, ClaimFields& fields) {
  fields = {};
  simdjson::ondemand::object object;
  if (!Load(body, object)) return false;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
    std::string_view* target = key == "error"         ? &fields.error
                               : key == "claim_id"    ? &fields.claim_id
                               : key == "coupon_code" ? &fields.coupon_code
                               : key == "user_id"     ? &fields.user_id
                               : key == "order_id"    ? &fields.order_id
                               : key == "status"      ? &fields.status
                                                      : nullptr;
    // Other fields (message, created_at, ...) are skipped by On Demand when left unread.
    if (target != nullptr && field.value().get_string().get(*target) != simdjson::SUCCESS) {
      return false;
    }
  }
  return true;
}

bool AnswerReader::ReadCampaign(std::string_view body, CampaignFields& fields) {
  fields = {};
  simdjson::ondemand::object object;
  if (!Load(body, object)) return false;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
    simdjson::error_code error = simdjson::SUCCESS;
    if (key == "stock") {
      error = field.value().get_int64().get(fields.stock);
    } else if (key == "remaining") {
      error = field.value().get_int64().get(fields.remaining);
    } else if (key == "status") {
      error = field.value().get_string().get(fields.status);
    } else if (key == "starts_at") {
      error = field.value().get_string().get(fields.starts_at);
    }
    if (error != simdjson::SUCCESS) return false;
  }
  return true;
}

std::optional<int64_t> AnswerReader::ReadServerTimeNs(std::string_view body) {
  simdjson::ondemand::object object;
  if (!Load(body, object)) return std::nullopt;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return std::nullopt;
    if (key == "now") {
      std::string_view text;
      if (field.value().get_string().get(text) != simdjson::SUCCESS) return std::nullopt;
      return ParseRfc3339Ns(text);
    }
    if (key == "unix_ms") {
      int64_t unix_ms = 0;
      if (field.value().get_int64().get(unix_ms) != simdjson::SUCCESS) return std::nullopt;
      return unix_ms * 1'000'000;
    }
  }
  return std::nullopt;
}

}  // namespace hotdeal::bench
