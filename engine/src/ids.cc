// Text forms of ids, campaign id keys and the coupon code alphabet.
#include "ids.h"

namespace hotdeal::engine::detail {
namespace {
constexpr std::string_view kHexDigits = "0123456789abcdef";
constexpr std::string_view kCrockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr std::size_t kWordDigits = 16;  // hex digits of a 64-bit word

void WriteHex(std::uint64_t word, char* out) noexcept {
  for (std::size_t i = 0; i < kWordDigits; ++i) {
    out[kWordDigits - 1 - i] = kHexDigits[(word >> (4 * i)) & 0xF];
  }
}
std::optional<std::uint64_t> ReadHex(std::string_view digits) noexcept {
  std::uint64_t word = 0;
  for (char c : digits) {
    std::size_t digit = kHexDigits.find(c);
    if (digit == std::string_view::npos) return std::nullopt;
    word = (word << 4) | digit;
  }
  return word;
}
}  // namespace

IdText FormatId(char prefix, IdParts id) noexcept {
  static_assert(1 + 2 * kWordDigits <= IdText{}.bytes.size());
  IdText text;
  text.bytes[0] = prefix;
  WriteHex(id.value, &text.bytes[1]);
  WriteHex(id.tag, &text.bytes[1 + kWordDigits]);
  text.size = 1 + 2 * kWordDigits;
  return text;
}

std::optional<IdParts> ParseId(char prefix, std::string_view text) noexcept {
  if (text.empty() || text[0] != prefix) return std::nullopt;
  text.remove_prefix(1);
  if (text.size() != kWordDigits && text.size() != 2 * kWordDigits) return std::nullopt;
  std::optional<std::uint64_t> value = ReadHex(text.substr(0, kWordDigits));
  std::optional<std::uint64_t> tag = ReadHex(text.substr(kWordDigits));  // empty: tag 0
  if (!value || !tag) return std::nullopt;
  return IdParts{*value, *tag};
}

IdKey IdKeyGenerator::Next() noexcept {
  Hash128 bits = HashWord(hasher_, counter_.fetch_add(1, std::memory_order_relaxed));
  return {bits.low, bits.high};
}

CouponCode MakeCouponCode(std::uint32_t campaign, std::string_view secret) noexcept {
  static_assert(kCampaignIndexBits == 5 * CouponCode::kPrefixSize);
  CouponCode code;
  for (std::size_t i = 0; i < CouponCode::kPrefixSize; ++i)
    code.text[i] = kCrockford[(campaign >> (5 * (CouponCode::kPrefixSize - 1 - i))) & 31];
  secret.copy(&code.text[CouponCode::kPrefixSize], CouponCode::kSecretSize);
  code.size = CouponCode::kPrefixSize + CouponCode::kSecretSize;
  return code;
}

std::optional<std::uint32_t> CouponCampaign(std::string_view code) noexcept {
  if (code.size() != CouponCode::kPrefixSize + CouponCode::kSecretSize) return std::nullopt;
  std::uint32_t campaign = 0;
  for (std::size_t i = 0; i < code.size(); ++i) {
    std::size_t digit = kCrockford.find(code[i]);
    if (digit == std::string_view::npos) return std::nullopt;
    if (i < CouponCode::kPrefixSize) campaign = campaign << 5 | static_cast<std::uint32_t>(digit);
  }
  return campaign;
}

CouponCode CouponCodeGenerator::Next(std::uint32_t campaign) noexcept {
  Hash128 bits = HashWord(hasher_, ++counter_);
  std::array<char, CouponCode::kSecretSize> secret{};
  // 16 characters of 5 bits: 64 bits from `low`, 16 more from `high`.
  for (std::size_t i = 0; i < 12; ++i)
    secret[i] = kCrockford[(bits.low >> (5 * i)) & 31];
  std::uint64_t rest = (bits.low >> 60) | (bits.high << 4);
  for (std::size_t i = 12; i < 16; ++i)
    secret[i] = kCrockford[(rest >> (5 * (i - 12))) & 31];
  return MakeCouponCode(campaign, {secret.data(), secret.size()});
}

}  // namespace hotdeal::engine::detail
