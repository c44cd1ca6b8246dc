// TempDir: a fresh directory on the real filesystem, removed with its contents
// when the object dies. Tests put every file they create under one.
#pragma once

#include <string>

namespace corodb::test {

class TempDir {
 public:
  // Creates a directory under $TMPDIR (or /tmp) named after `prefix`.
  explicit TempDir(const std::string& prefix = "corodb");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name
  std::string Child(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace corodb::test
