#include "io/uring_diagnosis.h"

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <vector>

namespace corodb::io {
namespace {

std::optional<int> ReadIntFile(const char* path) {
  std::ifstream in(path);
  int v = 0;
  if (!(in >> v)) return std::nullopt;
  return v;
}

std::optional<int> SeccompMode() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("Seccomp:")) return std::atoi(line.c_str() + 8);
  }
  return std::nullopt;
}

// Root, or a member of kernel.io_uring_group (what io_uring_disabled=1 lets in).
bool PrivilegedForIoUring() {
  if (::geteuid() == 0) return true;
  const std::optional<int> group = ReadIntFile("/proc/sys/kernel/io_uring_group");
  if (!group || *group < 0) return false;
  if (::getegid() == static_cast<gid_t>(*group)) return true;
  const int n = ::getgroups(0, nullptr);
  if (n <= 0) return false;
  std::vector<gid_t> groups(static_cast<size_t>(n));
  if (::getgroups(n, groups.data()) != n) return false;
  for (gid_t g : groups) {
    if (g == static_cast<gid_t>(*group)) return true;
  }
  return false;
}

}  // namespace

std::string DescribeBytes(uint64_t n) {
  if (n >= (1u << 20) && n % (1u << 20) == 0) return std::to_string(n >> 20) + " MiB";
  if (n >= 1024 && n % 1024 == 0) return std::to_string(n >> 10) + " KiB";
  return std::to_string(n) + " bytes";
}

UringFacts GatherUringFacts(int probe_result, unsigned features) {
  UringFacts f;
  f.probe_result = probe_result;
  f.features = features;
  f.io_uring_disabled = ReadIntFile("/proc/sys/kernel/io_uring_disabled");
  f.privileged_for_io_uring = PrivilegedForIoUring();
  f.seccomp_mode = SeccompMode();
  rlimit lim{};
  if (::getrlimit(RLIMIT_MEMLOCK, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
    f.memlock_limit = lim.rlim_cur;
  }
  utsname u{};
  if (::uname(&u) == 0) f.kernel_release = u.release;
  return f;
}

UringVerdict ClassifyUring(const UringFacts& f) {
  const int err = -f.probe_result;
  if (f.probe_result >= 0) return UringVerdict::kUsable;
  if (err == EPERM) {
    if (f.io_uring_disabled.value_or(0) == 2) return UringVerdict::kDisabledBySysctl;
    if (f.io_uring_disabled.value_or(0) == 1 && !f.privileged_for_io_uring) {
      return UringVerdict::kDisabledBySysctl;
    }
    return UringVerdict::kRefusedBySeccomp;
  }
  if (err == ENOSYS) {
    // A kernel without io_uring answers ENOSYS; so do seccomp profiles that
    // refuse unknown system calls that way, but then the syscall is known.
    return f.seccomp_mode.value_or(0) == 2 ? UringVerdict::kRefusedBySeccomp
                                           : UringVerdict::kKernelTooOld;
  }
  if (err == EINVAL || err == EOPNOTSUPP) return UringVerdict::kKernelTooOld;
  if (err == ENOMEM) return UringVerdict::kLockedMemoryLimit;
  return UringVerdict::kOther;
}

const char* VerdictName(UringVerdict verdict) {
  switch (verdict) {
    case UringVerdict::kUsable: return "usable";
    case UringVerdict::kRefusedBySeccomp: return "refused by seccomp";
    case UringVerdict::kDisabledBySysctl: return "disabled by kernel.io_uring_disabled";
    case UringVerdict::kKernelTooOld: return "kernel too old";
    case UringVerdict::kLockedMemoryLimit: return "locked-memory limit";
    case UringVerdict::kOther: return "unavailable";
  }
  return "unavailable";
}

std::string ExplainUringVerdict(const UringFacts& f) {
  switch (ClassifyUring(f)) {
    case UringVerdict::kUsable:
      return "";
    case UringVerdict::kRefusedBySeccomp:
      return "this process runs under a seccomp filter that refuses io_uring_setup "
             "(Docker's default profile does); allow the io_uring system calls in the "
             "profile to get io_uring.";
    case UringVerdict::kDisabledBySysctl:
      return "kernel.io_uring_disabled=" + std::to_string(f.io_uring_disabled.value_or(0)) +
             (f.io_uring_disabled.value_or(0) == 2
                  ? " disables io_uring for every process."
                  : " allows io_uring only to root and kernel.io_uring_group.");
    case UringVerdict::kKernelTooOld:
      return "kernel " + f.kernel_release +
             " lacks io_uring or what corodb needs from it (Linux 5.6: IORING_SETUP_CQSIZE, "
             "the read, write, fsync and nop opcodes).";
    case UringVerdict::kLockedMemoryLimit:
      return "the ring's memory does not fit under the locked-memory limit (" +
             (f.memlock_limit ? DescribeBytes(*f.memlock_limit) : std::string("unlimited")) +
             "; kernels before 5.12 charge rings to RLIMIT_MEMLOCK): raise `ulimit -l`.";
    case UringVerdict::kOther:
      return "io_uring_setup failed with an error corodb does not explain.";
  }
  return "";
}

}  // namespace corodb::io
