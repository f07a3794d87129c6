// OwnerLock: flock(LOCK_EX | LOCK_NB) on a file in the data dir; see owner_lock.h.
#include "owner_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace hotdeal::app {

std::optional<OwnerLock> OwnerLock::Acquire(const std::string& data_dir, std::string& error) {
  std::error_code made;
  std::filesystem::create_directories(data_dir, made);
  if (made) {
    error = "cannot create data dir " + data_dir + ": " + made.message();
    return std::nullopt;
  }
  std::string path = data_dir + "/owner.lock";
  // O_CLOEXEC: a child process must not inherit (and so prolong) the lock.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = "cannot open " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int lock_error = errno;
    ::close(fd);
    error = lock_error == EWOULDBLOCK
                ? "another hotdeal process owns " + data_dir + " (" + path + " is locked)"
                : "cannot lock " + path + ": " + std::strerror(lock_error);
    return std::nullopt;
  }
  return OwnerLock(fd);
}

OwnerLock::~OwnerLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace hotdeal::app
