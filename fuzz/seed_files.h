// Real files in corodb's formats, made with the library's own writers, for
// the fuzzers' seed corpora (fuzz_seeds) and for the fixed directory that
// recovery_fuzz opens with a fuzzed MANIFEST.
//
// The recovery template is a small database written file by file, so that
// it is the same on every run (no background flush decides a file number):
//   000003.ldb  level 0, keys k000..k019, sequences 1..20
//   000004.ldb  level 1, keys k020..k039, sequences 21..40 (bloom, snappy)
//   000005.log  two batches: k040..k049 (41..50), then delete k001 (51)
//   MANIFEST-000002, CURRENT naming it.
// Every key is written once, with one value: WrittenValue(key) tells it.
//
// Thread safety: none; the functions run coroutines on io_contexts of their own.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "corodb/status.h"

namespace corodb::fuzz {

inline constexpr uint64_t kTemplateManifestNumber = 2;

struct TemplateFile {
  std::string name;  // file name inside the database directory
  std::string bytes;
};

// The template's table and log files (not the MANIFEST nor CURRENT).
const std::vector<TemplateFile>& TemplateDataFiles();

// The template's MANIFEST contents: one record with the whole state.
std::string TemplateManifest();
// Other valid MANIFESTs over the same files: an edit that deletes
// 000003.ldb after the first one, and one that adds a compaction pointer
// and moves 000004.ldb to level 2.
std::vector<std::string> TemplateManifestVariants();

// Every key the template ever wrote, with its value.
const std::map<std::string, std::string>& TemplateWrites();

// Encoded VersionEdits, WriteBatches, log files and blocks, for seeds.
std::vector<std::string> SampleVersionEdits();
std::vector<std::string> SampleWriteBatches();
std::vector<std::string> SampleLogs();
// Blocks as BlockBuilder writes them: {internal keys?, contents}.
std::vector<std::pair<bool, std::string>> SampleBlocks();
// Whole table files (internal keys), several option sets.
std::vector<std::string> SampleTables();

}  // namespace corodb::fuzz
