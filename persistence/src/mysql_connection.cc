// MysqlConnection: Connector/C calls with their errors turned into values.
#include "mysql_connection.h"

#include "hotdeal/persistence/options.h"

namespace hotdeal::persistence {

MysqlConnection::MysqlConnection() : mysql_(mysql_init(nullptr)) {}

MysqlConnection::~MysqlConnection() {
  if (mysql_ != nullptr) mysql_close(mysql_);
}

MysqlError MysqlConnection::LastError() const {
  return {mysql_errno(mysql_), mysql_error(mysql_)};
}

std::optional<MysqlError> MysqlConnection::Connect(const Options& options,
                                                   std::chrono::seconds io_timeout) {
  if (mysql_ == nullptr) return MysqlError{0, "mysql_init failed"};
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
  return std::nullopt;
}

std::optional<MysqlError> MysqlConnection::Execute(std::string_view sql) noexcept {
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) return LastError();
  // Drain any result so the connection is ready for the next statement.
  if (MYSQL_RES* result = mysql_store_result(mysql_)) mysql_free_result(result);
  return std::nullopt;
}

std::optional<MysqlError> MysqlConnection::Query(std::string_view sql,
                                                 std::optional<MysqlResult>& out) noexcept {
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) return LastError();
  MYSQL_RES* result = mysql_store_result(mysql_);
  if (result == nullptr && mysql_field_count(mysql_) != 0) return LastError();
  out.emplace(result);
  return std::nullopt;
}

void MysqlConnection::Escape(std::string_view text, std::string& out) const {
  const std::size_t start = out.size();
  out.resize(start + text.size() * 2 + 1);
  const unsigned long written =
      mysql_real_escape_string(mysql_, out.data() + start, text.data(), text.size());
  out.resize(start + written);
}

}  // namespace hotdeal::persistence
