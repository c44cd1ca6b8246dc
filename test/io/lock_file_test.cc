#include "io/lock_file.h"

#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "io/file_names.h"
#include "support/temp_dir.h"

namespace corodb::io {
namespace {

using test::TempDir;

// Forks a child that tries to take `path`; returns its exit code (0 = locked it).
int TryLockInChild(const std::string& path) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    auto lock = LockFile::Acquire(path);
    ::_exit(lock.ok() ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

BOOST_AUTO_TEST_SUITE(LockFileTest)

BOOST_AUTO_TEST_CASE(SecondOpenerInSameProcessIsRefused) {
  TempDir dir;
  auto first = LockFile::Acquire(LockFileName(dir.path()));
  BOOST_REQUIRE(first.ok());
  auto second = LockFile::Acquire(LockFileName(dir.path()));
  BOOST_REQUIRE(!second.ok());
  BOOST_TEST(second.status().IsIOError());
  BOOST_TEST(second.status().ToString().find("LOCK") != std::string::npos);
  BOOST_TEST(second.status().ToString().find("already open") != std::string::npos);
  first->reset();
  auto third = LockFile::Acquire(LockFileName(dir.path()));
  BOOST_TEST(third.ok());
}

BOOST_AUTO_TEST_CASE(OtherProcessIsExcludedWhileHeld) {
  TempDir dir;
  const std::string path = LockFileName(dir.path());
  {
    auto held = LockFile::Acquire(path);
    BOOST_REQUIRE(held.ok());
    BOOST_TEST(TryLockInChild(path) == 1);
  }
  BOOST_TEST(TryLockInChild(path) == 0);
}

BOOST_AUTO_TEST_CASE(LockDiesWithKilledProcess) {
  TempDir dir;
  const std::string path = LockFileName(dir.path());
  int ready[2];
  BOOST_REQUIRE(::pipe(ready) == 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    auto lock = LockFile::Acquire(path);
    char c = lock.ok() ? 'y' : 'n';
    [[maybe_unused]] auto n = ::write(ready[1], &c, 1);
    ::pause();
    ::_exit(0);
  }
  char c = 0;
  BOOST_REQUIRE(::read(ready[0], &c, 1) == 1);
  BOOST_TEST(c == 'y');
  BOOST_TEST(!LockFile::Acquire(path).ok());
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  BOOST_TEST(LockFile::Acquire(path).ok());
  ::close(ready[0]);
  ::close(ready[1]);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(FileNamesTest)

BOOST_AUTO_TEST_CASE(NamesRoundTripThroughParse) {
  struct Case {
    std::string path;
    uint64_t number;
    FileType type;
  };
  const Case cases[] = {
      {LogFileName("db", 5), 5, FileType::kLogFile},
      {TableFileName("db", 123456789), 123456789, FileType::kTableFile},
      {SSTTableFileName("db", 7), 7, FileType::kTableFile},
      {DescriptorFileName("db", 2), 2, FileType::kDescriptorFile},
      {CurrentFileName("db"), 0, FileType::kCurrentFile},
      {LockFileName("db"), 0, FileType::kDBLockFile},
      {TempFileName("db", 9), 9, FileType::kTempFile},
      {InfoLogFileName("db"), 0, FileType::kInfoLogFile},
      {OldInfoLogFileName("db"), 0, FileType::kInfoLogFile},
  };
  for (const Case& c : cases) {
    BOOST_REQUIRE(c.path.rfind("db/", 0) == 0);
    uint64_t number = 99;
    FileType type;
    BOOST_TEST_CONTEXT(c.path) {
      BOOST_TEST(ParseFileName(c.path.substr(3), &number, &type));
      BOOST_TEST(number == c.number);
      BOOST_TEST(static_cast<int>(type) == static_cast<int>(c.type));
    }
  }
  BOOST_TEST(LogFileName("db", 5) == "db/000005.log");
  BOOST_TEST(DescriptorFileName("db", 12) == "db/MANIFEST-000012");
}

BOOST_AUTO_TEST_CASE(ForeignNamesAreRejected) {
  uint64_t number;
  FileType type;
  for (const char* name : {"", "foo", "foo.log", "100", "100.", "100.lo", "MANIFEST", "MANIFEST-",
                           "MANIFEST-1a", "CURRENTX", "LOCKX", "18446744073709551616.log"}) {
    BOOST_TEST_CONTEXT(name) { BOOST_TEST(!ParseFileName(name, &number, &type)); }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::io
