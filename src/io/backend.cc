#include "io/backend.h"

#include <cstdlib>
#include <cstring>

#include "io/threadpool_backend.h"
#include "io/uring_diagnosis.h"
#include "io/uring_backend.h"
#include "util/logging.h"

namespace corodb::io {

IoCompletion Backend::RunInline(const IoRequest& req) { return RunBlocking(req); }

bool ParseBackendKind(std::string_view name, IoBackendKind* kind) {
  if (name == "uring" || name == "io_uring") {
    *kind = IoBackendKind::kUring;
  } else if (name == "threadpool" || name == "thread_pool") {
    *kind = IoBackendKind::kThreadPool;
  } else if (name == "auto") {
    *kind = IoBackendKind::kAuto;
  } else {
    return false;
  }
  return true;
}

Result<std::shared_ptr<Backend>> MakeBackend(IoBackendKind kind, int io_threads, Logger* logger) {
  if (const char* env = std::getenv("CORODB_IO_BACKEND"); env != nullptr && *env != '\0') {
    IoBackendKind from_env;
    if (ParseBackendKind(env, &from_env)) {
      kind = from_env;
      CORODB_LOG(logger, "io: CORODB_IO_BACKEND=%s overrides Options::io_backend", env);
    } else {
      CORODB_LOG(logger, "io: ignoring CORODB_IO_BACKEND=%s (expected uring, threadpool or auto)",
                 env);
    }
  }
  auto pool = std::make_shared<ThreadPoolBackend>(io_threads);
  if (kind == IoBackendKind::kThreadPool) {
    CORODB_LOG(logger, "io: backend threadpool (%d threads), as configured", io_threads);
    return std::shared_ptr<Backend>(pool);
  }
  const UringConfig config;
  unsigned features = 0;
  // kUring must fail the open where rings fail now: it probes every time.
  const int probed = kind == IoBackendKind::kUring ? ProbeUring(config, &features)
                                                   : ProbeUringRemembered(config, &features);
  if (const int r = probed; r < 0) {
    if (kind == IoBackendKind::kUring) {
      return Status::NotSupported("io_uring setup failed", std::strerror(-r));
    }
    const UringFacts facts = GatherUringFacts(r, 0);
    CORODB_LOG(logger,
               "io: io_uring %s (io_uring_setup: %s): %s Falling back to the threadpool "
               "backend (%d threads).",
               VerdictName(ClassifyUring(facts)), std::strerror(-r),
               ExplainUringVerdict(facts).c_str(), io_threads);
    return std::shared_ptr<Backend>(pool);
  }
  CORODB_LOG(logger,
             "io: backend uring (%u SQ / %u CQ entries; optional kernel features used: %s; "
             "missing: %s)",
             config.sq_entries, config.cq_entries, DescribeUringFeatures(features).c_str(),
             DescribeUringFeatures(kUringAllFeatures & ~features).c_str());
  return std::shared_ptr<Backend>(std::make_shared<UringBackend>(config, pool, logger));
}

}  // namespace corodb::io
