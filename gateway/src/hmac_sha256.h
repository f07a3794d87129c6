// HMAC-SHA256 (RFC 2104) over libcrypto's SHA-256 with the key's inner and outer blocks hashed
// once at Make: a MAC copies two plain structs and hashes the message, so nothing allocates
// per call (OpenSSL 3's EVP interfaces allocate on every init or context copy). Any thread,
// concurrently. Used by the project's user tokens and by HS256 JWTs.
#pragma once

#include <openssl/sha.h>

#include <array>
#include <initializer_list>
#include <string_view>

namespace hotdeal::gateway {

class HmacSha256 {
 public:
  using Digest = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

  explicit HmacSha256(std::string_view key);
  ~HmacSha256();  // wipes the key's hash states
  HmacSha256(const HmacSha256&) = default;
  HmacSha256& operator=(const HmacSha256&) = default;

  // The MAC of the concatenation of `parts`.
  Digest Mac(std::initializer_list<std::string_view> parts) const;

 private:
  SHA256_CTX inner_;
  SHA256_CTX outer_;
};

}  // namespace hotdeal::gateway
