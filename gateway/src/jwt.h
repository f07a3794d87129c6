// JWT user tokens (RFC 7519, compact JWS of RFC 7515) as a shop's identity provider issues
// them: HS256 with a shared key, RS256 or ES256 with the provider's public keys (a PEM file, or
// a JWKS file whose keys are picked by `kid`). `sub` is the user id; `exp` is required and,
// like `nbf`, checked with a leeway; `aud` and `iss` are checked when configured. The key
// decides the algorithm: `alg: none`, and any alg no configured key has, are refused, so an
// RS256 public key can never be used as an HS256 secret. Verify never allocates in this code
// (fixed buffers, the caller's simdjson parser); libcrypto's RSA and ECDSA operations allocate
// inside OpenSSL. Any thread, concurrently. Must never log a token or a key.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "hotdeal/engine/types.h"
#include "hotdeal/gateway/server.h"
#include "hotdeal/gateway/user_token.h"

namespace hotdeal::gateway {

class JwtVerifier {
 public:
  // Null, and `error` says why, for a short HS256 key, an unreadable or unusable key file, or
  // no key at all.
  static std::unique_ptr<JwtVerifier> Make(const JwtOptions& options, std::string& error);
  ~JwtVerifier();
  JwtVerifier(const JwtVerifier&) = delete;
  JwtVerifier& operator=(const JwtVerifier&) = delete;

  // Whether `token` looks like a compact JWS at all (three dot-separated parts).
  static bool LooksLikeJwt(std::string_view token);

  // kValid with `subject` set to `sub`; otherwise why not (kMalformed, kInvalid for a bad
  // signature or an alg not configured, kExpired, kNotYetValid, kBadClaims).
  TokenCheck Verify(std::string_view token, simdjson::ondemand::parser& parser,
                    std::int64_t now_unix_seconds, engine::UserId& subject) const;

  struct Keys;

 private:
  explicit JwtVerifier(std::unique_ptr<Keys> keys);
  std::unique_ptr<Keys> keys_;
};

}  // namespace hotdeal::gateway
