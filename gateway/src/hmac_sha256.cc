// HmacSha256: the 1.1.1 API level keeps the SHA256_* functions declared without a deprecation
// warning; they are the only libcrypto hashes that never allocate.
#define OPENSSL_API_COMPAT 10101

#include "hmac_sha256.h"

#include <openssl/crypto.h>

#include <algorithm>

namespace hotdeal::gateway {

HmacSha256::HmacSha256(std::string_view key) {
  constexpr std::size_t kBlockBytes = SHA256_CBLOCK;  // 64
  // A key longer than a block is hashed first; shorter ones are padded with zeros.
  std::array<unsigned char, kBlockBytes> block{};
  if (key.size() > kBlockBytes) {
    SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), block.data());
  } else {
    std::copy(key.begin(), key.end(), block.begin());
  }
  std::array<unsigned char, kBlockBytes> pad{};
  for (auto [context, xor_byte] : {std::pair{&inner_, 0x36}, {&outer_, 0x5c}}) {
    for (std::size_t i = 0; i < kBlockBytes; ++i)
      pad[i] = static_cast<unsigned char>(block[i] ^ xor_byte);
    SHA256_Init(context);
    SHA256_Update(context, pad.data(), pad.size());
  }
  OPENSSL_cleanse(block.data(), block.size());
  OPENSSL_cleanse(pad.data(), pad.size());
}

HmacSha256::~HmacSha256() {
  OPENSSL_cleanse(&inner_, sizeof inner_);
  OPENSSL_cleanse(&outer_, sizeof outer_);
}

HmacSha256::Digest HmacSha256::Mac(std::initializer_list<std::string_view> parts) const {
  SHA256_CTX hash = inner_;
  for (std::string_view part : parts)
    SHA256_Update(&hash, part.data(), part.size());
  Digest digest{};
  SHA256_Final(digest.data(), &hash);
  hash = outer_;
  SHA256_Update(&hash, digest.data(), digest.size());
  SHA256_Final(digest.data(), &hash);
  OPENSSL_cleanse(&hash, sizeof hash);
  return digest;
}

}  // namespace hotdeal::gateway
