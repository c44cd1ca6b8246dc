#include "fuzz_util.h"

#include <filesystem>
#include <fstream>
#include <system_error>

namespace corodb::fuzz {
namespace {

std::string MakeScratchDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/corodb-fuzz-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) Fail(__FILE__, __LINE__, "mkdtemp", templ);
  return templ;
}

void RemoveScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(ScratchDir(), ignored);
}

}  // namespace

const std::string& ScratchDir() {
  static const std::string dir = [] {
    std::string d = MakeScratchDir();
    return d;
  }();
  static const bool registered = (std::atexit(RemoveScratchDir), true);
  (void)registered;
  return dir;
}

void WriteFileOrDie(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) Fail(__FILE__, __LINE__, "write", path);
}

void EmptyDir(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::filesystem::remove_all(entry.path(), ec);
  }
}

}  // namespace corodb::fuzz
