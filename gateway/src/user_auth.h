// The user tokens the gateway accepts on user routes: the project's HMAC tokens (user_token.h)
// and, when configured, JWTs. Reading a token and matching it to a user are two steps, so a
// route that addresses an order can refuse a token that proves nobody (401) before it looks
// the order up, and answer 404 for one that proves someone else after (an id leaks nothing).
// Any thread, concurrently; never allocates per request.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "hotdeal/engine/types.h"
#include "hotdeal/gateway/server.h"
#include "hotdeal/gateway/user_token.h"
#include "jwt.h"

namespace hotdeal::gateway {

// What a bearer token says before the route knows which user it must prove.
struct TokenRead {
  TokenCheck check = TokenCheck::kMissing;  // kValid: match it with UserAuth::Proves
  std::string_view token;                   // into the request; valid while it is
  engine::UserId subject;                   // a JWT's sub (an HMAC token's user is in its MAC)
  bool jwt = false;
};

class UserAuth {
 public:
  // Throws std::invalid_argument for a key that is too short or an unusable JWT key file.
  explicit UserAuth(const GatewayOptions& options);
  ~UserAuth();

  // false: user routes need no token (a gateway in front vouches for the user_id).
  bool enabled() const { return hmac_.has_value() || jwt_ != nullptr; }

  // `bearer` is the request's bearer token, if it sent one. A JWT is verified whole here
  // (with `parser`, the worker's); an HMAC token only for its shape.
  TokenRead Read(std::optional<std::string_view> bearer, std::int64_t now_unix_seconds,
                 simdjson::ondemand::parser& parser) const;

  // Whether a token Read found usable proves `user`: kValid, or kInvalid / kExpired (HMAC),
  // kWrongUser (a JWT's sub is someone else).
  TokenCheck Proves(const TokenRead& read, const engine::UserId& user,
                    std::int64_t now_unix_seconds) const;

 private:
  std::optional<UserTokenKey> hmac_;
  std::unique_ptr<JwtVerifier> jwt_;
};

}  // namespace hotdeal::gateway
