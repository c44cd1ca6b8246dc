// `corodb backend`: which I/O backend the engine gets on this machine, and
// why. The facts are gathered once (GatherBackendFacts: the engine's own
// io_uring probe, io::ProbeUring, plus what the kernel and process say
// about why a ring could be refused, io::GatherUringFacts); ExplainBackend
// turns them into the verdict (io::ClassifyUring, the same the engine
// writes to LOG), so tests can feed it any machine's facts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "io/uring_diagnosis.h"

namespace corodb::cli {

// io::UringFacts plus the CORODB_IO_BACKEND override.
struct BackendFacts : io::UringFacts {
  std::string env_override;  // CORODB_IO_BACKEND, "" when unset
};

BackendFacts GatherBackendFacts();

using io::ClassifyUring;
using io::UringVerdict;
using io::VerdictName;

// The report `corodb backend` prints: the backend the engine picks with
// io_backend=auto here, the verdict with its reason, and the facts.
std::string ExplainBackend(const BackendFacts& facts);

}  // namespace corodb::cli
