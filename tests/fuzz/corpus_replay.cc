// Runs a fuzz target's LLVMFuzzerTestOneInput over every file of the folders given, without
// libFuzzer: the release build compiles each target with g++ this way and ctest replays its
// seed corpus, so a target that no longer compiles, or a seed that now trips a check, fails
// the ordinary build and test run (tests/fuzz/run does the fuzzing itself, with clang).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  std::size_t inputs = 0;
  for (int arg = 1; arg < argc; ++arg) {
    for (const auto& entry : std::filesystem::directory_iterator(argv[arg])) {
      if (!entry.is_regular_file()) continue;
      // stdio, not an istreambuf_iterator: GCC 12 sees a null dereference in that one.
      std::string input(entry.file_size(), '\0');
      std::FILE* file = std::fopen(entry.path().c_str(), "rb");
      if (!file || std::fread(input.data(), 1, input.size(), file) != input.size()) {
        std::fprintf(stderr, "cannot read %s\n", entry.path().c_str());
        return 1;
      }
      std::fclose(file);
      std::printf("%s\n", entry.path().filename().c_str());
      std::fflush(stdout);  // a trap names its input
      LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
      ++inputs;
    }
  }
  std::printf("%zu inputs replayed\n", inputs);
  return inputs == 0 ? 1 : 0;  // an empty or missing corpus is a mistake, not a pass
}
