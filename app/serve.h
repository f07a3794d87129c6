// `hotdeal serve`: turns the command line's ServeConfig into an engine and an HTTP gateway,
// serves until SIGINT or SIGTERM, then drains. Must never parse flags or read the environment
// (cli.cc does) and never be linked into a library: it is the composition root.
#pragma once

#include "config.h"

namespace hotdeal::app {

// Exit codes: 0 after a clean shutdown, 1 if serving failed (the port is taken, another
// process owns the data dir, Kafka or MySQL unreachable at start), 2 for a bad configuration,
// kExitFenced when another `serve` took a newer owner epoch (docs/durability.md): this one
// stopped selling; restarting it makes it the owner again.
inline constexpr int kExitFenced = 3;
int RunServe(const ServeConfig& config);

}  // namespace hotdeal::app
