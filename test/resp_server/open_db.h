// A default-options DB in a temp directory, open for a test's duration, run
// on the test's own io_context (the resp server's unit tests).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>
#include <memory>
#include <string>

#include "corodb/db.h"
#include "support/run.h"
#include "support/temp_dir.h"

namespace corodb::resp {

struct OpenDb {
  test::TempDir dir;
  boost::asio::io_context ctx;
  std::unique_ptr<DB> db;
  explicit OpenDb(const std::string& prefix) : dir(prefix) {
    Options options;
    options.create_if_missing = true;
    auto opened = test::RunOn(ctx, DB::Open(options, dir.Child("db")));
    BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    db = std::move(*opened);
  }
  ~OpenDb() {
    const Status s = test::RunOn(ctx, db->Close());
    BOOST_CHECK(s.ok());
  }
};

}  // namespace corodb::resp
