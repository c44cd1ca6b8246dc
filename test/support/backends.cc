#include "support/backends.h"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "io/threadpool_backend.h"
#include "io/uring_backend.h"

namespace corodb::test {

const std::vector<std::string>& BackendNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    if (io::ProbeUring() == 0) {
      v.push_back("uring");
    } else {
      std::fprintf(stderr, "io_uring unavailable here: uring backend tests skipped\n");
    }
    v.push_back("threadpool");
    return v;
  }();
  return names;
}

IoBackendKind BackendKindByName(const std::string& name) {
  IoBackendKind kind;
  if (!io::ParseBackendKind(name, &kind)) throw std::invalid_argument("unknown backend " + name);
  return kind;
}

std::shared_ptr<io::Backend> MakeBackendByName(const std::string& name) {
  const IoBackendKind kind = BackendKindByName(name);
  auto pool = std::make_shared<io::ThreadPoolBackend>(8);
  if (kind == IoBackendKind::kThreadPool) return pool;
  return std::make_shared<io::UringBackend>(io::UringConfig{}, pool, nullptr);
}

}  // namespace corodb::test
