// RunSeedIsolated: one seed in a forked child. The child reports its result through a shared
// page and its stderr through a pipe, so an abort inside the engine (HOTDEAL_ASSERT during
// replay) is one seed's failure with its step and the assertion text, not the end of the run.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "sim.h"

namespace hotdeal::sim {
namespace {

// A seed takes well under a second; one that runs this long is stuck.
constexpr unsigned kSecondsMax = 10;

// What the child leaves for the parent; written by the child only, read after it exited.
struct Shared {
  Progress progress;
  bool done = false;
  bool ok = false;
  SimResult::Counts counts;
  char failure[4096] = {};
};

std::string ReadAll(int fd) {
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) return text;
    text.append(buffer, static_cast<std::size_t>(n));
  }
}

}  // namespace

SimResult RunSeedIsolated(const SimOptions& options) {
  void* page =
      mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return RunSeed(options);
  auto* shared = new (page) Shared();
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) {
    munmap(page, sizeof(Shared));
    return RunSeed(options);
  }
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t child = fork();
  if (child == 0) {
    close(pipe_fds[0]);
    dup2(pipe_fds[1], STDERR_FILENO);
    alarm(kSecondsMax);  // a spin that never ends fails the seed instead of the whole run
    const SimResult result = RunSeed(options, &shared->progress);
    shared->counts = result.counts;
    shared->ok = result.ok;
    std::snprintf(shared->failure, sizeof shared->failure, "%s", result.failure.c_str());
    shared->done = true;
    std::fflush(stdout);
    _exit(0);
  }
  close(pipe_fds[1]);
  const std::string child_stderr = ReadAll(pipe_fds[0]);
  close(pipe_fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  SimResult result;
  result.counts = shared->counts;
  if (shared->done) {
    result.ok = shared->ok;
    result.failure = shared->failure;
  } else {
    result.ok = false;
    result.failure = "seed " + std::to_string(options.seed) + " step " +
                     std::to_string(shared->progress.step) + " (after " +
                     std::to_string(shared->progress.crashes) + " crashes, in " +
                     shared->progress.phase + "): the process died" +
                     (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM
                          ? " stuck: no end after " + std::to_string(kSecondsMax) + " s"
                      : WIFSIGNALED(status) ? " of signal " + std::to_string(WTERMSIG(status))
                                            : "") +
                     (child_stderr.empty() ? "" : ": " + child_stderr);
    while (!result.failure.empty() && result.failure.back() == '\n')
      result.failure.pop_back();
  }
  munmap(page, sizeof(Shared));
  return result;
}

}  // namespace hotdeal::sim
