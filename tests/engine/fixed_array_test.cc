// The fixed tables' memory: value-initialised, large arrays 2 MiB-aligned and advised for
// transparent huge pages (the kernel's VM_HUGEPAGE flag, "hg" in /proc/self/smaps).
#include "fixed_array.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace hotdeal::engine::detail {
namespace {

// The VmFlags line of the mapping that holds `address`, or "" if /proc says nothing.
std::string VmFlagsOf(const void* address) {
  auto target = reinterpret_cast<std::uintptr_t>(address);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    std::uintptr_t begin = 0;
    std::uintptr_t end = 0;
    char dash = 0;
    std::istringstream range(line);
    if (range >> std::hex >> begin >> dash >> end && dash == '-') {
      inside = begin <= target && target < end;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line;
    }
  }
  return "";
}

TEST(FixedArrayTest, SmallArrayIsValueInitialised) {
  FixedArray<std::atomic<std::uint64_t>> words = MakeFixedArray<std::atomic<std::uint64_t>>(100);
  for (std::size_t i = 0; i < 100; ++i)
    EXPECT_EQ(words[i].load(), 0u);
  words[99].store(7);
  EXPECT_EQ(words[99].load(), 7u);
}

TEST(FixedArrayTest, EmptyArrayHoldsNothing) {
  EXPECT_EQ(MakeFixedArray<std::uint64_t>(0), nullptr);
}

TEST(FixedArrayTest, LargeArrayIsHugePageAlignedAndAdvised) {
  // Three huge pages and a bit: the last one is partly used.
  std::size_t count = (3 * kHugePageBytes + 4096) / sizeof(std::uint64_t);
  FixedArray<std::atomic<std::uint64_t>> words = MakeFixedArray<std::atomic<std::uint64_t>>(count);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(words.get()) % kHugePageBytes, 0u);
  for (std::size_t i = 0; i < count; i += 512)
    ASSERT_EQ(words[i].load(), 0u) << i;
  words[count - 1].store(1);
  EXPECT_EQ(words[count - 1].load(), 1u);
  if (!std::filesystem::exists("/sys/kernel/mm/transparent_hugepage/enabled")) {
    GTEST_SKIP() << "kernel without transparent huge pages";
  }
  std::string flags = VmFlagsOf(words.get());
  ASSERT_FALSE(flags.empty()) << "no /proc/self/smaps entry";
  EXPECT_NE(flags.find(" hg"), std::string::npos) << flags;
}

}  // namespace
}  // namespace hotdeal::engine::detail
