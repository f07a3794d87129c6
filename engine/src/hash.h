// Hashing for the engine's fixed tables: a fast seeded hash for user ids (ledger probing) and
// SipHash-2-4 with a 128-bit output where an answer must not be forgeable or guessable
// (idempotency fingerprints, coupon codes). Pure functions; never allocates.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "hotdeal/engine/types.h"

namespace hotdeal::engine::detail {

struct Hash128 {
  std::uint64_t low = 0;
  std::uint64_t high = 0;
  friend bool operator==(const Hash128&, const Hash128&) = default;
};

// Seeded multiply-xorshift over 8-byte words: a few ns for a short id. The seed is random per
// engine so that clients cannot aim many ids at one probe chain.
inline std::uint64_t HashBytes(std::string_view text, std::uint64_t seed) noexcept {
  constexpr std::uint64_t kMultiplier = 0x9E3779B97F4A7C15ull;
  std::uint64_t state = seed ^ (text.size() * kMultiplier);
  std::size_t offset = 0;
  while (offset < text.size()) {
    std::uint64_t word = 0;
    std::size_t take = text.size() - offset < 8 ? text.size() - offset : 8;
    std::memcpy(&word, text.data() + offset, take);
    state = (state ^ word) * kMultiplier;
    state ^= state >> 29;
    offset += take;
  }
  state ^= state >> 32;
  state *= 0xD6E8FEB86659FD93ull;
  state ^= state >> 32;
  return state;
}

// The full 128-bit product of a and b with its halves xored: every input bit reaches the
// middle of the result in one multiply.
// GCC and Clang on 64-bit targets; __extension__ keeps -Wpedantic quiet about it.
__extension__ using Uint128 = unsigned __int128;
inline std::uint64_t MultiplyFold(std::uint64_t a, std::uint64_t b) noexcept {
  Uint128 product = static_cast<Uint128>(a) * b;
  return static_cast<std::uint64_t>(product) ^ static_cast<std::uint64_t>(product >> 64);
}

// A seeded hash of a ShortId, 16 bytes per multiply: the id is zero past its size (see SameId),
// so whole-word loads are exact and need no copy of a partial last word. Its latency is the
// sold-out path's critical chain (hash, then one holder-filter load; ClaimSoldOut, RESULTS.md),
// so a short id takes two multiplies where a word-at-a-time mix took three and six shifts.
// Id bytes are ASCII, so a second word xored with kHigh (the high bit set in six of its bytes)
// is never zero and cannot wipe out the first.
template <class Tag>
std::uint64_t HashId(const ShortId<Tag>& id, std::uint64_t seed) noexcept {
  constexpr std::uint64_t kLow = 0x9E3779B97F4A7C15ull;
  constexpr std::uint64_t kHigh = 0xD6E8FEB86659FD93ull;
  std::uint64_t state = seed ^ id.size();
  for (std::size_t offset = 0; offset < id.size(); offset += 16) {
    std::array<std::uint64_t, 2> words{};
    std::memcpy(words.data(), id.view().data() + offset, 16);
    state = MultiplyFold(words[0] ^ state ^ kLow, words[1] ^ kHigh);
  }
  return MultiplyFold(state ^ kHigh, kLow);
}

// Id equality without a memcmp call: a ShortId is zero past its size (Parse writes `size` bytes
// into a zeroed array and copies keep the array whole), so comparing the full fixed array is
// exact and compiles to a few vector compares.
template <class Tag>
bool SameId(const ShortId<Tag>& a, const ShortId<Tag>& b) noexcept {
  return a.size() == b.size() &&
         std::memcmp(a.view().data(), b.view().data(), ShortId<Tag>::kSizeMax) == 0;
}

// SipHash-2-4 with the 128-bit finalisation (Aumasson and Bernstein), written from the paper.
class SipHasher {
 public:
  explicit SipHasher(std::array<std::uint64_t, 2> key) noexcept : key_(key) {}

  Hash128 Hash(std::string_view message) const noexcept {
    std::uint64_t v0 = 0x736f6d6570736575ull ^ key_[0];
    std::uint64_t v1 = 0x646f72616e646f6dull ^ key_[1] ^ 0xee;
    std::uint64_t v2 = 0x6c7967656e657261ull ^ key_[0];
    std::uint64_t v3 = 0x7465646279746573ull ^ key_[1];
    std::size_t full = message.size() & ~std::size_t{7};
    for (std::size_t offset = 0; offset < full; offset += 8) {
      std::uint64_t word = 0;
      std::memcpy(&word, message.data() + offset, 8);
      Compress(v0, v1, v2, v3, word);
    }
    std::uint64_t last = 0;
    std::memcpy(&last, message.data() + full, message.size() - full);
    last |= static_cast<std::uint64_t>(message.size()) << 56;
    Compress(v0, v1, v2, v3, last);
    Hash128 out;
    v2 ^= 0xee;
    for (int i = 0; i < 4; ++i)
      Round(v0, v1, v2, v3);
    out.low = v0 ^ v1 ^ v2 ^ v3;
    v1 ^= 0xdd;
    for (int i = 0; i < 4; ++i)
      Round(v0, v1, v2, v3);
    out.high = v0 ^ v1 ^ v2 ^ v3;
    return out;
  }

 private:
  static std::uint64_t Rotate(std::uint64_t x, int bits) noexcept {
    return (x << bits) | (x >> (64 - bits));
  }
  static void Round(std::uint64_t& v0, std::uint64_t& v1, std::uint64_t& v2,
                    std::uint64_t& v3) noexcept {
    v0 += v1;
    v1 = Rotate(v1, 13);
    v1 ^= v0;
    v0 = Rotate(v0, 32);
    v2 += v3;
    v3 = Rotate(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = Rotate(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = Rotate(v1, 17);
    v1 ^= v2;
    v2 = Rotate(v2, 32);
  }
  static void Compress(std::uint64_t& v0, std::uint64_t& v1, std::uint64_t& v2, std::uint64_t& v3,
                       std::uint64_t word) noexcept {
    v3 ^= word;
    Round(v0, v1, v2, v3);
    Round(v0, v1, v2, v3);
    v0 ^= word;
  }

  std::array<std::uint64_t, 2> key_;
};

}  // namespace hotdeal::engine::detail
