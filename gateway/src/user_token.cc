// UserTokenKey: HMAC-SHA256 (RFC 2104) over libcrypto's SHA-256. The key's inner and outer
// blocks are hashed once at Make; a check copies those two plain structs and hashes the
// message, so nothing allocates per request. OpenSSL 3's EVP interfaces allocate on every
// init or context copy, which is why this file asks for the 1.1.1 API level, where the
// SHA256_* functions are still declared without a deprecation warning.
#define OPENSSL_API_COMPAT 10101

#include "hotdeal/gateway/user_token.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <charconv>

namespace hotdeal::gateway {
namespace {

constexpr std::size_t kBlockBytes = SHA256_CBLOCK;  // 64
constexpr std::size_t kHexBytes = 2 * SHA256_DIGEST_LENGTH;
// int64 seconds: 19 digits at most.
constexpr std::size_t kExpiryDigitsMax = 19;

using Hex = std::array<char, kHexBytes>;

bool AllOf(std::string_view text, bool (*accept)(char)) {
  return std::all_of(text.begin(), text.end(), accept);
}

}  // namespace

struct UserTokenKey::State {
  SHA256_CTX inner;
  SHA256_CTX outer;

  // Lower-case hex of HMAC(key, user + "." + expiry_text).
  Hex Sign(std::string_view user, std::string_view expiry_text) const {
    SHA256_CTX hash = inner;
    SHA256_Update(&hash, user.data(), user.size());
    SHA256_Update(&hash, ".", 1);
    SHA256_Update(&hash, expiry_text.data(), expiry_text.size());
    std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
    SHA256_Final(digest.data(), &hash);
    hash = outer;
    SHA256_Update(&hash, digest.data(), digest.size());
    SHA256_Final(digest.data(), &hash);
    constexpr std::string_view kDigits = "0123456789abcdef";
    Hex hex{};
    for (std::size_t i = 0; i < digest.size(); ++i) {
      hex[2 * i] = kDigits[digest[i] >> 4];
      hex[2 * i + 1] = kDigits[digest[i] & 0xf];
    }
    return hex;
  }
};

std::optional<UserTokenKey> UserTokenKey::Make(std::string_view key, std::string& error) {
  if (key.size() < kKeyBytesMin) {
    error = "the user token key must be at least " + std::to_string(kKeyBytesMin) + " bytes, got " +
            std::to_string(key.size());
    return std::nullopt;
  }
  // RFC 2104: a key longer than a block is hashed first; shorter ones are padded with zeros.
  std::array<unsigned char, kBlockBytes> block{};
  if (key.size() > kBlockBytes) {
    SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), block.data());
  } else {
    std::copy(key.begin(), key.end(), block.begin());
  }
  auto state = std::make_unique<State>();
  std::array<unsigned char, kBlockBytes> pad{};
  for (auto [context, xor_byte] : {std::pair{&state->inner, 0x36}, {&state->outer, 0x5c}}) {
    for (std::size_t i = 0; i < kBlockBytes; ++i)
      pad[i] = static_cast<unsigned char>(block[i] ^ xor_byte);
    SHA256_Init(context);
    SHA256_Update(context, pad.data(), pad.size());
  }
  OPENSSL_cleanse(block.data(), block.size());
  OPENSSL_cleanse(pad.data(), pad.size());
  return UserTokenKey(std::move(state));
}

UserTokenKey::UserTokenKey(std::unique_ptr<State> state) : state_(std::move(state)) {}
UserTokenKey::UserTokenKey(UserTokenKey&&) noexcept = default;
UserTokenKey& UserTokenKey::operator=(UserTokenKey&&) noexcept = default;
UserTokenKey::~UserTokenKey() {
  if (state_) OPENSSL_cleanse(state_.get(), sizeof(State));
}

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
