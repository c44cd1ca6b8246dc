#include "version/lookup.h"

#include <string>

namespace corodb {

size_t FindFile(const InternalKeyComparator& icmp, const std::vector<FileRef>& files,
                Slice internal_key) {
  size_t lo = 0, hi = files.size();
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (icmp.Compare(files[mid]->largest.Encode(), internal_key) < 0) {
      lo = mid + 1;  // every file up to mid ends before the key
    } else {
      hi = mid;
    }
  }
  return lo;
}

std::optional<Result<VersionGetResult>> Interpret(Result<table::LookupResult> r, Slice user_key,
                                                  const Comparator* ucmp, uint64_t file_number) {
  if (!r.ok()) return Result<VersionGetResult>(r.status());
  if (!r->found) return std::nullopt;
  ParsedInternalKey parsed;
  if (!ParseInternalKey(r->key, &parsed)) {
    return Result<VersionGetResult>(Status::Corruption("table file " + std::to_string(file_number),
                                                       "an entry is not an internal key"));
  }
  if (ucmp->Compare(parsed.user_key, user_key) != 0) return std::nullopt;
  VersionGetResult result;
  if (parsed.type == kTypeValue) {
    result.kind = VersionGetResult::kFound;
    result.value = std::move(r->value);
  } else {
    result.kind = VersionGetResult::kDeleted;
  }
  return Result<VersionGetResult>(std::move(result));
}

}  // namespace corodb
