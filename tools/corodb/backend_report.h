// `corodb backend`: which I/O backend the engine gets on this machine, and
// why. The facts are gathered once (GatherBackendFacts: the engine's own
// io_uring probe, io::ProbeUring, plus what the kernel and process say
// about why a ring could be refused); ExplainBackend turns them into the
// verdict, so tests can feed it any machine's facts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace corodb::cli {

struct BackendFacts {
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
  std::string env_override;    // CORODB_IO_BACKEND, "" when unset
};

BackendFacts GatherBackendFacts();

enum class UringVerdict {
  kUsable,
  kRefusedBySeccomp,
  kDisabledBySysctl,
  kKernelTooOld,
  kLockedMemoryLimit,
  kOther,
};

UringVerdict ClassifyUring(const BackendFacts& facts);
// "usable", "refused by seccomp", ...
const char* VerdictName(UringVerdict verdict);

// The report `corodb backend` prints: the backend the engine picks with
// io_backend=auto here, the verdict with its reason, and the facts.
std::string ExplainBackend(const BackendFacts& facts);

}  // namespace corodb::cli
