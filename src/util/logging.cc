#include "util/logging.h"

#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace corodb {

Result<std::unique_ptr<Logger>> Logger::OpenInDirectory(const std::string& dir) {
  const std::string path = dir + "/LOG";
  const std::string old_path = dir + "/LOG.old";
  if (std::rename(path.c_str(), old_path.c_str()) != 0 && errno != ENOENT) {
    return Status::IOError(path, std::strerror(errno));
  }
  std::FILE* f = std::fopen(path.c_str(), "we");
  if (f == nullptr) return Status::IOError(path, std::strerror(errno));
  return std::unique_ptr<Logger>(new Logger(f, /*owned=*/true));
}

std::unique_ptr<Logger> Logger::ToStream(std::FILE* stream) {
  return std::unique_ptr<Logger>(new Logger(stream, /*owned=*/false));
}

Logger::~Logger() {
  if (owned_) std::fclose(file_);
}

void Logger::Log(const char* format, ...) {
  va_list args;
  va_start(args, format);
  LogV(format, args);
  va_end(args);
}

void Logger::LogV(const char* format, va_list args) {
  struct timeval now;
  gettimeofday(&now, nullptr);
  struct tm t;
  localtime_r(&now.tv_sec, &t);
  char line[1024];
  int n = std::snprintf(line, sizeof(line), "%04d/%02d/%02d-%02d:%02d:%02d.%06ld %ld ",
                        t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min,
                        t.tm_sec, static_cast<long>(now.tv_usec),
                        static_cast<long>(::syscall(SYS_gettid)));
  std::string text(line, static_cast<size_t>(n));
  va_list copy;
  va_copy(copy, args);
  const int body = std::vsnprintf(line, sizeof(line), format, copy);
  va_end(copy);
  if (body >= 0 && static_cast<size_t>(body) < sizeof(line)) {
    text.append(line, static_cast<size_t>(body));
  } else if (body >= 0) {
    std::string big(static_cast<size_t>(body) + 1, '\0');
    std::vsnprintf(big.data(), big.size(), format, args);
    big.pop_back();
    text += big;
  }
  if (text.empty() || text.back() != '\n') text.push_back('\n');
  std::lock_guard lock(mu_);
  std::fwrite(text.data(), 1, text.size(), file_);
  std::fflush(file_);
}

}  // namespace corodb
