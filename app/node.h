// The members of a running process in start order. Start runs a member's start and, once it
// returned, remembers the member's stop; StopAll (also on destruction, so every early return
// unwinds) runs the stops newest first, as Redpanda's application does. A start that fails says
// why on stderr and starts nothing more: the caller returns, and what did start stops in
// reverse. No member is stopped by hand on a failure path.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace hotdeal::app {

class Node {
 public:
  // `component` names the process in the lines a failed start writes ("serve").
  explicit Node(std::string component) : component_(std::move(component)) {}
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  ~Node() { StopAll(); }

  // Runs `step`; if it throws, logs "cannot <what>: <error>" as `component` and answers false.
  // For a step before the members exist (the node is declared after them: it must be destroyed
  // first, while its stops can still reach them).
  static bool Try(const std::string& component, const std::string& what,
                  const std::function<void()>& step);
  // Try of `start`, then, if it succeeded, pushes `stop` (none: a step with nothing to undo,
  // such as recovery).
  bool Start(const std::string& what, const std::function<void()>& start,
             std::function<void()> stop = {});
  // Pushes a stop whose start comes later: it runs after every member started from here on,
  // for a member that must outlast them (the persister writes the log's last events).
  void StopAfterWhatFollows(std::function<void()> stop);
  // Runs every pushed stop, newest first, once.
  void StopAll();

 private:
  std::string component_;
  std::vector<std::function<void()>> stops_;
};

}  // namespace hotdeal::app
