// fuzz_seeds: writes the seed corpora of the fuzzers (seed_files.h) into
// <dir>/<target>/, one file per seed, named by what it holds. The inputs
// carry each target's option bytes in front, as its header comment says.
//
//   build/fuzz/fuzz/fuzz_seeds fuzz/corpus
//
// The seeds in fuzz/corpus/ are this program's output, committed; run it
// again after a format change.
#include <cstdio>
#include <filesystem>
#include <string>

#include "fuzz_util.h"
#include "seed_files.h"

namespace {

using corodb::fuzz::WriteFileOrDie;

void Write(const std::string& dir, const std::string& target, const std::string& name,
           const std::string& bytes) {
  std::filesystem::create_directories(dir + "/" + target);
  WriteFileOrDie(dir + "/" + target + "/" + name, bytes);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace corodb::fuzz;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  int n = 0;
  for (const std::string& log : SampleLogs()) {
    Write(dir, "log_reader", "log-" + std::to_string(n) + "-checksum",
          std::string(1, '\1') + log);
    Write(dir, "log_reader", "log-" + std::to_string(n) + "-nochecksum",
          std::string(1, '\0') + log);
    ++n;
  }
  n = 0;
  for (const auto& [internal, block] : SampleBlocks()) {
    Write(dir, "block", "block-" + std::to_string(n++),
          std::string(1, internal ? '\1' : '\0') + '\x0f' + block);
  }
  n = 0;
  for (const std::string& table : SampleTables()) {
    // flags: 0 plain, 1 bloom, 7 bloom + paranoid + block cache
    Write(dir, "table", "table-" + std::to_string(n) + "-plain",
          std::string(1, '\0') + table);
    Write(dir, "table", "table-" + std::to_string(n) + "-bloom-cache",
          std::string(1, '\7') + table);
    ++n;
  }
  n = 0;
  for (const std::string& edit : SampleVersionEdits())
    Write(dir, "version_edit", "edit-" + std::to_string(n++), edit);
  n = 0;
  for (const std::string& batch : SampleWriteBatches())
    Write(dir, "write_batch", "batch-" + std::to_string(n++), batch);
  Write(dir, "recovery", "manifest-template", std::string(1, '\0') + TemplateManifest());
  Write(dir, "recovery", "manifest-template-paranoid",
        std::string(1, '\1') + TemplateManifest());
  n = 0;
  for (const std::string& m : TemplateManifestVariants())
    Write(dir, "recovery", "manifest-variant-" + std::to_string(n++),
          std::string(1, '\0') + m);
  std::printf("fuzz_seeds: wrote the corpora under %s\n", dir.c_str());
  return 0;
}
