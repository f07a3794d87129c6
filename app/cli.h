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

// Binds each serve flag to the field of the options it sets; RunCli then calls ShareSettings.
void BindServeFlags(FlagSet& flags, ServeConfig& config);
// Binds the Kafka and MySQL flags, shared by `serve` and `persist`.
void BindStoreFlags(FlagSet& flags, persistence::Options& config);
// --log-format and --log-level, of serve and persist.
void BindLogFlags(FlagSet& flags, LogConfig& config);

// What each subcommand runs with its parsed config; tests pass recorders.
struct Commands {
  std::function<int(const ServeConfig&)> serve;
  std::function<int(const PersistConfig&)> persist;
};

// args excludes the program name.
int RunCli(const std::vector<std::string_view>& args,
           const std::function<const char*(const char*)>& getenv, std::ostream& out,
           std::ostream& err, const Commands& commands);

}  // namespace hotdeal::app
