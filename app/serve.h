// `hotdeal serve`: turns the command line's ServeConfig into an engine and an HTTP gateway,
// serves until SIGINT or SIGTERM, then drains. Must never parse flags or read the environment
// (cli.cc does) and never be linked into a library: it is the composition root.
#pragma once

#include "config.h"

namespace hotdeal::app {

// Exit codes: 0 after a clean shutdown, 1 if serving failed (e.g. the port is taken),
// 2 for a configuration this build cannot run (e.g. --log kafka before persistence exists).
int RunServe(const ServeConfig& config);

}  // namespace hotdeal::app
