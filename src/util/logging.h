// Info logger: the human-readable `LOG` file in a database directory.
//
// Opening a logger renames an existing `LOG` to `LOG.old` (replacing it), as
// LevelDB does. Each line starts with a local timestamp and the thread id.
// Thread safety: Log() may be called from any thread; lines never interleave.
// Writes are buffered by stdio and flushed after every line; they block the
// calling thread briefly (like LevelDB's logger), so hot paths log rarely.
#pragma once

#include <cstdarg>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "util/result.h"

namespace corodb {

class Logger {
 public:
  // Opens `<dir>/LOG` for writing after moving an old one to `LOG.old`.
  // Fails with IOError naming the path when the file cannot be created.
  static Result<std::unique_ptr<Logger>> OpenInDirectory(const std::string& dir);

  // A logger that writes to an already-open stream it does not own (stderr in tools).
  static std::unique_ptr<Logger> ToStream(std::FILE* stream);

  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  void Log(const char* format, ...) __attribute__((format(printf, 2, 3)));
  void LogV(const char* format, va_list args);

 private:
  Logger(std::FILE* file, bool owned) : file_(file), owned_(owned) {}

  std::mutex mu_;
  std::FILE* file_;
  bool owned_;
};

// Logs through `logger` when it is not null.
#define CORODB_LOG(logger, ...)                          \
  do {                                                   \
    if ((logger) != nullptr) (logger)->Log(__VA_ARGS__); \
  } while (0)

}  // namespace corodb
