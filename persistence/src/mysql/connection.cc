// Connection: Connector/C calls with their errors turned into values.
#include "mysql/connection.h"

#include "hotdeal/persistence/options.h"

namespace hotdeal::persistence::mysql {

Connection::Connection() : mysql_(mysql_init(nullptr)) {}

Connection::~Connection() {
  if (mysql_ != nullptr) mysql_close(mysql_);
}

base::Status Connection::LastError() const {
  return base::Status::Error(mysql_error(mysql_), static_cast<int>(mysql_errno(mysql_)));
}

base::Status Connection::Connect(const Options& options, std::chrono::seconds io_timeout) {
  if (mysql_ == nullptr) return base::Status::Error("mysql_init failed");
  const my_bool reconnect = 0;  // see the header: never
  const unsigned timeout = static_cast<unsigned>(io_timeout.count());
  mysql_optionsv(mysql_, MYSQL_OPT_RECONNECT, &reconnect);
  mysql_optionsv(mysql_, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_optionsv(mysql_, MYSQL_OPT_READ_TIMEOUT, &timeout);
  mysql_optionsv(mysql_, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
  mysql_optionsv(mysql_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  if (mysql_real_connect(mysql_, options.mysql_host.c_str(), options.mysql_user.c_str(),
                         options.mysql_password.c_str(), options.mysql_database.c_str(),
                         options.mysql_port, nullptr, 0) == nullptr) {
    return LastError();
  }
  return {};
}

base::Status Connection::Execute(std::string_view sql) noexcept {
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) return LastError();
  // Drain any result so the connection is ready for the next statement.
  if (MYSQL_RES* result = mysql_store_result(mysql_)) mysql_free_result(result);
  return {};
}

base::Result<ResultSet> Connection::Query(std::string_view sql) {
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) return LastError();
  MYSQL_RES* result = mysql_store_result(mysql_);
  if (result == nullptr && mysql_field_count(mysql_) != 0) return LastError();
  return ResultSet(result);
}

base::Result<Statement> Connection::Prepare(std::string_view sql) {
  MYSQL_STMT* stmt = mysql_stmt_init(mysql_);
  if (stmt == nullptr) return LastError();
  Statement statement(stmt);
  if (mysql_stmt_prepare(stmt, sql.data(), sql.size()) != 0) return statement.LastError();
  statement.ResizeBinds(mysql_stmt_param_count(stmt));
  return statement;
}

void Connection::Escape(std::string_view text, std::string& out) const {
  const std::size_t start = out.size();
  out.resize(start + text.size() * 2 + 1);
  const unsigned long written =
      mysql_real_escape_string(mysql_, out.data() + start, text.data(), text.size());
  out.resize(start + written);
}

}  // namespace hotdeal::persistence::mysql
