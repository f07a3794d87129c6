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

}  // namespace

UserAuth::UserAuth(const GatewayOptions& options) : hmac_(MakeHmacKey(options.user_token_key)) {}

TokenRead UserAuth::Read(std::optional<std::string_view> bearer, std::int64_t) const {
  if (!bearer || bearer->empty()) return {TokenCheck::kMissing, {}};
  if (hmac_ && UserTokenKey::WellFormed(*bearer)) return {TokenCheck::kValid, *bearer};
  return {TokenCheck::kMalformed, *bearer};
}

TokenCheck UserAuth::Proves(const TokenRead& read, const engine::UserId& user,
                            std::int64_t now_unix_seconds) const {
  if (read.check != TokenCheck::kValid || !hmac_) return read.check;
  return hmac_->Verify(user.view(), read.token, now_unix_seconds);
}

}  // namespace hotdeal::gateway
