// One thread for control-plane calls that may take long (creating a campaign of millions of
// units allocates gigabytes), so that no event loop waits for them. Jobs run one at a time, in
// the order posted, from a bounded queue: Post refuses when it is full rather than buffering
// without a bound. Must never run a request's data-plane work.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace hotdeal::gateway {

class ControlThread {
 public:
  explicit ControlThread(std::size_t queue_max);
  // Runs the jobs still queued, then joins.
  ~ControlThread();
  ControlThread(const ControlThread&) = delete;
  ControlThread& operator=(const ControlThread&) = delete;

  // Any thread. false: `queue_max` jobs are waiting already; `job` was not taken (it is
  // destroyed by the caller's thread).
  bool Post(std::function<void()>& job);

 private:
  void Run();

  const std::size_t queue_max_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;  // guarded by mutex_
  bool stopping_ = false;                   // guarded by mutex_
  std::thread thread_;                      // last: starts once the rest is built
};

}  // namespace hotdeal::gateway
