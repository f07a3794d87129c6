// Status and Result<T>: a runtime error as a value, for what can go wrong while serving (a lost
// connection, a refused statement, a broker that does not answer). The caller decides: retry,
// count, or give up. Exceptions stay for start-up, where giving up is the only answer; a check
// (check.h) stays for a broken invariant, where stopping is the only safe answer.
//
// An error carries the library's own code (a MySQL ER_*/CR_* number, a librdkafka error) where
// the caller branches on it, and a message that says what failed in words a person can act on.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "hotdeal/base/check.h"

namespace hotdeal::base {

class [[nodiscard]] Status {
 public:
  Status() = default;  // success
  static Status Error(std::string message, int code = 0) {
    Status s;
    s.error_.emplace(Failure{code, std::move(message)});
    return s;
  }

  bool ok() const noexcept { return !error_; }
  int code() const noexcept { return error_ ? error_->code : 0; }
  const std::string& message() const noexcept {
    static const std::string kNone;
    return error_ ? error_->message : kNone;
  }

 private:
  struct Failure {
    int code;
    std::string message;
  };
  std::optional<Failure> error_;
};

// A value or the Status that says why there is none.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Status error) : value_(std::move(error)) {  // NOLINT(google-explicit-constructor)
    HOTDEAL_ASSERT(!std::get<Status>(value_).ok());  // a Result holds a value or an error
  }

  bool ok() const noexcept { return std::holds_alternative<T>(value_); }
  const Status& status() const noexcept {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(value_);
  }
  T& value() & {
    HOTDEAL_ASSERT(ok());
    return std::get<T>(value_);
  }
  T&& value() && {
    HOTDEAL_ASSERT(ok());
    return std::get<T>(std::move(value_));
  }
  const T& value() const& {
    HOTDEAL_ASSERT(ok());
    return std::get<T>(value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> value_;
};

}  // namespace hotdeal::base
