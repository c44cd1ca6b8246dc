// File names inside a database directory, as LevelDB names them:
//   NNNNNN.log  NNNNNN.ldb (NNNNNN.sst accepted)  MANIFEST-NNNNNN  CURRENT
//   LOCK  LOG  LOG.old  NNNNNN.dbtmp
// Numbers are printed with at least six digits.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace corodb::io {

enum class FileType {
  kLogFile,
  kDBLockFile,
  kTableFile,
  kDescriptorFile,
  kCurrentFile,
  kTempFile,
  kInfoLogFile,  // LOG or LOG.old
};

std::string LogFileName(const std::string& dbname, uint64_t number);
std::string TableFileName(const std::string& dbname, uint64_t number);      // .ldb
std::string SSTTableFileName(const std::string& dbname, uint64_t number);   // .sst
std::string DescriptorFileName(const std::string& dbname, uint64_t number);
std::string CurrentFileName(const std::string& dbname);
std::string LockFileName(const std::string& dbname);
std::string TempFileName(const std::string& dbname, uint64_t number);
std::string InfoLogFileName(const std::string& dbname);
std::string OldInfoLogFileName(const std::string& dbname);

// Parses a file name (not a path). Returns false for names corodb does not own.
// `number` is 0 for CURRENT, LOCK, LOG and LOG.old.
bool ParseFileName(std::string_view filename, uint64_t* number, FileType* type);

}  // namespace corodb::io
