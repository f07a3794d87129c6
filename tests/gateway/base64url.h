// Base64url without padding (RFC 4648 section 5), for tests that build JWTs by hand: the JWT
// tests over sockets and the token fuzzer. Test code only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hotdeal::gateway::testing {

inline std::string Base64Url(std::string_view bytes) {
  constexpr std::string_view kDigits =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string text;
  std::uint32_t bits = 0;
  int count = 0;
  for (char c : bytes) {
    bits = bits << 8 | static_cast<unsigned char>(c);
    for (count += 8; count >= 6; count -= 6)
      text.push_back(kDigits[(bits >> (count - 6)) & 63]);
  }
  if (count > 0) text.push_back(kDigits[(bits << (6 - count)) & 63]);
  return text;
}

}  // namespace hotdeal::gateway::testing
