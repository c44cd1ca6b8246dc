#include "backend_report.h"

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "cli.h"
#include "io/uring_backend.h"

namespace corodb::cli {

BackendFacts GatherBackendFacts() {
  unsigned features = 0;
  const int probe = io::ProbeUring({}, &features);
  BackendFacts f;
  static_cast<io::UringFacts&>(f) = io::GatherUringFacts(probe, features);
  if (const char* env = std::getenv("CORODB_IO_BACKEND")) f.env_override = env;
  return f;
}

std::string ExplainBackend(const BackendFacts& f) {
  std::ostringstream os;
  const UringVerdict verdict = ClassifyUring(f);
  const bool usable = verdict == UringVerdict::kUsable;
  std::string chosen = usable ? "uring" : "threadpool";
  if (f.env_override == "uring" || f.env_override == "io_uring") {
    chosen = usable ? "uring" : "none (CORODB_IO_BACKEND=uring, and opening fails)";
  } else if (f.env_override == "threadpool" || f.env_override == "thread_pool") {
    chosen = "threadpool";
  }
  os << "backend: " << chosen;
  if (!f.env_override.empty()) os << " (CORODB_IO_BACKEND=" << f.env_override << ")";
  os << "\n";
  os << "io_uring: " << VerdictName(verdict);
  if (!usable) os << " (io_uring_setup: " << std::strerror(-f.probe_result) << ")";
  os << "\n";
  if (usable) {
    os << "ring features: " << io::DescribeUringFeatures(f.features)
       << "; missing: " << io::DescribeUringFeatures(io::kUringAllFeatures & ~f.features) << "\n";
  } else {
    os << "why: " << io::ExplainUringVerdict(f) << " The engine uses the thread pool.\n";
  }
  os << "kernel: " << (f.kernel_release.empty() ? "unknown" : f.kernel_release) << "\n";
  os << "kernel.io_uring_disabled: "
     << (f.io_uring_disabled ? std::to_string(*f.io_uring_disabled) : "absent (kernel before 6.6)")
     << "\n";
  os << "seccomp: "
     << (!f.seccomp_mode ? "unknown"
         : *f.seccomp_mode == 0 ? "none"
         : *f.seccomp_mode == 1 ? "strict"
                                 : "filter")
     << "\n";
  os << "locked-memory limit: "
     << (f.memlock_limit ? io::DescribeBytes(*f.memlock_limit) : std::string("unlimited")) << "\n";
  return os.str();
}

int CmdBackend(Context& ctx) {
  *ctx.out << ExplainBackend(GatherBackendFacts());
  return kExitOk;
}

}  // namespace corodb::cli
