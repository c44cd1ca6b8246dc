// CURRENT: the one-line file naming the live MANIFEST of a database
// ("MANIFEST-NNNNNN\n"), as LevelDB writes it.
//
// Thread safety: both functions may run on any thread; callers make sure no
// two of them write one directory's CURRENT at once.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string>

#include "corodb/result.h"
#include "io/file_system.h"

namespace corodb {

// Points `dbname`/CURRENT at MANIFEST-`manifest_number`, atomically: the line
// goes to a temp file (NNNNNN.dbtmp), which is synced and renamed over
// CURRENT, then the directory is synced. On failure the temp file is removed;
// CURRENT is either the old one or — when only the directory sync failed —
// the new one (ReadCurrentFile tells which).
// SUSPENDS: one append, one fdatasync, one directory fsync.
boost::asio::awaitable<Status> SetCurrentFile(const io::FileSystem& fs,
                                              const std::string& dbname,
                                              uint64_t manifest_number);

// The number of the MANIFEST that `dbname`/CURRENT names. Corruption naming
// CURRENT when it does not end in a newline or does not name a
// MANIFEST-NNNNNN file; the IOError of the open or read otherwise.
// SUSPENDS: one read.
boost::asio::awaitable<Result<uint64_t>> ReadCurrentFile(const io::FileSystem& fs,
                                                         const std::string& dbname);

}  // namespace corodb
