// The event codec: engine::Event <-> one versioned JSON document per Kafka message, so the log
// stays readable with kcat. docs/events.md is the field-by-field contract. Each document also
// carries the epoch of the owner that wrote it (ARCHITECTURE invariant 7): the engine never
// sees it, the log stamps it here.
//
// Must never: allocate when encoding (it writes into a caller's fixed buffer), throw, or accept
// a document it does not fully understand (unknown version, type or field is an error value).
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

#include "hotdeal/engine/event.h"

namespace hotdeal::persistence {

// Largest encoded event. Every type but campaign_created is under 400 bytes; the bound is for
// the campaign name, which the encoder refuses rather than truncate.
inline constexpr std::size_t kEventBytesMax = 4096;
using EventBuffer = std::array<char, kEventBytesMax>;

// The version written. Bumped when a key is added or changes meaning (docs/events.md); the
// decoder reads every version from 1 up to this one.
inline constexpr std::uint32_t kEventVersion = 2;

// One message of the log as read back.
struct LogRecord {
  std::uint64_t epoch = 0;  // the writer's owner epoch; 0 for a v1 document (before epochs)
  // An owner_fence: the marker a new owner writes into every partition before it recovers. It
  // holds no engine event: only `event.at`, when the owner took over, is set.
  bool fence = false;
  engine::Event event;
};

enum class CodecError : std::uint8_t {
  kOk,
  kTooLarge,        // encoding would not fit kEventBytesMax / the document is longer
  kMalformed,       // not JSON, not an object, wrong JSON type, duplicate key, bad UTF-8
  kUnknownVersion,  // "v" is not a version this build understands
  kUnknownType,     // "type" names no EventType
  kUnknownField,    // a key this version does not define for this type
  kMissingField,    // a field the type requires is absent
  kBadValue,        // a field out of range or an id the API forbids
};

std::string_view CodecErrorName(CodecError error) noexcept;

// Encodes `event` into `out`. On success `text` is a view into `out`.
struct Encoded {
  CodecError error = CodecError::kOk;
  std::string_view text;
};
Encoded EncodeEvent(const engine::Event& event, std::uint64_t epoch, EventBuffer& out) noexcept;
Encoded EncodeFence(std::uint64_t epoch, engine::TimePoint at, EventBuffer& out) noexcept;

// Decodes documents one at a time with a reusable parser and padded buffer: no allocation per
// event except the campaign name of campaign_created. Not thread-safe: one per thread.
class EventDecoder {
 public:
  EventDecoder();
  ~EventDecoder();
  EventDecoder(const EventDecoder&) = delete;
  EventDecoder& operator=(const EventDecoder&) = delete;

  // On kOk `out` holds the record; otherwise `out` is unspecified.
  CodecError Decode(std::string_view bytes, LogRecord& out) noexcept;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hotdeal::persistence
