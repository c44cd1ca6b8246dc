#include "table/table_options.h"

#include <vector>

#include "format/dbformat.h"

namespace corodb::table {

void InternalFilterPolicy::CreateFilter(std::span<const Slice> keys, std::string* dst) const {
  std::vector<Slice> user_keys;
  user_keys.reserve(keys.size());
  for (Slice key : keys) user_keys.push_back(ExtractUserKey(key));
  user_policy_->CreateFilter(user_keys, dst);
}

bool InternalFilterPolicy::KeyMayMatch(Slice key, Slice filter) const {
  return user_policy_->KeyMayMatch(key.size() >= 8 ? ExtractUserKey(key) : key, filter);
}

TableOptions TableOptionsForDb(const Options& options, const InternalKeyComparator* icmp,
                               BlockCache* block_cache) {
  TableOptions t;
  t.comparator = icmp;
  t.internal_keys = true;
  if (options.filter_policy) {
    t.filter_policy = std::make_shared<InternalFilterPolicy>(options.filter_policy);
  }
  t.block_size = options.block_size;
  t.block_restart_interval = options.block_restart_interval;
  t.compression = options.compression;
  t.paranoid_checks = options.paranoid_checks;
  t.block_cache = block_cache;
  t.mmap_reads = options.mmap_reads && !options.use_direct_reads;
  return t;
}

}  // namespace corodb::table
