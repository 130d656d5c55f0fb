// A thin RAII layer over the SQLite C API for the agent's spool and the aggregator's store:
// open in WAL mode, prepared statements, transactions. Errors are values.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "fleetscale/shared/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace fleetscale {

class SqliteStatement;

struct SqliteOptions {
  bool walMode = true;                 // journal_mode=WAL: readers do not block the writer
  std::string synchronous = "NORMAL";  // NORMAL in WAL mode survives process crashes
  int busyTimeoutMs = 5000;
};

// One connection. Not thread-safe: use one per thread (SQLite serializes writers itself).
class SqliteDatabase {
 public:
  // Opens (creating if needed) the database file and applies the options.
  static Result<std::unique_ptr<SqliteDatabase>> open(const std::string& path,
                                                      const SqliteOptions& options = {});
  ~SqliteDatabase();
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  // Runs one or more statements without results (schema, pragmas).
  Status exec(std::string_view sql);
  Result<SqliteStatement> prepare(std::string_view sql);

  Status begin() { return exec("BEGIN IMMEDIATE"); }
  Status commit() { return exec("COMMIT"); }
  Status rollback() { return exec("ROLLBACK"); }

  std::int64_t lastInsertRowId() const;
  int changes() const;
  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }

 private:
  SqliteDatabase(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
};

// A prepared statement. Bind parameters are 1-based, columns 0-based, as in SQLite.
class SqliteStatement {
 public:
  SqliteStatement(sqlite3* db, sqlite3_stmt* statement) : db_(db), statement_(statement) {}
  ~SqliteStatement();
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&& other) noexcept;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  SqliteStatement& bind(int index, std::int64_t value);
  SqliteStatement& bind(int index, double value);
  SqliteStatement& bind(int index, std::string_view text);
  SqliteStatement& bindBlob(int index, std::string_view bytes);
  SqliteStatement& bindNull(int index);

  // Advances: true when a row is available, false when done; Error on failure.
  Result<bool> step();
  // Runs to completion, for statements without results.
  Status run();
  // Clears bindings and rewinds, so the statement can run again.
  void reset();

  std::int64_t columnInt(int column) const;
  double columnDouble(int column) const;
  std::string columnText(int column) const;
  std::string columnBlob(int column) const;
  bool columnIsNull(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* statement_;
};

}  // namespace fleetscale
