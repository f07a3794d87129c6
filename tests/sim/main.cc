// hotdeal_sim: runs seeds of the deterministic simulation by hand (tests/sim/run wraps it).
//
//   hotdeal_sim --seeds N [--first S]    N seeds from S (default 1), each in a forked child
//   hotdeal_sim --seed S [--verbose]     one seed in this process, every step printed
//   knobs: --steps N --orders-per-unit X --crashes-max N --users-per-unit X
//          --acks any|durable|memory --sorted-rows
//
// Prints every failing seed with its step and a summary; exits 1 if any seed failed.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "sim.h"

namespace {

int Usage() {
  std::fprintf(
      stderr,
      "usage: hotdeal_sim (--seeds N [--first S] | --seed S [--verbose]) [--steps N] "
      "[--orders-per-unit X] [--crashes-max N] [--users-per-unit X] [--acks any|durable|memory] "
      "[--sorted-rows]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  hotdeal::sim::SimOptions options;
  std::uint64_t seeds = 0;
  std::uint64_t first = 1;
  bool one = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    auto number = [&] { return std::strtoull(argv[++i], nullptr, 10); };
    if (arg == "--seeds" && has_value) {
      seeds = number();
    } else if (arg == "--first" && has_value) {
      first = number();
    } else if (arg == "--seed" && has_value) {
      options.seed = number();
      one = true;
    } else if (arg == "--steps" && has_value) {
      options.steps = static_cast<std::uint32_t>(number());
    } else if (arg == "--orders-per-unit" && has_value) {
      options.orders_per_unit = std::strtod(argv[++i], nullptr);
    } else if (arg == "--crashes-max" && has_value) {
      options.crashes_max = static_cast<std::uint32_t>(number());
    } else if (arg == "--users-per-unit" && has_value) {
      options.users_per_unit = std::strtod(argv[++i], nullptr);
    } else if (arg == "--acks" && has_value) {
      const std::string acks = argv[++i];
      if (acks != "any" && acks != "durable" && acks != "memory") return Usage();
      options.acks = acks == "durable"  ? hotdeal::sim::SimOptions::Acks::kDurable
                     : acks == "memory" ? hotdeal::sim::SimOptions::Acks::kMemory
                                        : hotdeal::sim::SimOptions::Acks::kAny;
    } else if (arg == "--sorted-rows") {
      options.shuffle_rows = false;
    } else if (arg == "--verbose") {
      options.verbose = true;
    } else {
      return Usage();
    }
  }
  if (one == (seeds != 0)) return Usage();
  if (one) {
    // Line by line, so that the steps before an abort are not lost in the buffer.
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    const hotdeal::sim::SimResult result = hotdeal::sim::RunSeed(options);
    std::printf("%s: %s\n", result.ok ? "ok" : "FAILED",
                result.ok ? result.Summary().c_str() : result.failure.c_str());
    return result.ok ? 0 : 1;
  }
  std::uint64_t failed = 0;
  for (std::uint64_t seed = first; seed < first + seeds; ++seed) {
    options.seed = seed;
    const hotdeal::sim::SimResult result = hotdeal::sim::RunSeedIsolated(options);
    if (!result.ok) {
      ++failed;
      std::printf("FAILED %s\n  replay: %s\n", result.failure.c_str(),
                  hotdeal::sim::ReplayCommand(options).c_str());
      std::fflush(stdout);
    }
  }
  std::printf("%llu of %llu seeds failed (seeds %llu..%llu)\n",
              static_cast<unsigned long long>(failed), static_cast<unsigned long long>(seeds),
              static_cast<unsigned long long>(first),
              static_cast<unsigned long long>(first + seeds - 1));
  return failed == 0 ? 0 : 1;
}
