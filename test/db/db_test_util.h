// Helpers for DB behaviour tests: open/reopen on a chosen backend, run
// coroutines, read raw log files.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "corodb/db.h"
#include "db/db_impl.h"
#include "io/fault_injection_backend.h"
#include "support/backends.h"
#include "support/run.h"

namespace corodb::test {

inline Options TestOptions(const std::string& backend) {
  Options o;
  o.create_if_missing = true;
  o.io_backend = BackendKindByName(backend);
  return o;
}

// Opens `dir` with `backend` (ignores CORODB_IO_BACKEND: the backend is built here).
inline Result<std::unique_ptr<DB>> TryOpen(const Options& options, const std::string& dir,
                                           std::shared_ptr<io::Backend> backend) {
  return Run(OpenDBWithBackend(options, dir, std::move(backend)));
}

inline std::unique_ptr<DB> OpenOrDie(const Options& options, const std::string& dir,
                                     const std::string& backend) {
  auto db = TryOpen(options, dir, MakeBackendByName(backend));
  BOOST_REQUIRE_MESSAGE(db.ok(), db.status().ToString());
  return std::move(db).value();
}

// Get as a string: the value, or "NOT_FOUND", or the error.
inline std::string GetOrStatus(DB& db, const std::string& key) {
  Result<std::string> r = Run(db.Get({}, key));
  if (r.ok()) return *r;
  if (r.status().IsNotFound()) return "NOT_FOUND";
  return r.status().ToString();
}

}  // namespace corodb::test
