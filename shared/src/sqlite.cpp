#include "fleetscale/shared/sqlite.h"

#include <sqlite3.h>

namespace fleetscale {
namespace {

Error sqliteError(sqlite3* db, std::string_view what) {
  return Error{std::string(what) + ": " + (db != nullptr ? sqlite3_errmsg(db) : "out of memory"),
               db != nullptr ? sqlite3_extended_errcode(db) : SQLITE_NOMEM};
}

}  // namespace

Result<std::unique_ptr<SqliteDatabase>> SqliteDatabase::open(const std::string& path,
                                                             const SqliteOptions& options) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Error error = sqliteError(db, "open " + path);
    sqlite3_close(db);
    return error;
  }
  std::unique_ptr<SqliteDatabase> database(new SqliteDatabase(db, path));
  sqlite3_busy_timeout(db, options.busyTimeoutMs);
  std::string pragmas = "PRAGMA foreign_keys=ON; PRAGMA synchronous=" + options.synchronous + ";";
  if (options.walMode) pragmas += "PRAGMA journal_mode=WAL;";
  if (Status status = database->exec(pragmas); !status) return Error{status.message()};
  return database;
}

SqliteDatabase::~SqliteDatabase() { sqlite3_close_v2(db_); }

Status SqliteDatabase::exec(std::string_view sql) {
  char* message = nullptr;
  const std::string text(sql);
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string detail = message != nullptr ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    return Error{path_ + ": " + detail, sqlite3_extended_errcode(db_)};
  }
  return {};
}

Result<SqliteStatement> SqliteDatabase::prepare(std::string_view sql) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &statement, nullptr) !=
      SQLITE_OK) {
    return sqliteError(db_, "prepare '" + std::string(sql.substr(0, 60)) + "'");
  }
  return SqliteStatement(db_, statement);
}

std::int64_t SqliteDatabase::lastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
int SqliteDatabase::changes() const { return sqlite3_changes(db_); }

SqliteStatement::~SqliteStatement() { sqlite3_finalize(statement_); }

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : db_(other.db_), statement_(other.statement_) {
  other.statement_ = nullptr;
}

SqliteStatement& SqliteStatement::operator=(SqliteStatement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(statement_);
    db_ = other.db_;
    statement_ = other.statement_;
    other.statement_ = nullptr;
  }
  return *this;
}

SqliteStatement& SqliteStatement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(statement_, index, value);
  return *this;
}
SqliteStatement& SqliteStatement::bind(int index, double value) {
  sqlite3_bind_double(statement_, index, value);
  return *this;
}
SqliteStatement& SqliteStatement::bind(int index, std::string_view text) {
  sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()),
                    SQLITE_TRANSIENT);
  return *this;
}
SqliteStatement& SqliteStatement::bindBlob(int index, std::string_view bytes) {
  sqlite3_bind_blob(statement_, index, bytes.data(), static_cast<int>(bytes.size()),
                    SQLITE_TRANSIENT);
  return *this;
}
SqliteStatement& SqliteStatement::bindNull(int index) {
  sqlite3_bind_null(statement_, index);
  return *this;
}

Result<bool> SqliteStatement::step() {
  const int rc = sqlite3_step(statement_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqliteError(db_, "step");
}

Status SqliteStatement::run() {
  while (true) {
    auto row = step();
    if (!row) return Error{row.error().message, row.error().code};
    if (!*row) break;
  }
  reset();
  return {};
}

void SqliteStatement::reset() {
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
}

std::int64_t SqliteStatement::columnInt(int column) const {
  return sqlite3_column_int64(statement_, column);
}
double SqliteStatement::columnDouble(int column) const {
  return sqlite3_column_double(statement_, column);
}
std::string SqliteStatement::columnText(int column) const {
  const auto* text = sqlite3_column_text(statement_, column);
  return text != nullptr
             ? std::string(reinterpret_cast<const char*>(text),
                           static_cast<std::size_t>(sqlite3_column_bytes(statement_, column)))
             : std::string();
}
std::string SqliteStatement::columnBlob(int column) const {
  const void* blob = sqlite3_column_blob(statement_, column);
  return blob != nullptr
             ? std::string(static_cast<const char*>(blob),
                           static_cast<std::size_t>(sqlite3_column_bytes(statement_, column)))
             : std::string();
}
bool SqliteStatement::columnIsNull(int column) const {
  return sqlite3_column_type(statement_, column) == SQLITE_NULL;
}

}  // namespace fleetscale
