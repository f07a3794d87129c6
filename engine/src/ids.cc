// Text forms of ids and the coupon code alphabet.
#include "ids.h"

#include <cstring>

namespace hotdeal::engine::detail {
namespace {
constexpr std::string_view kHexDigits = "0123456789abcdef";
constexpr std::string_view kCrockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr std::size_t kHexSize = 16;
}  // namespace

IdText FormatId(char prefix, std::uint64_t value) noexcept {
  static_assert(1 + kHexSize <= IdText{}.bytes.size());
  IdText text;
  text.bytes[0] = prefix;
  for (std::size_t i = 0; i < kHexSize; ++i) {
    text.bytes[kHexSize - i] = kHexDigits[(value >> (4 * i)) & 0xF];
  }
  text.size = 1 + kHexSize;
  return text;
}

std::optional<std::uint64_t> ParseId(char prefix, std::string_view text) noexcept {
  if (text.size() != 1 + kHexSize || text[0] != prefix) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text.substr(1)) {
    std::size_t digit = kHexDigits.find(c);
    if (digit == std::string_view::npos) return std::nullopt;
    value = (value << 4) | digit;
  }
  return value;
}

CouponCode CouponCodeGenerator::Next() noexcept {
  std::array<char, 8> message{};
  ++counter_;
  std::memcpy(message.data(), &counter_, sizeof(counter_));
  Hash128 bits = hasher_.Hash({message.data(), message.size()});
  CouponCode code;
  // 16 characters of 5 bits: 64 bits from `low`, 16 more from `high`.
  for (std::size_t i = 0; i < 12; ++i)
    code.text[i] = kCrockford[(bits.low >> (5 * i)) & 31];
  std::uint64_t rest = (bits.low >> 60) | (bits.high << 4);
  for (std::size_t i = 12; i < 16; ++i)
    code.text[i] = kCrockford[(rest >> (5 * (i - 12))) & 31];
  return code;
}

}  // namespace hotdeal::engine::detail
