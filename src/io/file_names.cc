#include "io/file_names.h"

#include <cstdio>

namespace corodb::io {
namespace {

std::string NumberedName(const std::string& dbname, uint64_t number, const char* suffix) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "/%06llu.%s", static_cast<unsigned long long>(number), suffix);
  return dbname + buf;
}

// Parses a decimal number that fills `digits`; false on overflow or non-digits.
bool ParseNumber(std::string_view digits, uint64_t* out) {
  if (digits.empty()) return false;
  uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

}  // namespace

std::string LogFileName(const std::string& dbname, uint64_t number) {
  return NumberedName(dbname, number, "log");
}
std::string TableFileName(const std::string& dbname, uint64_t number) {
  return NumberedName(dbname, number, "ldb");
}
std::string SSTTableFileName(const std::string& dbname, uint64_t number) {
  return NumberedName(dbname, number, "sst");
}
std::string DescriptorFileName(const std::string& dbname, uint64_t number) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "/MANIFEST-%06llu", static_cast<unsigned long long>(number));
  return dbname + buf;
}
std::string CurrentFileName(const std::string& dbname) { return dbname + "/CURRENT"; }
std::string LockFileName(const std::string& dbname) { return dbname + "/LOCK"; }
std::string TempFileName(const std::string& dbname, uint64_t number) {
  return NumberedName(dbname, number, "dbtmp");
}
std::string InfoLogFileName(const std::string& dbname) { return dbname + "/LOG"; }
std::string OldInfoLogFileName(const std::string& dbname) { return dbname + "/LOG.old"; }

bool ParseFileName(std::string_view name, uint64_t* number, FileType* type) {
  if (name == "CURRENT") {
    *number = 0;
    *type = FileType::kCurrentFile;
  } else if (name == "LOCK") {
    *number = 0;
    *type = FileType::kDBLockFile;
  } else if (name == "LOG" || name == "LOG.old") {
    *number = 0;
    *type = FileType::kInfoLogFile;
  } else if (name.starts_with("MANIFEST-")) {
    if (!ParseNumber(name.substr(9), number)) return false;
    *type = FileType::kDescriptorFile;
  } else {
    const size_t dot = name.find('.');
    if (dot == std::string_view::npos || !ParseNumber(name.substr(0, dot), number)) return false;
    const std::string_view suffix = name.substr(dot);
    if (suffix == ".log") {
      *type = FileType::kLogFile;
    } else if (suffix == ".ldb" || suffix == ".sst") {
      *type = FileType::kTableFile;
    } else if (suffix == ".dbtmp") {
      *type = FileType::kTempFile;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace corodb::io
