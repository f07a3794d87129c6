// The `hotdeal` command line: picks the subcommand, binds its flags and runs it. Kept apart
// from main() so tests can drive it with their own arguments and environment.
#pragma once

#include <functional>
#include <iosfwd>
#include <string_view>
#include <vector>

#include "config.h"
#include "flags.h"

namespace hotdeal::app {

// Exit codes: 0 done, 1 failed while running, 2 bad usage (unknown command, flag or value).
inline constexpr int kExitUsage = 2;

// Binds every ServeConfig field to its flag.
void BindServeFlags(FlagSet& flags, ServeConfig& config);

// args excludes the program name. `run_serve` is what `serve` calls with the parsed config.
int RunCli(const std::vector<std::string_view>& args,
           const std::function<const char*(const char*)>& getenv, std::ostream& out,
           std::ostream& err, const std::function<int(const ServeConfig&)>& run_serve);

}  // namespace hotdeal::app
