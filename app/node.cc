// Node: see node.h.
#include "node.h"

#include <exception>
#include <utility>

#include "hotdeal/base/log.h"

namespace hotdeal::app {

bool Node::Try(const std::string& component, const std::string& what,
               const std::function<void()>& step) {
  try {
    step();
  } catch (const std::exception& error) {
    base::Log(base::LogLevel::kError, component, "cannot %s: %s", what.c_str(), error.what());
    return false;
  }
  return true;
}

bool Node::Start(const std::string& what, const std::function<void()>& start,
                 std::function<void()> stop) {
  if (!Try(component_, what, start)) return false;
  if (stop) stops_.push_back(std::move(stop));
  return true;
}

void Node::StopAfterWhatFollows(std::function<void()> stop) {
  stops_.push_back(std::move(stop));
}

void Node::StopAll() {
  while (!stops_.empty()) {
    std::function<void()> stop = std::move(stops_.back());
    stops_.pop_back();
    stop();
  }
}

}  // namespace hotdeal::app
