// Schema migrations: persistence/migrations/V<n>__<name>.sql, compiled into the binary (CMake
// generates the table), applied in version order and recorded in `schema_migrations`.
//
// Must never: edit an applied migration (add V<n+1> instead), hold a statement that fails when
// run twice, or run against a schema newer than this build knows (it refuses).
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "hotdeal/base/status.h"
#include "mysql/connection.h"

namespace hotdeal::persistence::mysql {

struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

// Generated from persistence/migrations/, ascending by version.
std::span<const Migration> Migrations() noexcept;

// Applies every migration not yet recorded, under a named lock so that two processes starting
// together do not both apply one.
base::Status Migrate(Connection& db);

}  // namespace hotdeal::persistence::mysql
