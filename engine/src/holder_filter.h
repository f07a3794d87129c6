// Who may hold a coupon of a campaign: a bit filter over user-id hashes, sized when the
// campaign is created (16 bits per unit of stock, two bits of one 64-bit word per user). The
// sold-out path asks it before the ledger, so a rejected user without a claim costs a hash and
// one load, and only a hit (a holder, or a false positive: about 1 in 70 users without a
// claim once every unit is claimed) probes the ledger. Bits are never cleared: a voided or
// refused claim leaves a false positive, which costs a probe and never changes an answer.
//
// Threading: any thread. Add is a relaxed fetch_or made before the claim's stock take (a
// seq_cst read-modify-write), and the sold-out flag is only set by a scan that read that take
// or a later value; a reader that acquires the flag therefore sees the bit (coupon_decisions.cc).
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "fixed_array.h"

namespace hotdeal::engine::detail {

class HolderFilter {
 public:
  // 0 users (sale campaigns): no words; Add and MayHold must not be called.
  explicit HolderFilter(std::uint32_t users_max)
      : mask_(WordsFor(users_max) - 1),
        words_(MakeFixedArray<std::atomic<std::uint64_t>>(users_max ? mask_ + 1 : 0)) {}

  void Add(std::uint64_t hash) noexcept {
    words_[Word(hash)].fetch_or(Bits(hash), std::memory_order_relaxed);
  }
  bool MayHold(std::uint64_t hash) const noexcept {
    std::uint64_t bits = Bits(hash);
    return (words_[Word(hash)].load(std::memory_order_relaxed) & bits) == bits;
  }

  static std::size_t BytesFor(std::uint32_t users_max) noexcept {
    return users_max ? WordsFor(users_max) * sizeof(std::uint64_t) : 0;
  }

 private:
  static constexpr std::uint64_t kUsersPerWord = 4;  // 16 bits per user
  static std::uint64_t WordsFor(std::uint32_t users_max) noexcept {
    return std::bit_ceil((std::uint64_t{users_max} + kUsersPerWord - 1) / kUsersPerWord | 1);
  }
  // The ledger indexes by the low bits; the filter takes bits 16 and up, so the two do not
  // collide together. 2^48 words would be needed before the word bits reach the bit indexes.
  std::uint64_t Word(std::uint64_t hash) const noexcept { return (hash >> 16) & mask_; }
  static std::uint64_t Bits(std::uint64_t hash) noexcept {
    return (std::uint64_t{1} << ((hash >> 52) & 63)) | (std::uint64_t{1} << (hash >> 58));
  }

  std::uint64_t mask_;
  FixedArray<std::atomic<std::uint64_t>> words_;
};

}  // namespace hotdeal::engine::detail
