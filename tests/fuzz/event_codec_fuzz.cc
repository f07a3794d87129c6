// libFuzzer target: the event codec (persistence/event_codec.h) on arbitrary bytes, as recovery
// reads whatever a partition holds. Decode answers an error value or a record, never crashes;
// and what decodes is an event the codec can write again: encoded, it decodes to the same
// record, and encoding that gives the same bytes. tests/fuzz/run builds and runs it.
#include <cstdint>
#include <string>
#include <string_view>

#include "hotdeal/persistence/event_codec.h"

namespace {

using namespace hotdeal;
using persistence::CodecError;

void Require(bool condition) {
  if (!condition) __builtin_trap();
}

bool Same(const persistence::LogRecord& a, const persistence::LogRecord& b) {
  const engine::Event& x = a.event;
  const engine::Event& y = b.event;
  return a.epoch == b.epoch && a.fence == b.fence && x.type == y.type && x.seq == y.seq &&
         x.at == y.at && x.campaign == y.campaign && x.user == y.user && x.claim_id == y.claim_id &&
         x.order_id == y.order_id && x.coupon_code == y.coupon_code && x.quantity == y.quantity &&
         x.amount == y.amount && x.expires_at == y.expires_at && x.spec.id == y.spec.id &&
         x.spec.kind == y.spec.kind && x.spec.name == y.spec.name && x.spec.stock == y.spec.stock &&
         x.spec.per_user_limit == y.spec.per_user_limit && x.spec.starts_at == y.spec.starts_at &&
         x.spec.ends_at == y.spec.ends_at && x.spec.price == y.spec.price &&
         x.spec.hold_seconds == y.spec.hold_seconds && x.campaign_index == y.campaign_index &&
         x.id_key == y.id_key && x.idempotency_key == y.idempotency_key;
}

persistence::Encoded Encode(const persistence::LogRecord& record,
                            persistence::EventBuffer& buffer) {
  if (record.fence) return persistence::EncodeFence(record.epoch, record.event.at, buffer);
  return persistence::EncodeEvent(record.event, record.epoch, buffer);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static persistence::EventDecoder decoder;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  persistence::LogRecord first;
  if (decoder.Decode(bytes, first) != CodecError::kOk) return 0;
  // A v1 document (epoch 0) is written back as v2 with epoch 0, which reads the same.
  static persistence::EventBuffer buffer;
  persistence::Encoded encoded = Encode(first, buffer);
  // The one refusal allowed: a name written with escapes may fit and not fit written plain.
  if (encoded.error == CodecError::kTooLarge) return 0;
  Require(encoded.error == CodecError::kOk);
  std::string text(encoded.text);
  persistence::LogRecord second;
  Require(decoder.Decode(text, second) == CodecError::kOk);
  Require(Same(first, second));
  persistence::Encoded again = Encode(second, buffer);
  Require(again.error == CodecError::kOk && again.text == text);
  return 0;
}
