// ControlThread: a mutex-guarded deque and one thread; see control_thread.h.
#include "control_thread.h"

namespace hotdeal::gateway {

ControlThread::ControlThread(std::size_t queue_max)
    : queue_max_(queue_max), thread_([this] { Run(); }) {}

ControlThread::~ControlThread() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

bool ControlThread::Post(std::function<void()>& job) {
  {
    std::lock_guard lock(mutex_);
    if (jobs_.size() >= queue_max_) return false;
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

void ControlThread::Run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, and nothing left to run
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    job = nullptr;  // its captures go before the lock is taken again
    lock.lock();
  }
}

}  // namespace hotdeal::gateway
