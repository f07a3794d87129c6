// UserTokenKey: HMAC-SHA256 over the precomputed key states of HmacSha256, so nothing
// allocates per check.
#include "hotdeal/gateway/user_token.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <charconv>

#include "hmac_sha256.h"

namespace hotdeal::gateway {
namespace {

constexpr std::size_t kHexBytes = 2 * SHA256_DIGEST_LENGTH;
// int64 seconds: 19 digits at most.
constexpr std::size_t kExpiryDigitsMax = 19;

using Hex = std::array<char, kHexBytes>;

bool AllOf(std::string_view text, bool (*accept)(char)) {
  return std::all_of(text.begin(), text.end(), accept);
}

}  // namespace

struct UserTokenKey::State {
  explicit State(std::string_view key) : hmac(key) {}

  // Lower-case hex of HMAC(key, user + "." + expiry_text).
  Hex Sign(std::string_view user, std::string_view expiry_text) const {
    HmacSha256::Digest digest = hmac.Mac({user, ".", expiry_text});
    constexpr std::string_view kDigits = "0123456789abcdef";
    Hex hex{};
    for (std::size_t i = 0; i < digest.size(); ++i) {
      hex[2 * i] = kDigits[digest[i] >> 4];
      hex[2 * i + 1] = kDigits[digest[i] & 0xf];
    }
    return hex;
  }

  HmacSha256 hmac;
};

std::optional<UserTokenKey> UserTokenKey::Make(std::string_view key, std::string& error) {
  if (key.size() < kKeyBytesMin) {
    error = "the user token key must be at least " + std::to_string(kKeyBytesMin) + " bytes, got " +
            std::to_string(key.size());
    return std::nullopt;
  }
  return UserTokenKey(std::make_unique<State>(key));
}

UserTokenKey::UserTokenKey(std::unique_ptr<State> state) : state_(std::move(state)) {}
UserTokenKey::UserTokenKey(UserTokenKey&&) noexcept = default;
UserTokenKey& UserTokenKey::operator=(UserTokenKey&&) noexcept = default;
UserTokenKey::~UserTokenKey() = default;

std::string UserTokenKey::Mint(std::string_view user, std::int64_t expiry_unix_seconds) const {
  std::string token = std::to_string(expiry_unix_seconds);
  Hex hex = state_->Sign(user, token);
  token.push_back('.');
  token.append(hex.data(), hex.size());
  return token;
}

bool UserTokenKey::WellFormed(std::string_view token) {
  std::size_t dot = token.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > kExpiryDigitsMax) return false;
  std::string_view expiry_text = token.substr(0, dot);
  std::string_view signature = token.substr(dot + 1);
  return AllOf(expiry_text, [](char c) { return c >= '0' && c <= '9'; }) &&
         signature.size() == kHexBytes &&
         AllOf(signature, [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

TokenCheck UserTokenKey::Verify(std::string_view user, std::string_view token,
                                std::int64_t now_unix_seconds) const {
  if (!WellFormed(token)) return TokenCheck::kMalformed;
  std::string_view expiry_text = token.substr(0, token.find('.'));
  std::string_view signature = token.substr(expiry_text.size() + 1);
  std::int64_t expiry = 0;
  // All digits, so only an overflow (19 digits past int64) can fail.
  if (std::from_chars(expiry_text.data(), expiry_text.data() + expiry_text.size(), expiry).ec !=
      std::errc{}) {
    return TokenCheck::kMalformed;
  }
  Hex expected = state_->Sign(user, expiry_text);
  // Constant time: the answer's timing says nothing about how much of a forgery was right.
  if (CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) != 0) {
    return TokenCheck::kInvalid;
  }
  return expiry > now_unix_seconds ? TokenCheck::kValid : TokenCheck::kExpired;
}

std::string_view TokenCheckName(TokenCheck check) {
  switch (check) {
    case TokenCheck::kValid:
      return "valid";
    case TokenCheck::kMissing:
      return "missing";
    case TokenCheck::kMalformed:
      return "malformed";
    case TokenCheck::kInvalid:
      return "invalid";
    case TokenCheck::kExpired:
      return "expired";
    case TokenCheck::kNotYetValid:
      return "not_yet_valid";
    case TokenCheck::kWrongUser:
      return "wrong_user";
    case TokenCheck::kBadClaims:
      return "bad_claims";
  }
  return "unknown";
}

}  // namespace hotdeal::gateway
