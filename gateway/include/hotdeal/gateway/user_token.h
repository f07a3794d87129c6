// User tokens: what a shop's login server hands a signed-in user, and what the gateway checks
// on the user routes when a key is configured. A token is
//   <expiry-unix-seconds>.<lower-case hex HMAC-SHA256(key, user_id + "." + expiry-unix-seconds)>
// so any language with an HMAC can mint one (docs/operations.md). Verifying never allocates
// and compares the signature in constant time. Must never log or print the key.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace hotdeal::gateway {

enum class TokenCheck : std::uint8_t {
  kValid,
  kMissing,      // no `Authorization: Bearer` token at all (the caller's verdict; Verify needs one)
  kMalformed,    // not <digits>.<64 hex digits>
  kInvalid,      // well formed, but not signed by this key for this user and expiry
  kExpired,      // signed correctly, expiry not after now
  kNotYetValid,  // a JWT whose nbf (less the leeway) is still ahead
  kWrongUser,    // a JWT that verifies, for another user (its sub)
  kBadClaims,    // a JWT that verifies but names another audience or issuer than configured
};
inline constexpr std::size_t kTokenChecks = 8;

class UserTokenKey {
 public:
  // Shorter keys are refused: HMAC-SHA256 is as strong as its key, and 32 bytes is SHA-256's
  // output size (RFC 2104 section 3).
  static constexpr std::size_t kKeyBytesMin = 32;

  // nullopt, and `error` says why, when the key is too short.
  static std::optional<UserTokenKey> Make(std::string_view key, std::string& error);

  UserTokenKey(UserTokenKey&&) noexcept;
  UserTokenKey& operator=(UserTokenKey&&) noexcept;
  ~UserTokenKey();

  // The token proving `user` until `expiry_unix_seconds` (>= 0). Allocates; for minting.
  std::string Mint(std::string_view user, std::int64_t expiry_unix_seconds) const;

  // Whether `token` has this format at all (no hashing): <digits>.<64 lower-case hex digits>.
  static bool WellFormed(std::string_view token);

  // Any thread, concurrently: reads only state fixed at Make.
  TokenCheck Verify(std::string_view user, std::string_view token,
                    std::int64_t now_unix_seconds) const;

 private:
  struct State;  // libcrypto's hash states after the HMAC inner and outer key blocks
  explicit UserTokenKey(std::unique_ptr<State> state);

  std::unique_ptr<State> state_;
};

// The reason label of hotdeal_http_user_tokens_refused_total.
std::string_view TokenCheckName(TokenCheck check);

}  // namespace hotdeal::gateway
