// A hashed timing wheel of one-second buckets for one worker's reservations: pushing is O(1),
// and advancing visits only the buckets that came due, not every order. An entry due beyond
// one revolution stays in its bucket and is looked at once per revolution. Holds node
// references only (the links live in the order slots); never allocates after construction.
//
// Threading: one worker owns a wheel; only it pushes and advances (recovery pushes before
// workers start).
#pragma once

#include <array>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace hotdeal::engine::detail {

class TimerWheel {
 public:
  static constexpr std::size_t kBuckets = 1024;  // seconds per revolution
  static constexpr std::uint64_t kNone = ~std::uint64_t{0};

  static constexpr std::int64_t kDrop = INT64_MIN;

  // `link(node)` answers the node's next-link (a std::uint64_t&). `now_second` is when the
  // node is pushed; the first push starts the cursor there.
  template <class Link>
  void Push(std::uint64_t node, std::int64_t due_second, std::int64_t now_second, Link&& link) {
    if (!cursor_second_) cursor_second_ = now_second;
    // A node due in a bucket already passed goes to the cursor's, which Advance visits next.
    if (due_second < *cursor_second_) due_second = *cursor_second_;
    std::uint64_t& head = heads_[Bucket(due_second)];
    link(node) = head;
    head = node;
  }

  // Visits every node in the buckets from the cursor up to `now_second` (each bucket at most
  // once per call). `visit(node)` answers kDrop to unlink the node (it may give the node to
  // another wheel before it returns), or the second it should be looked at again: its due second
  // (it stays where it is) or `now_second` to retry it on the next call. The bucket of `now_second`
  // is visited again next time, since more of its nodes fall due within that second.
  template <class Link, class Visit>
  void Advance(std::int64_t now_second, Link&& link, Visit&& visit) {
    if (!cursor_second_) cursor_second_ = now_second;
    if (now_second < *cursor_second_) return;
    std::int64_t first = *cursor_second_;
    if (now_second - first >= static_cast<std::int64_t>(kBuckets)) {
      first = now_second - static_cast<std::int64_t>(kBuckets) + 1;
    }
    cursor_second_ = now_second;
    for (std::int64_t second = first; second <= now_second; ++second) {
      std::uint64_t* previous = &heads_[Bucket(second)];
      while (*previous != kNone) {
        std::uint64_t node = *previous;
        // Read before the visit: a node the visit drops may be handed to another wheel at once
        // (its link rewritten by that wheel's owner), so its link is not read after a drop.
        std::uint64_t next = link(node);
        std::int64_t again = visit(node);
        if (again != kDrop && Bucket(again) == Bucket(second)) {
          previous = &link(node);
          continue;
        }
        *previous = next;
        if (again != kDrop) Push(node, again, now_second, link);
      }
    }
  }

  // Unlinks every node `drop(node)` answers true for, in every bucket (an archived campaign's
  // slots, before its memory is freed). O(nodes); the control plane's rare path.
  template <class Link, class Drop>
  void RemoveIf(Link&& link, Drop&& drop) {
    for (std::uint64_t& head : heads_) {
      std::uint64_t* previous = &head;
      while (*previous != kNone) {
        std::uint64_t node = *previous;
        if (drop(node)) {
          *previous = link(node);
        } else {
          previous = &link(node);
        }
      }
    }
  }

 private:
  static std::size_t Bucket(std::int64_t second) noexcept {
    return static_cast<std::size_t>(static_cast<std::uint64_t>(second) % kBuckets);
  }

  std::optional<std::int64_t> cursor_second_;
  std::array<std::uint64_t, kBuckets> heads_ = MakeEmpty();

  static std::array<std::uint64_t, kBuckets> MakeEmpty() {
    std::array<std::uint64_t, kBuckets> heads;
    heads.fill(kNone);
    return heads;
  }
};

}  // namespace hotdeal::engine::detail
