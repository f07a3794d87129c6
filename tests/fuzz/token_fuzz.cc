// libFuzzer target: what the gateway reads of a client's headers before trusting anything:
// JWTs (an HS256 verifier with an audience and issuer), the HMAC user-token format, the
// X-Forwarded-For chain and the PROXY protocol line. No input may crash, read out of bounds,
// or verify (nobody but the test knows the key). The input is also signed here as a JWT's
// payload, so the claims reader behind the signature check is fuzzed too.
// tests/fuzz/run builds and runs it.
#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <string>

#include "../gateway/base64url.h"
#include "edge.h"
#include "hmac_sha256.h"
#include "hotdeal/gateway/user_token.h"
#include "jwt.h"

namespace {

using namespace hotdeal::gateway;
using testing::Base64Url;

struct Verifiers {
  Verifiers() {
    JwtOptions options;
    options.hs256_key = std::string(40, 'k');
    options.audience = "shop";
    options.issuer = "https://idp.example";
    std::string error;
    jwt = JwtVerifier::Make(options, error);
    hmac = UserTokenKey::Make(std::string(40, 'k'), error);
    proxies = *TrustedProxies::Parse({"10.0.0.0/8", "::1"}, error);
  }
  std::unique_ptr<JwtVerifier> jwt;
  std::optional<UserTokenKey> hmac;
  TrustedProxies proxies;
  simdjson::ondemand::parser parser;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Verifiers verifiers;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  hotdeal::engine::UserId subject;
  // Forging a valid token from random bytes would mean a broken MAC check.
  if (verifiers.jwt->Verify(text, verifiers.parser, 1'700'000'000, subject) == TokenCheck::kValid)
    __builtin_trap();
  if (verifiers.hmac->Verify("u-1", text, 1'700'000'000) == TokenCheck::kValid) __builtin_trap();
  // The input as the claims of a correctly signed token.
  std::string input = Base64Url(R"({"alg":"HS256"})") + "." + Base64Url(text);
  HmacSha256::Digest mac = HmacSha256(std::string(40, 'k')).Mac({input});
  std::string token =
      input + "." + Base64Url({reinterpret_cast<const char*>(mac.data()), mac.size()});
  if (verifiers.jwt->Verify(token, verifiers.parser, 1'700'000'000, subject) ==
          TokenCheck::kValid &&
      subject.empty()) {
    __builtin_trap();  // a valid token always names its user
  }
  (void)verifiers.proxies.ClientOf(text);
  ProxyLineRead line = ReadProxyLine(text);
  if (line.size > size) __builtin_trap();
  return 0;
}
