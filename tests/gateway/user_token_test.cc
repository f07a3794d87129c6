// UserTokenKey: the format a shop's login server mints (checked against OpenSSL's own one-shot
// HMAC), and every way a token can fail: wrong user, expired, malformed, another key.
#include "hotdeal/gateway/user_token.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>

namespace hotdeal::gateway {
namespace {

constexpr std::int64_t kNow = 1'800'000'000;
const std::string kKey(32, 'k');

UserTokenKey MakeKey(const std::string& key) {
  std::string error;
  std::optional<UserTokenKey> made = UserTokenKey::Make(key, error);
  EXPECT_TRUE(made.has_value()) << error;
  return std::move(*made);
}

// What any other language does: hex(HMAC-SHA256(key, user + "." + expiry)).
std::string ReferenceMac(const std::string& key, const std::string& message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &size);
  std::string hex;
  constexpr char kDigits[] = "0123456789abcdef";
  for (unsigned int i = 0; i < size; ++i) {
    hex.push_back(kDigits[mac[i] >> 4]);
    hex.push_back(kDigits[mac[i] & 0xf]);
  }
  return hex;
}

TEST(UserTokenTest, MintsExpiryDotHexHmacOfUserDotExpiry) {
  // Both sides of the block size: keys longer than 64 bytes are hashed first (RFC 2104).
  for (const std::string& key : {kKey, std::string(131, 'x')}) {
    std::string token = MakeKey(key).Mint("u-1842", kNow + 60);
    EXPECT_EQ(token, std::to_string(kNow + 60) + "." +
                         ReferenceMac(key, "u-1842." + std::to_string(kNow + 60)))
        << key.size();
  }
}

TEST(UserTokenTest, ValidUntilItsExpiry) {
  UserTokenKey key = MakeKey(kKey);
  std::string token = key.Mint("u-1", kNow + 60);
  EXPECT_EQ(key.Verify("u-1", token, kNow), TokenCheck::kValid);
  EXPECT_EQ(key.Verify("u-1", token, kNow + 59), TokenCheck::kValid);
  EXPECT_EQ(key.Verify("u-1", token, kNow + 60), TokenCheck::kExpired);
}

TEST(UserTokenTest, ProvesOnlyItsOwnUserExpiryAndKey) {
  UserTokenKey key = MakeKey(kKey);
  std::string token = key.Mint("u-1", kNow + 60);
  EXPECT_EQ(key.Verify("u-2", token, kNow), TokenCheck::kInvalid);
  EXPECT_EQ(key.Verify("u-", token, kNow), TokenCheck::kInvalid);
  // A later expiry pasted onto the old signature.
  std::string extended = std::to_string(kNow + 3600) + token.substr(token.find('.'));
  EXPECT_EQ(key.Verify("u-1", extended, kNow), TokenCheck::kInvalid);
  // One flipped hex digit.
  std::string flipped = token;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  EXPECT_EQ(key.Verify("u-1", flipped, kNow), TokenCheck::kInvalid);
  UserTokenKey other = MakeKey(std::string(32, 'o'));
  EXPECT_EQ(other.Verify("u-1", token, kNow), TokenCheck::kInvalid);
}

TEST(UserTokenTest, MalformedTokensAreRefusedBeforeAnyHash) {
  UserTokenKey key = MakeKey(kKey);
  std::string mac = key.Mint("u-1", kNow + 60).substr(11);
  ASSERT_EQ(mac.size(), 64u);
  std::string upper = mac;
  for (char& c : upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const std::string& token :
       {std::string(), std::string("."), "1800000060" + std::string(), "." + mac,
        "18000x0060." + mac, "-1800000060." + mac, "1800000060." + mac.substr(1),
        "1800000060." + mac + "0", "1800000060." + upper, "99999999999999999999." + mac,
        "1800000060 ." + mac}) {
    EXPECT_EQ(key.Verify("u-1", token, kNow), TokenCheck::kMalformed) << token;
  }
}

TEST(UserTokenTest, RefusesKeysShorterThan32Bytes) {
  std::string error;
  EXPECT_FALSE(UserTokenKey::Make(std::string(31, 'k'), error).has_value());
  EXPECT_NE(error.find("at least 32 bytes"), std::string::npos) << error;
  EXPECT_TRUE(UserTokenKey::Make(std::string(32, 'k'), error).has_value());
}

}  // namespace
}  // namespace hotdeal::gateway
