// The memory behind a campaign's big fixed tables (ledger, holder filter, order slots): one
// array, sized and value-initialised when the campaign is created, freed with it. An array of
// at least one huge page (2 MiB) is mapped 2 MiB-aligned and advised as a transparent huge page
// candidate: a new user's ledger entry lands anywhere in a 16 MB table, and with 4 KiB pages
// that costs a TLB miss beside the cache miss. Smaller arrays come from the heap, so thousands
// of small campaigns do not each cost a mapping.
//
// Control plane only: allocating maps memory and touches every page (so the data plane takes
// no page fault). If the kernel refuses the advice (THP off) the pages are ordinary ones.
#pragma once

#include <cstddef>
#include <memory>
#include <type_traits>

namespace hotdeal::engine::detail {

// `bytes` of memory for a fixed array (huge-page backed from kHugePageBytes up); throws
// std::bad_alloc if there is none. FreeFixed takes the same byte count back.
void* AllocateFixed(std::size_t bytes);
void FreeFixed(void* memory, std::size_t bytes) noexcept;

inline constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;

template <class T>
struct FixedArrayDeleter {
  std::size_t count = 0;
  void operator()(T* items) const noexcept { FreeFixed(items, count * sizeof(T)); }
};

// Elements are never destroyed one by one: the tables hold atomics and plain ids only.
template <class T>
using FixedArray = std::unique_ptr<T[], FixedArrayDeleter<T>>;

template <class T>
FixedArray<T> MakeFixedArray(std::size_t count) {
  static_assert(std::is_trivially_destructible_v<T>);
  static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
  if (count == 0) return FixedArray<T>(nullptr, FixedArrayDeleter<T>{0});
  T* items = static_cast<T*>(AllocateFixed(count * sizeof(T)));
  // Value-initialising also faults every page in, here on the control plane.
  std::uninitialized_value_construct_n(items, count);
  return FixedArray<T>(items, FixedArrayDeleter<T>{count});
}

}  // namespace hotdeal::engine::detail
