// Why io_uring cannot be used here: the facts the kernel and the process
// give (io_uring_setup's error, kernel.io_uring_disabled, the seccomp mode,
// the locked-memory limit, the kernel release) and the verdict drawn from
// them. MakeBackend writes the verdict and its reason to LOG when it falls
// back to the thread pool; `corodb backend` prints the same with the facts.
// ClassifyUring is a pure function of the facts, so tests can feed it any
// machine's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace corodb::io {

struct UringFacts {
  // io::ProbeUring's result: 0, or -errno (EPERM, ENOSYS, ENOMEM, EINVAL,
  // EOPNOTSUPP when a required opcode is missing, ...).
  int probe_result = 0;
  unsigned features = 0;  // io::UringFeature bits, when the probe succeeded
  // /proc/sys/kernel/io_uring_disabled (0, 1, 2); nullopt when the kernel has no such sysctl.
  std::optional<int> io_uring_disabled;
  // kernel.io_uring_disabled=1 lets root and the members of
  // kernel.io_uring_group set up rings.
  bool privileged_for_io_uring = false;
  // "Seccomp:" of /proc/self/status: 0 none, 1 strict, 2 filter.
  std::optional<int> seccomp_mode;
  // RLIMIT_MEMLOCK soft limit in bytes (nullopt: unlimited).
  std::optional<uint64_t> memlock_limit;
  std::string kernel_release;  // uname -r
};

// The facts of this process, with the result of a probe already made.
UringFacts GatherUringFacts(int probe_result, unsigned features);

enum class UringVerdict {
  kUsable,
  kRefusedBySeccomp,
  kDisabledBySysctl,
  kKernelTooOld,
  kLockedMemoryLimit,
  kOther,
};

UringVerdict ClassifyUring(const UringFacts& facts);
// "usable", "refused by seccomp", ...
const char* VerdictName(UringVerdict verdict);
// One sentence: why io_uring is not used and what would allow it ("" when usable).
std::string ExplainUringVerdict(const UringFacts& facts);
// "1 MiB", "64 KiB", "1000 bytes".
std::string DescribeBytes(uint64_t n);

}  // namespace corodb::io
