// JwtVerifier: compact JWS split into fixed buffers, the header's alg and kid pick one
// configured key, the signature is checked before any claim is read. Keys are loaded at start
// with OpenSSL's 1.1.1-level RSA and EC_KEY constructors (simpler than OSSL_PARAM builders for
// a JWKS's raw n/e and x/y), which is why this file asks for that API level.
#define OPENSSL_API_COMPAT 10101

#include "jwt.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include <array>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include "hmac_sha256.h"

namespace hotdeal::gateway {
namespace {

enum class Alg : std::uint8_t { kHs256, kRs256, kEs256 };

// Bounds of the decoded parts; a token over them is malformed (the Authorization header's
// own bound, 2 KiB, is below what they add up to).
constexpr std::size_t kHeaderBytesMax = 256;
constexpr std::size_t kPayloadBytesMax = 1024;
constexpr std::size_t kSignatureBytesMax = 512;  // RSA 4096
constexpr std::size_t kHs256KeyBytesMin = 32;

int Base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// Unpadded base64url (RFC 7515 section 2) into `out`; nullopt if not base64url or too long.
std::optional<std::size_t> DecodeBase64Url(std::string_view text, unsigned char* out,
                                           std::size_t capacity) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::size_t size = 0;
  std::uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    int value = Base64UrlValue(c);
    if (value < 0) return std::nullopt;
    bits = bits << 6 | static_cast<std::uint32_t>(value);
    count += 6;
    if (count >= 8) {
      count -= 8;
      if (size == capacity) return std::nullopt;
      out[size++] = static_cast<unsigned char>(bits >> count);
    }
  }
  // Leftover bits must be zero: one token text, one decoding.
  if ((bits & ((1u << count) - 1)) != 0) return std::nullopt;
  return size;
}

// A decoded JSON part with simdjson's padding after it.
template <std::size_t N>
struct JsonPart {
  std::array<char, N + simdjson::SIMDJSON_PADDING> bytes{};
  std::size_t size = 0;

  bool Decode(std::string_view text) {
    auto decoded = DecodeBase64Url(text, reinterpret_cast<unsigned char*>(bytes.data()), N);
    if (!decoded) return false;
    size = *decoded;
    return true;
  }
  simdjson::padded_string_view view() const {
    return simdjson::padded_string_view(bytes.data(), size, bytes.size());
  }
};

// A JSON NumericDate: an integer, or a number with a fraction (cut to whole seconds).
bool ReadNumericDate(simdjson::ondemand::value value, std::int64_t& out) {
  double number = 0;
  if (value.get_double().get(number) != simdjson::SUCCESS) return false;
  if (!(number > -9.0e15 && number < 9.0e15)) return false;
  out = static_cast<std::int64_t>(number);
  return true;
}

struct EvpKeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using EvpKey = std::unique_ptr<EVP_PKEY, EvpKeyFree>;

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return std::move(text).str();
}

// Bytes of an unpadded base64url field of a JWKS key (start-up only).
std::optional<std::vector<unsigned char>> JwkBytes(simdjson::dom::element key, const char* name) {
  std::string_view text;
  if (key[name].get_string().get(text) != simdjson::SUCCESS) return std::nullopt;
  std::vector<unsigned char> bytes(text.size());
  auto size = DecodeBase64Url(text, bytes.data(), bytes.size());
  if (!size) return std::nullopt;
  bytes.resize(*size);
  return bytes;
}

BIGNUM* Bignum(const std::vector<unsigned char>& bytes) {
  return BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr);
}

}  // namespace

struct JwtVerifier::Keys {
  struct PublicKey {
    Alg alg;
    std::string kid;  // empty: a PEM key, for tokens without a kid
    EvpKey key;
  };

  std::optional<HmacSha256> hs256;
  std::vector<PublicKey> public_keys;
  std::int64_t leeway_seconds = 0;
  std::string audience;
  std::string issuer;

  // The algorithm of `key`, or an error for one JWTs here cannot use.
  static std::optional<Alg> AlgOf(EVP_PKEY* key, std::string& error) {
    if (EVP_PKEY_base_id(key) == EVP_PKEY_RSA) return Alg::kRs256;
    if (EVP_PKEY_base_id(key) == EVP_PKEY_EC) {
      const EC_KEY* ec = EVP_PKEY_get0_EC_KEY(key);
      if (ec != nullptr && EC_GROUP_get_curve_name(EC_KEY_get0_group(ec)) == NID_X9_62_prime256v1)
        return Alg::kEs256;
      error = "an EC key that is not on P-256 (ES256 is the only EC algorithm accepted)";
      return std::nullopt;
    }
    error = "a key that is neither RSA nor EC P-256";
    return std::nullopt;
  }

  bool LoadPem(const std::string& text, std::string& error) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), &BIO_free);
    while (EVP_PKEY* read = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr)) {
      EvpKey key(read);
      std::optional<Alg> alg = AlgOf(key.get(), error);
      if (!alg) return false;
      public_keys.push_back({*alg, {}, std::move(key)});
    }
    if (public_keys.empty()) error = "no PEM public key (-----BEGIN PUBLIC KEY-----) in it";
    return !public_keys.empty();
  }

  bool LoadJwks(const std::string& text, std::string& error) {
    simdjson::dom::parser parser;
    simdjson::dom::array keys;
    if (parser.parse(text).get_object()["keys"].get_array().get(keys) != simdjson::SUCCESS) {
      error = "not a JWKS: {\"keys\": [...]}";
      return false;
    }
    for (simdjson::dom::element jwk : keys) {
      std::string_view use;
      std::string_view kty;
      std::string_view kid;
      // Absent: assumed a signing key; an encryption key is not ours to use.
      if (jwk["use"].get_string().get(use) == simdjson::SUCCESS && use != "sig") continue;
      if (jwk["kty"].get_string().get(kty) != simdjson::SUCCESS ||
          jwk["kid"].get_string().get(kid) != simdjson::SUCCESS || kid.empty()) {
        error = "a JWKS key without kty or kid";
        return false;
      }
      EvpKey key(EVP_PKEY_new());
      if (kty == "RSA") {
        auto n = JwkBytes(jwk, "n");
        auto e = JwkBytes(jwk, "e");
        RSA* rsa = RSA_new();
        if (!n || !e || RSA_set0_key(rsa, Bignum(*n), Bignum(*e), nullptr) != 1 ||
            EVP_PKEY_assign_RSA(key.get(), rsa) != 1) {
          RSA_free(rsa);
          error = "RSA key '" + std::string(kid) + "' has no valid n and e";
          return false;
        }
      } else if (kty == "EC") {
        std::string_view crv;
        auto x = JwkBytes(jwk, "x");
        auto y = JwkBytes(jwk, "y");
        EC_KEY* ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
        BIGNUM* bx = x ? Bignum(*x) : nullptr;
        BIGNUM* by = y ? Bignum(*y) : nullptr;
        bool ok = jwk["crv"].get_string().get(crv) == simdjson::SUCCESS && crv == "P-256" && bx &&
                  by && EC_KEY_set_public_key_affine_coordinates(ec, bx, by) == 1 &&
                  EVP_PKEY_assign_EC_KEY(key.get(), ec) == 1;
        BN_free(bx);
        BN_free(by);
        if (!ok) {
          EC_KEY_free(ec);
          error = "EC key '" + std::string(kid) + "' is not a valid P-256 point (crv, x, y)";
          return false;
        }
      } else {
        error =
            "key '" + std::string(kid) + "' has kty '" + std::string(kty) + "' (RSA and EC only)";
        return false;
      }
      std::optional<Alg> alg = AlgOf(key.get(), error);
      if (!alg) return false;
      std::string_view declared;
      if (jwk["alg"].get_string().get(declared) == simdjson::SUCCESS &&
          declared != (*alg == Alg::kRs256 ? "RS256" : "ES256")) {
        error = "key '" + std::string(kid) + "' declares alg '" + std::string(declared) +
                "' (RS256 for RSA, ES256 for EC P-256 only)";
        return false;
      }
      public_keys.push_back({*alg, std::string(kid), std::move(key)});
    }
    if (public_keys.empty()) error = "no signing key in the JWKS";
    return !public_keys.empty();
  }

  const PublicKey* Find(Alg alg, std::string_view kid) const {
    for (const PublicKey& key : public_keys) {
      if (key.alg == alg && (key.kid.empty() || key.kid == kid)) return &key;
    }
    return nullptr;
  }

  // RS256 (PKCS #1 v1.5) or ES256 over SHA-256 of the signing input.
  static bool VerifyPublic(const PublicKey& key, std::string_view input,
                           const unsigned char* signature, std::size_t size) {
    std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
    SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data());
    // ES256 signs r || s, 32 bytes each; EVP wants DER: SEQUENCE { INTEGER r, INTEGER s }.
    std::array<unsigned char, 72> der{};
    if (key.alg == Alg::kEs256) {
      if (size != 64) return false;
      std::size_t at = 2;
      for (const unsigned char* half : {signature, signature + 32}) {
        std::size_t skip = 0;
        while (skip < 31 && half[skip] == 0)
          ++skip;
        bool pad = (half[skip] & 0x80) != 0;
        der[at++] = 0x02;
        der[at++] = static_cast<unsigned char>(32 - skip + (pad ? 1 : 0));
        if (pad) der[at++] = 0;
        for (std::size_t i = skip; i < 32; ++i)
          der[at++] = half[i];
      }
      der[0] = 0x30;
      der[1] = static_cast<unsigned char>(at - 2);
      signature = der.data();
      size = at;
    }
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> context(
        EVP_PKEY_CTX_new(key.key.get(), nullptr), &EVP_PKEY_CTX_free);
    if (!context || EVP_PKEY_verify_init(context.get()) != 1 ||
        EVP_PKEY_CTX_set_signature_md(context.get(), EVP_sha256()) != 1) {
      return false;
    }
    if (key.alg == Alg::kRs256 &&
        EVP_PKEY_CTX_set_rsa_padding(context.get(), RSA_PKCS1_PADDING) != 1) {
      return false;
    }
    return EVP_PKEY_verify(context.get(), signature, size, digest.data(), digest.size()) == 1;
  }
};

std::unique_ptr<JwtVerifier> JwtVerifier::Make(const JwtOptions& options, std::string& error) {
  auto keys = std::make_unique<Keys>();
  if (!options.hs256_key.empty()) {
    if (options.hs256_key.size() < kHs256KeyBytesMin) {
      error = "the JWT HS256 key must be at least " + std::to_string(kHs256KeyBytesMin) +
              " bytes, got " + std::to_string(options.hs256_key.size());
      return nullptr;
    }
    keys->hs256.emplace(options.hs256_key);
  }
  if (!options.public_keys_file.empty()) {
    std::optional<std::string> text = ReadFile(options.public_keys_file);
    std::string why;
    if (!text) {
      why = "cannot read it";
    } else {
      std::size_t first = text->find_first_not_of(" \t\r\n");
      bool jwks = first != std::string::npos && (*text)[first] == '{';
      (jwks ? keys->LoadJwks(*text, why) : keys->LoadPem(*text, why));
    }
    if (!why.empty()) {
      error = "JWT public keys file " + options.public_keys_file + ": " + why;
      return nullptr;
    }
  }
  if (!keys->hs256 && keys->public_keys.empty()) {
    error = "JWTs need an HS256 key or a public keys file";
    return nullptr;
  }
  keys->leeway_seconds = options.leeway.count();
  keys->audience = options.audience;
  keys->issuer = options.issuer;
  return std::unique_ptr<JwtVerifier>(new JwtVerifier(std::move(keys)));
}

JwtVerifier::JwtVerifier(std::unique_ptr<Keys> keys) : keys_(std::move(keys)) {}
JwtVerifier::~JwtVerifier() = default;

bool JwtVerifier::LooksLikeJwt(std::string_view token) {
  std::size_t first = token.find('.');
  if (first == std::string_view::npos) return false;
  std::size_t second = token.find('.', first + 1);
  return second != std::string_view::npos && token.find('.', second + 1) == std::string_view::npos;
}

TokenCheck JwtVerifier::Verify(std::string_view token, simdjson::ondemand::parser& parser,
                               std::int64_t now, engine::UserId& subject) const {
  namespace ondemand = simdjson::ondemand;
  if (!LooksLikeJwt(token)) return TokenCheck::kMalformed;
  std::size_t first = token.find('.');
  std::size_t second = token.find('.', first + 1);
  std::string_view signing_input = token.substr(0, second);
  JsonPart<kHeaderBytesMax> header;
  JsonPart<kPayloadBytesMax> payload;
  std::array<unsigned char, kSignatureBytesMax> signature{};
  std::optional<std::size_t> signature_size =
      DecodeBase64Url(token.substr(second + 1), signature.data(), signature.size());
  if (!header.Decode(token.substr(0, first)) ||
      !payload.Decode(token.substr(first + 1, second - first - 1)) || !signature_size) {
    return TokenCheck::kMalformed;
  }

  // The header: alg picks the key; a `crit` extension we cannot know is refused (RFC 7515).
  std::string_view alg_text;
  std::string_view kid;
  {
    ondemand::document document;
    ondemand::object object;
    if (parser.iterate(header.view()).get(document) != simdjson::SUCCESS ||
        document.get_object().get(object) != simdjson::SUCCESS) {
      return TokenCheck::kMalformed;
    }
    for (auto field : object) {
      std::string_view key;
      if (field.unescaped_key().get(key) != simdjson::SUCCESS) return TokenCheck::kMalformed;
      if (key == "alg") {
        if (field.value().get_string().get(alg_text) != simdjson::SUCCESS)
          return TokenCheck::kMalformed;
      } else if (key == "kid") {
        if (field.value().get_string().get(kid) != simdjson::SUCCESS) return TokenCheck::kMalformed;
      } else if (key == "crit") {
        return TokenCheck::kMalformed;
      }
    }
  }
  // alg_text and kid point into the parser's string buffer, valid until the next iterate.
  bool signed_ok = false;
  if (alg_text == "HS256" && keys_->hs256) {
    HmacSha256::Digest mac = keys_->hs256->Mac({signing_input});
    signed_ok = *signature_size == mac.size() &&
                CRYPTO_memcmp(mac.data(), signature.data(), mac.size()) == 0;
  } else if (alg_text == "RS256" || alg_text == "ES256") {
    const Keys::PublicKey* key = keys_->Find(alg_text == "RS256" ? Alg::kRs256 : Alg::kEs256, kid);
    signed_ok = key != nullptr &&
                Keys::VerifyPublic(*key, signing_input, signature.data(), *signature_size);
  }
  // `none`, any other alg, an alg without a configured key, or a wrong signature.
  if (!signed_ok) return TokenCheck::kInvalid;

  // The claims, trusted only now.
  ondemand::document document;
  ondemand::object object;
  if (parser.iterate(payload.view()).get(document) != simdjson::SUCCESS ||
      document.get_object().get(object) != simdjson::SUCCESS) {
    return TokenCheck::kMalformed;
  }
  std::optional<engine::UserId> sub;
  std::optional<std::int64_t> exp;
  std::optional<std::int64_t> nbf;
  bool audience_ok = keys_->audience.empty();  // until an `aud` is read
  bool issuer_ok = keys_->issuer.empty();
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return TokenCheck::kMalformed;
    ondemand::value value;
    if (field.value().get(value) != simdjson::SUCCESS) return TokenCheck::kMalformed;
    std::string_view text;
    std::int64_t seconds = 0;
    if (key == "sub") {
      if (value.get_string().get(text) != simdjson::SUCCESS) return TokenCheck::kBadClaims;
      sub = engine::UserId::Parse(text);
      if (!sub) return TokenCheck::kBadClaims;
    } else if (key == "exp" || key == "nbf") {
      if (!ReadNumericDate(value, seconds)) return TokenCheck::kBadClaims;
      (key == "exp" ? exp : nbf) = seconds;
    } else if (key == "iss") {
      if (value.get_string().get(text) != simdjson::SUCCESS) return TokenCheck::kBadClaims;
      issuer_ok = keys_->issuer.empty() || text == keys_->issuer;
    } else if (key == "aud") {
      // A string, or an array of strings one of which must be ours; an audience we were not
      // told to expect is someone else's token (RFC 7519 4.1.3).
      audience_ok = false;
      ondemand::array array;
      if (value.get_string().get(text) == simdjson::SUCCESS) {
        audience_ok = !keys_->audience.empty() && text == keys_->audience;
      } else if (value.get_array().get(array) == simdjson::SUCCESS) {
        for (auto element : array) {
          if (element.get_string().get(text) != simdjson::SUCCESS) return TokenCheck::kBadClaims;
          audience_ok = audience_ok || (!keys_->audience.empty() && text == keys_->audience);
        }
      } else {
        return TokenCheck::kBadClaims;
      }
    }
  }
  if (document.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    return TokenCheck::kMalformed;
  }
  if (!sub || !exp || !audience_ok || !issuer_ok) {
    return TokenCheck::kBadClaims;
  }
  if (now - keys_->leeway_seconds >= *exp) return TokenCheck::kExpired;
  if (nbf && now + keys_->leeway_seconds < *nbf) return TokenCheck::kNotYetValid;
  subject = *sub;
  return TokenCheck::kValid;
}

}  // namespace hotdeal::gateway
