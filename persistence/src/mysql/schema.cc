// Migration runner. DDL commits implicitly in MySQL, so a migration is not atomic: the version
// row goes in last, an interrupted migration is re-run from its first statement, and so every
// statement must be safe to run twice (CREATE TABLE IF NOT EXISTS, ADD COLUMN IF NOT EXISTS).
// Found the hard way: a connection killed mid-V1 left `campaigns` behind and the retry failed.
#include "mysql/schema.h"

#include <set>
#include <string>

namespace hotdeal::persistence::mysql {
namespace {

// Statements end with ';' at the end of a line; lines starting with "--" are comments.
template <class Fn>
base::Status ForEachStatement(std::string_view sql, Fn fn) {
  std::string statement;
  while (!sql.empty()) {
    const std::size_t end = sql.find('\n');
    std::string_view line = sql.substr(0, end);
    sql = end == std::string_view::npos ? std::string_view{} : sql.substr(end + 1);
    if (line.starts_with("--")) continue;
    statement.append(line).push_back('\n');
    if (line.ends_with(";")) {
      if (base::Status s = fn(statement); !s.ok()) return s;
      statement.clear();
    }
  }
  return {};
}

}  // namespace

base::Status Migrate(Connection& db) {
  {
    base::Result<ResultSet> lock = db.Query("SELECT GET_LOCK('hotdeal.schema', 60)");
    if (!lock.ok()) return lock.status();
    std::optional<Row> row = lock->Next();
    if (!row || row->Text(0) != "1") {
      return base::Status::Error("could not take the schema lock in 60 s");
    }
  }
  auto run = [&]() -> base::Status {
    if (base::Status s = db.Execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                                    " version INT NOT NULL PRIMARY KEY,"
                                    " name VARCHAR(255) NOT NULL,"
                                    " applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)"
                                    ") ENGINE=InnoDB");
        !s.ok()) {
      return s;
    }
    base::Result<ResultSet> applied_rows = db.Query("SELECT version FROM schema_migrations");
    if (!applied_rows.ok()) return applied_rows.status();
    std::set<int> applied;
    while (std::optional<Row> r = applied_rows->Next())
      applied.insert(r->Number<int>(0));
    const std::span<const Migration> known = Migrations();
    if (!applied.empty() && (known.empty() || *applied.rbegin() > known.back().version)) {
      return base::Status::Error("the schema is newer than this build (version " +
                                 std::to_string(*applied.rbegin()) + ")");
    }
    base::Result<Statement> record =
        db.Prepare("INSERT INTO schema_migrations (version, name) VALUES (?, ?)");
    if (!record.ok()) return record.status();
    for (const Migration& m : known) {
      if (applied.contains(m.version)) continue;
      if (base::Status s =
              ForEachStatement(m.sql, [&](const std::string& sql) { return db.Execute(sql); });
          !s.ok()) {
        return s;
      }
      record->Bind(0, std::int64_t{m.version});
      record->Bind(1, m.name);
      if (base::Result<std::uint64_t> done = record->Execute(); !done.ok()) return done.status();
    }
    return {};
  };
  base::Status status = run();
  // The lock dies with the connection anyway; releasing it is for a connection that goes on.
  if (base::Status s = db.Execute("DO RELEASE_LOCK('hotdeal.schema')"); status.ok()) status = s;
  return status;
}

}  // namespace hotdeal::persistence::mysql
