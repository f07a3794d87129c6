// SIGINT/SIGTERM for the long-running subcommands: blocked in every thread and received by
// the main thread alone, so no handler ever runs on a worker in the middle of a request.
#pragma once

#include <csignal>

namespace hotdeal::app {

// Blocks SIGINT and SIGTERM in the calling thread; call before any thread starts so all of
// them inherit the mask. Answers the set to pass to WaitForShutdownSignal.
sigset_t BlockShutdownSignals();

// Blocks until one of `signals` arrives; answers its number.
int WaitForShutdownSignal(const sigset_t& signals);

}  // namespace hotdeal::app
