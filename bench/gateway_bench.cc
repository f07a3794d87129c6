// Google Benchmark of the gateway's per-request checks, alone: the rate limiter's hash and
// take (the claim route's added cost, set beside a whole request in bench/RESULTS.md) and the
// user-token checks (HMAC tokens, JWTs). Each token check reports `allocs`, heap allocations per
// check by our code (operator new) and by libcrypto (its malloc hook). Run pinned:
//   taskset -c 0 build/release/bench/gateway_bench
#include <benchmark/benchmark.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <string>
#include <vector>

#include "hmac_sha256.h"
#include "hotdeal/gateway/user_token.h"
#include "jwt.h"
#include "rate_limiter.h"

namespace {
std::atomic<std::uint64_t> allocations{0};
}  // namespace

// Counting replacements of the global operator new and delete. GCC pairs the inlined new with
// free() and warns of a mismatch that is the point of a replacement.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* block = std::malloc(size == 0 ? 1 : size)) return block;
  throw std::bad_alloc();
}
void operator delete(void* block) noexcept {
  std::free(block);
}
void operator delete(void* block, std::size_t) noexcept {
  std::free(block);
}

namespace hotdeal::gateway {
namespace {

constexpr RateLimit kUserDefault{10, 20};
constexpr std::uint32_t kSlots = 1 << 18;
constexpr std::size_t kUsers = 1 << 16;

std::vector<std::string> UserIds() {
  std::vector<std::string> users;
  for (std::size_t i = 0; i < kUsers; ++i)
    users.push_back("w1-" + std::to_string(i));
  return users;
}

// A claim by a user the table may not hold yet: hash the id, take a token. The clock moves
// 10 us a request (100 000 requests/s), so each id comes back every 0.66 s, well within its
// rate: every take is allowed, as in the wrk run.
void RateLimitTakeDistinctUsers(benchmark::State& state) {
  RateLimiter limiter(kUserDefault, kSlots, 1);
  std::vector<std::string> users = UserIds();
  RateLimiter::Clock::time_point now = RateLimiter::Clock::now();
  std::size_t i = 0;
  for (auto _ : state) {
    now += std::chrono::microseconds{10};
    RateDecision decision = limiter.Take(limiter.Hash(users[i++ % kUsers]), now);
    benchmark::DoNotOptimize(decision);
  }
}
BENCHMARK(RateLimitTakeDistinctUsers);

// The worst case for sharing: every thread takes from one bucket (one client address with the
// per-address limit on), so one word is CASed by every core.
void RateLimitTakeOneKey(benchmark::State& state) {
  static RateLimiter limiter({1'000'000, 1'000'000}, kSlots, 1);
  std::uint64_t key = limiter.Hash("127.0.0.1");
  for (auto _ : state) {
    RateDecision decision = limiter.Take(key, RateLimiter::Clock::now());
    benchmark::DoNotOptimize(decision);
  }
}
BENCHMARK(RateLimitTakeOneKey)->Threads(1)->Threads(2)->UseRealTime();

// A refused request: loads only, no write.
void RateLimitRefused(benchmark::State& state) {
  RateLimiter limiter({1, 1}, kSlots, 1);
  std::uint64_t key = limiter.Hash("bot");
  RateLimiter::Clock::time_point now = RateLimiter::Clock::now();
  limiter.Take(key, now);
  for (auto _ : state) {
    RateDecision decision = limiter.Take(key, now);
    benchmark::DoNotOptimize(decision);
  }
}
BENCHMARK(RateLimitRefused);

// Runs `check` per iteration and reports heap allocations per check.
template <class Check>
void CountingAllocations(benchmark::State& state, Check check) {
  check();  // warm-up: first-use allocations (simdjson's buffers, OpenSSL's caches)
  std::uint64_t before = allocations.load(std::memory_order_relaxed);
  for (auto _ : state) {
    benchmark::DoNotOptimize(check());
  }
  state.counters["allocs"] =
      benchmark::Counter(static_cast<double>(allocations.load(std::memory_order_relaxed) - before),
                         benchmark::Counter::kAvgIterations);
}

void UserTokenVerify(benchmark::State& state) {
  std::string error;
  std::optional<UserTokenKey> key = UserTokenKey::Make(std::string(32, 'k'), error);
  std::string token = key->Mint("u-1842", 1'800'000'000);
  CountingAllocations(state, [&] { return key->Verify("u-1842", token, 1'700'000'000); });
}
BENCHMARK(UserTokenVerify);

std::string Base64Url(const unsigned char* bytes, std::size_t size) {
  constexpr std::string_view kDigits =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string text;
  std::uint32_t bits = 0;
  int count = 0;
  for (std::size_t i = 0; i < size; ++i) {
    bits = bits << 8 | bytes[i];
    for (count += 8; count >= 6; count -= 6)
      text.push_back(kDigits[(bits >> (count - 6)) & 63]);
  }
  if (count > 0) text.push_back(kDigits[(bits << (6 - count)) & 63]);
  return text;
}
std::string Base64Url(std::string_view text) {
  return Base64Url(reinterpret_cast<const unsigned char*>(text.data()), text.size());
}

// A typical identity provider's token: sub, aud, iss, iat, exp.
std::string SigningInput(std::string_view alg) {
  return Base64Url(R"({"alg":")" + std::string(alg) + R"(","typ":"JWT","kid":"k1"})") + "." +
         Base64Url(R"({"sub":"u-1842","aud":"shop","iss":"https://idp.example",)"
                   R"("iat":1700000000,"exp":1800000000})");
}

// An RS256 or ES256 token and a PEM file of its public key, made with libcrypto.
std::string SignedToken(const char* type, std::string_view alg, const std::string& pem_path) {
  EVP_PKEY* key = std::string_view(type) == "RSA"
                      ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048})
                      : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  FILE* file = std::fopen(pem_path.c_str(), "w");
  PEM_write_PUBKEY(file, key);
  std::fclose(file);
  std::string input = SigningInput(alg);
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  EVP_DigestSignInit(context, nullptr, EVP_sha256(), nullptr, key);
  std::size_t size = 0;
  auto data = reinterpret_cast<const unsigned char*>(input.data());
  EVP_DigestSign(context, nullptr, &size, data, input.size());
  std::vector<unsigned char> signature(size);
  EVP_DigestSign(context, signature.data(), &size, data, input.size());
  signature.resize(size);
  EVP_MD_CTX_free(context);
  EVP_PKEY_free(key);
  if (alg == "ES256") {  // DER to JWS's r || s
    const unsigned char* der = signature.data();
    ECDSA_SIG* parsed = d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(signature.size()));
    std::vector<unsigned char> raw(64);
    BN_bn2binpad(ECDSA_SIG_get0_r(parsed), raw.data(), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(parsed), raw.data() + 32, 32);
    ECDSA_SIG_free(parsed);
    signature = raw;
  }
  return input + "." + Base64Url(signature.data(), signature.size());
}

void JwtVerify(benchmark::State& state, std::string_view alg) {
  JwtOptions options;
  options.audience = "shop";
  options.issuer = "https://idp.example";
  std::string token;
  std::string pem = (std::filesystem::temp_directory_path() / "hotdeal-bench-jwt.pem").string();
  if (alg == "HS256") {
    options.hs256_key = std::string(32, 'k');
    std::string input = SigningInput(alg);
    HmacSha256::Digest mac = HmacSha256(options.hs256_key).Mac({input});
    token = input + "." + Base64Url(mac.data(), mac.size());
  } else {
    token = SignedToken(alg == "RS256" ? "RSA" : "EC", alg, pem);
    options.public_keys_file = pem;
  }
  std::string error;
  std::unique_ptr<JwtVerifier> verifier = JwtVerifier::Make(options, error);
  if (!verifier) return state.SkipWithError(error.c_str());
  simdjson::ondemand::parser parser;
  engine::UserId subject;
  if (verifier->Verify(token, parser, 1'700'000'000, subject) != TokenCheck::kValid)
    return state.SkipWithError("the token does not verify");
  CountingAllocations(state,
                      [&] { return verifier->Verify(token, parser, 1'700'000'000, subject); });
}
BENCHMARK_CAPTURE(JwtVerify, HS256, "HS256");
BENCHMARK_CAPTURE(JwtVerify, RS256, "RS256");
BENCHMARK_CAPTURE(JwtVerify, ES256, "ES256");

}  // namespace
}  // namespace hotdeal::gateway

// libcrypto's own allocations count too: its malloc hook must be set before its first one.
int main(int argc, char** argv) {
  CRYPTO_set_mem_functions(
      [](std::size_t size, const char*, int) {
        allocations.fetch_add(1, std::memory_order_relaxed);
        return std::malloc(size);
      },
      [](void* block, std::size_t size, const char*, int) {
        allocations.fetch_add(1, std::memory_order_relaxed);
        return std::realloc(block, size);
      },
      [](void* block, const char*, int) { std::free(block); });
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
