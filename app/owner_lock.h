// The one-box half of ARCHITECTURE invariant 7 (one owner): an exclusive flock on
// `<data-dir>/owner.lock`, held for the process's life. A second `serve` on the same data dir
// cannot take it and refuses to start, so two engines never sell the same campaigns.
// The kernel drops the lock when the process dies (also on kill -9): nothing to clean up.
#pragma once

#include <optional>
#include <string>

namespace hotdeal::app {

class OwnerLock {
 public:
  // Creates the data dir if missing and takes the lock without waiting. nullopt: `error` says
  // why (held by another process, or the folder cannot be made).
  static std::optional<OwnerLock> Acquire(const std::string& data_dir, std::string& error);

  OwnerLock(OwnerLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  OwnerLock& operator=(OwnerLock&&) = delete;
  OwnerLock(const OwnerLock&) = delete;
  OwnerLock& operator=(const OwnerLock&) = delete;
  ~OwnerLock();

 private:
  explicit OwnerLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace hotdeal::app
