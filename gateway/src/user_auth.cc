// UserAuth: which token format a bearer token is, and whether it proves a user.
#include "user_auth.h"

#include <stdexcept>
#include <string>

namespace hotdeal::gateway {
namespace {

std::optional<UserTokenKey> MakeHmacKey(const std::string& key) {
  if (key.empty()) return std::nullopt;
  std::string error;
  std::optional<UserTokenKey> made = UserTokenKey::Make(key, error);
  if (!made) throw std::invalid_argument(error);
  return made;
}

std::unique_ptr<JwtVerifier> MakeJwtVerifier(const JwtOptions& options) {
  if (!options.enabled()) return nullptr;
  std::string error;
  std::unique_ptr<JwtVerifier> made = JwtVerifier::Make(options, error);
  if (!made) throw std::invalid_argument(error);
  return made;
}

}  // namespace

UserAuth::UserAuth(const GatewayOptions& options)
    : hmac_(MakeHmacKey(options.user_token_key)), jwt_(MakeJwtVerifier(options.jwt)) {}

UserAuth::~UserAuth() = default;

TokenRead UserAuth::Read(std::optional<std::string_view> bearer, std::int64_t now_unix_seconds,
                         simdjson::ondemand::parser& parser) const {
  TokenRead read;
  if (!bearer || bearer->empty()) return read;
  read.token = *bearer;
  if (jwt_ && JwtVerifier::LooksLikeJwt(*bearer)) {
    read.jwt = true;
    read.check = jwt_->Verify(*bearer, parser, now_unix_seconds, read.subject);
  } else {
    read.check =
        hmac_ && UserTokenKey::WellFormed(*bearer) ? TokenCheck::kValid : TokenCheck::kMalformed;
  }
  return read;
}

TokenCheck UserAuth::Proves(const TokenRead& read, const engine::UserId& user,
                            std::int64_t now_unix_seconds) const {
  if (read.check != TokenCheck::kValid) return read.check;
  if (read.jwt) return read.subject == user ? TokenCheck::kValid : TokenCheck::kWrongUser;
  return hmac_->Verify(user.view(), read.token, now_unix_seconds);
}

}  // namespace hotdeal::gateway
