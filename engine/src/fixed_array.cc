// Fixed arrays: heap memory for small ones, a 2 MiB-aligned mapping advised for transparent
// huge pages for large ones.
#include "fixed_array.h"

#include <sys/mman.h>

#include <cstdint>
#include <new>

namespace hotdeal::engine::detail {
namespace {
std::size_t HugePagesFor(std::size_t bytes) {
  return (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
}
}  // namespace

void* AllocateFixed(std::size_t bytes) {
  if (bytes < kHugePageBytes) return ::operator new(bytes);
  std::size_t size = HugePagesFor(bytes);
  // mmap aligns to 4 KiB only: map one huge page more and unmap what lies outside the
  // aligned range, so that every 2 MiB of the array can be one huge page.
  std::size_t mapped = size + kHugePageBytes;
  void* base = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) throw std::bad_alloc();
  auto start = reinterpret_cast<std::uintptr_t>(base);
  std::uintptr_t aligned = (start + kHugePageBytes - 1) & ~(std::uintptr_t{kHugePageBytes} - 1);
  if (aligned > start) munmap(base, aligned - start);
  std::size_t tail = start + mapped - (aligned + size);
  if (tail > 0) munmap(reinterpret_cast<void*>(aligned + size), tail);
  // Advice only: with THP off or refused the mapping keeps ordinary pages, which is correct.
  madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(aligned);
}

void FreeFixed(void* memory, std::size_t bytes) noexcept {
  if (!memory) return;
  if (bytes < kHugePageBytes) {
    ::operator delete(memory);
    return;
  }
  munmap(memory, HugePagesFor(bytes));
}

}  // namespace hotdeal::engine::detail
