// What the corodb tool's file-reading subcommands (dump-*, check) share:
// a FileSystem, file names, internal keys as text, and a walk over a log.
// They read files with the engine's own modules (log reader, table reader,
// version edits) and never open the database: no LOCK, nothing written.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "cli.h"
#include "corodb/slice.h"
#include "io/file.h"
#include "io/file_system.h"

namespace corodb::cli {

// A FileSystem over the backend ctx.io_backend asks for (auto: io_uring
// when a ring can be set up here, as the engine chooses).
Result<std::unique_ptr<io::FileSystem>> MakeFileSystem(const Context& ctx);

// `name` inside ctx.db when --db is given and `name` has no '/'; else `name`.
std::string ResolveFile(const Context& ctx, const std::string& name);

// The last component of `path`, and everything before it ("." when none).
std::string BaseName(const std::string& path);
std::string DirName(const std::string& path);

// "<user key> @ <sequence> : put|del", or "<bad internal key ...>".
std::string InternalKeyText(Slice internal_key, Encoding encoding);
// {"user_key":...,"sequence":N,"kind":"put"|"del"} (or {"bad_key":...}).
std::string InternalKeyJson(Slice internal_key, Encoding encoding);

// Bytes a log reader skipped, as its Reporter heard them.
struct LogDrop {
  uint64_t offset = 0;
  size_t bytes = 0;
  Status status;  // Corruption "<file>: offset <n>: <reason>"
};

// The outcome of WalkLog.
struct LogWalk {
  uint64_t records = 0;
  std::vector<LogDrop> drops;
  // The drops are one record cut by a crash before zero-filled space, with
  // nothing readable after it: the normal end of a log, not damage.
  bool torn_tail = false;
  // OK; the first damage (drops that are not a torn tail, or an error
  // on_record returned), naming the file and offset; or a read's IOError.
  Status status;
};

// Reads every record of the log `file` (checksums verified), calling
// on_record(offset, record) for each and on_drop for each skip as it is
// found. An error from on_record is remembered (the first one) and reading
// goes on. SUSPENDS: file reads.
boost::asio::awaitable<LogWalk> WalkLog(io::File& file,
                                        std::function<Status(uint64_t, Slice)> on_record,
                                        std::function<void(const LogDrop&)> on_drop);

}  // namespace corodb::cli
