// Statement: mysql_stmt_* calls with their errors turned into values.
#include "mysql/statement.h"

#include "hotdeal/base/check.h"

namespace hotdeal::persistence::mysql {

void Statement::ResizeBinds(std::size_t count) {
  binds_.assign(count, MYSQL_BIND{});
  values_.assign(count, Value{});
  for (std::size_t i = 0; i < count; ++i) {
    binds_[i].length = &values_[i].length;
    binds_[i].is_null = &values_[i].is_null;
  }
}

base::Status Statement::LastError() const {
  return base::Status::Error(mysql_stmt_error(stmt_.get()),
                             static_cast<int>(mysql_stmt_errno(stmt_.get())));
}

void Statement::Bind(std::size_t i, std::int64_t value) noexcept {
  HOTDEAL_ASSERT(i < binds_.size());
  values_[i] = {value, sizeof value, 0};
  binds_[i].buffer_type = MYSQL_TYPE_LONGLONG;
  binds_[i].buffer = &values_[i].number;
  binds_[i].is_unsigned = 0;
}

void Statement::Bind(std::size_t i, std::uint64_t value) noexcept {
  Bind(i, static_cast<std::int64_t>(value));
  binds_[i].is_unsigned = 1;
}

void Statement::Bind(std::size_t i, std::string_view value) noexcept {
  HOTDEAL_ASSERT(i < binds_.size());
  values_[i] = {0, static_cast<unsigned long>(value.size()), 0};
  binds_[i].buffer_type = MYSQL_TYPE_STRING;
  binds_[i].buffer = const_cast<char*>(value.data());
  binds_[i].buffer_length = static_cast<unsigned long>(value.size());
}

void Statement::BindNull(std::size_t i) noexcept {
  HOTDEAL_ASSERT(i < binds_.size());
  values_[i] = {0, 0, 1};
  binds_[i].buffer_type = MYSQL_TYPE_NULL;
}

base::Result<std::uint64_t> Statement::Execute() noexcept {
  if (mysql_stmt_bind_param(stmt_.get(), binds_.data()) != 0) return LastError();
  if (mysql_stmt_execute(stmt_.get()) != 0) return LastError();
  return static_cast<std::uint64_t>(mysql_stmt_affected_rows(stmt_.get()));
}

}  // namespace hotdeal::persistence::mysql
