// One flash_crowd run from command line to exit code: set up (clock, campaign), warm the
// connections, play the sale on the load threads, audit, report. Apart from main() so tests
// can run it against a fake server in the same process.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace hotdeal::bench {

// Exit codes: 0 every audit passed; 1 an audit failed or the run could not be made; 2 bad usage.
inline constexpr int kExitPass = 0;
inline constexpr int kExitFail = 1;
inline constexpr int kExitUsage = 2;

// args excludes the program name.
int RunFlashCrowd(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace hotdeal::bench
