// Migration runner. DDL commits implicitly in MySQL, so a migration is not atomic: the version
// row goes in last, an interrupted migration is re-run from its first statement, and so every
// statement must be safe to run twice (CREATE TABLE IF NOT EXISTS, ADD COLUMN IF NOT EXISTS).
// Found the hard way: a connection killed mid-V1 left `campaigns` behind and the retry failed.
#include "schema.h"

#include <cstdlib>
#include <set>
#include <string>

namespace hotdeal::persistence {
namespace {

// Statements end with ';' at the end of a line; lines starting with "--" are comments.
template <class Fn>
std::optional<MysqlError> ForEachStatement(std::string_view sql, Fn fn) {
  std::string statement;
  while (!sql.empty()) {
    const std::size_t end = sql.find('\n');
    std::string_view line = sql.substr(0, end);
    sql = end == std::string_view::npos ? std::string_view{} : sql.substr(end + 1);
    if (line.starts_with("--")) continue;
    statement.append(line).push_back('\n');
    if (line.ends_with(";")) {
      if (auto error = fn(statement)) return error;
      statement.clear();
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<MysqlError> Migrate(MysqlConnection& db) {
  std::optional<MysqlResult> result;
  if (auto e = db.Query("SELECT GET_LOCK('hotdeal.schema', 60)", result)) return e;
  MYSQL_ROW row = result->Next();
  if (row == nullptr || row[0] == nullptr || std::string_view(row[0]) != "1") {
    return MysqlError{0, "could not take the schema lock in 60 s"};
  }
  auto run = [&]() -> std::optional<MysqlError> {
    if (auto e = db.Execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                            " version INT NOT NULL PRIMARY KEY,"
                            " name VARCHAR(255) NOT NULL,"
                            " applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)"
                            ") ENGINE=InnoDB")) {
      return e;
    }
    std::optional<MysqlResult> applied_rows;
    if (auto e = db.Query("SELECT version FROM schema_migrations", applied_rows)) return e;
    std::set<int> applied;
    while (MYSQL_ROW r = applied_rows->Next())
      applied.insert(std::atoi(r[0]));
    const std::span<const Migration> known = Migrations();
    if (!applied.empty() && (known.empty() || *applied.rbegin() > known.back().version)) {
      return MysqlError{0, "the schema is newer than this build (version " +
                               std::to_string(*applied.rbegin()) + ")"};
    }
    for (const Migration& m : known) {
      if (applied.contains(m.version)) continue;
      if (auto e = ForEachStatement(m.sql, [&](const std::string& s) { return db.Execute(s); }))
        return e;
      if (auto e = db.Execute("INSERT INTO schema_migrations (version, name) VALUES (" +
                              std::to_string(m.version) + ", '" + std::string(m.name) + "')")) {
        return e;
      }
    }
    return std::nullopt;
  };
  std::optional<MysqlError> error = run();
  // The lock dies with the connection anyway; releasing it is for a connection that goes on.
  if (auto e = db.Execute("DO RELEASE_LOCK('hotdeal.schema')"); e && !error) error = e;
  return error;
}

}  // namespace hotdeal::persistence
