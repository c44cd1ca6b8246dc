// The stress tool's operations and the check of every read.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <random>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "stress.h"

namespace corodb::stress {
namespace asio = boost::asio;

namespace {

using Rng = std::mt19937_64;

uint32_t Pick(Rng& rng, uint32_t n) { return static_cast<uint32_t>(rng() % n); }

// A snapshot a worker holds across its next operations, with what it read
// through it at first: later reads through it must give exactly that.
struct HeldSnapshot {
  SnapshotHandle snapshot;
  uint32_t first = 0;
  std::vector<std::optional<std::string>> seen;  // keys first, first+1, ...
  int ops_left = 0;
};

std::string Describe(uint32_t index, const std::string* value) {
  return StressKey(index) + " = " + (value == nullptr ? std::string("NotFound") : Printable(*value));
}

// Loads the state words of keys [first, first + n).
std::vector<KeyWord> LoadRange(ExpectedState& state, uint32_t first, uint32_t n) {
  std::vector<KeyWord> words(n);
  for (uint32_t i = 0; i < n; ++i) words[i] = state.Load(first + i);
  return words;
}

// DoWrite's kinds (at namespace scope: g++ 12 crashed compiling the
// coroutine with this enum local to it under -fsanitize=thread).
enum WriteKind { kPut, kDelete, kBatch };

// A put, a delete, or a batch of up to kMaxBatchKeys updates, sync or not.
asio::awaitable<void> DoWrite(Context& ctx, Rng& rng, uint32_t slot_index, int kind) {
  const uint32_t n = ctx.state.num_keys();
  const int wanted = kind == kBatch ? 1 + static_cast<int>(Pick(rng, kMaxBatchKeys)) : 1;
  std::vector<uint32_t> keys;
  for (int tries = 0; tries < 2 * wanted && static_cast<int>(keys.size()) < wanted; ++tries) {
    const uint32_t k = Pick(rng, n);
    if (ctx.TryLockKey(k)) keys.push_back(k);  // fails for keys already taken here too
  }
  if (keys.empty()) co_return;
  std::vector<KeyWord> words(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    words[i] = ctx.state.Load(keys[i]);
    if (words[i].pending) Fail(ctx.flags, "pending write on a locked key: " + words[i].ToString());
    words[i].pending = true;
    words[i].pending_state.gen = words[i].NextGen();
    words[i].pending_state.exists = kind == kPut || (kind == kBatch && Pick(rng, 4) != 0);
    if (words[i].pending_state.gen > kMaxGen) Fail(ctx.flags, "generation overflow");
  }
  Slot& slot = ctx.state.slot(slot_index);
  if (kind == kBatch) {
    for (size_t i = 0; i < keys.size(); ++i) {
      slot.entries[i].key.store(keys[i], std::memory_order_relaxed);
      slot.entries[i].gen.store(words[i].pending_state.gen, std::memory_order_relaxed);
      slot.entries[i].exists.store(words[i].pending_state.exists, std::memory_order_relaxed);
    }
    slot.acked.store(0, std::memory_order_relaxed);
    slot.count.store(static_cast<uint32_t>(keys.size()), std::memory_order_release);
  }
  // Pending before the write is issued: a crash from here on may keep it.
  for (size_t i = 0; i < keys.size(); ++i) ctx.state.Store(keys[i], words[i]);
  MaybeKill(ctx.flags, rng());

  WriteOptions wo;
  wo.sync = Pick(rng, static_cast<uint32_t>(std::max<uint64_t>(ctx.flags.sync_odds, 1))) == 0;
  const std::string key = StressKey(keys[0]);
  Status s;
  if (kind == kPut) {
    const std::string value = StressValue(keys[0], words[0].pending_state.gen);
    s = co_await ctx.db.Put(wo, key, value);
  } else if (kind == kDelete) {
    s = co_await ctx.db.Delete(wo, key);
  } else {
    WriteBatch batch;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (words[i].pending_state.exists) {
        batch.Put(StressKey(keys[i]), StressValue(keys[i], words[i].pending_state.gen));
      } else {
        batch.Delete(StressKey(keys[i]));
      }
    }
    s = co_await ctx.db.Write(wo, batch);
  }
  if (!s.ok()) Fail(ctx.flags, "write of " + key + " failed: " + s.ToString());
  if (kind == kBatch) slot.acked.store(1, std::memory_order_release);
  MaybeKill(ctx.flags, rng());
  for (size_t i = 0; i < keys.size(); ++i) {
    words[i].committed = words[i].pending_state;
    words[i].pending = false;
    ctx.state.Store(keys[i], words[i]);
  }
  if (kind == kBatch) slot.count.store(0, std::memory_order_release);
  for (uint32_t k : keys) ctx.UnlockKey(k);
}

asio::awaitable<void> DoGet(Context& ctx, Rng& rng) {
  const uint32_t index = Pick(rng, ctx.state.num_keys());
  const std::string key = StressKey(index);
  ReadOptions ro;
  ro.verify_checksums = Pick(rng, 4) == 0;
  ro.fill_cache = Pick(rng, 8) != 0;
  const KeyWord before = ctx.state.Load(index);
  const Result<std::string> got = co_await ctx.db.Get(ro, key);
  const KeyWord after = ctx.state.Load(index);
  if (!got.ok() && !got.status().IsNotFound()) Fail(ctx.flags, "Get(" + key + "): " + got.status().ToString());
  const std::string* value = got.ok() ? &*got : nullptr;
  if (std::string e = CheckRead(index, before, after, value); !e.empty()) {
    Fail(ctx.flags, "Get: " + Describe(index, value) + ": " + e);
  }
}

// MultiGet of up to 16 random keys (duplicates included), sometimes through
// a snapshot taken for it: each answer checked as a Get's, and a key asked
// twice must get the same answer (one read point).
asio::awaitable<void> DoMultiGet(Context& ctx, Rng& rng) {
  const uint32_t count = 1 + Pick(rng, 16);
  std::vector<uint32_t> indexes(count);
  std::vector<std::string> keys(count);
  std::vector<Slice> slices(count);
  std::vector<KeyWord> before(count), after(count);
  for (uint32_t i = 0; i < count; ++i) {
    indexes[i] = i > 0 && Pick(rng, 8) == 0 ? indexes[Pick(rng, i)] : Pick(rng, ctx.state.num_keys());
    keys[i] = StressKey(indexes[i]);
    slices[i] = keys[i];
    before[i] = ctx.state.Load(indexes[i]);
  }
  SnapshotHandle snapshot;
  ReadOptions ro;
  ro.verify_checksums = Pick(rng, 4) == 0;
  if (Pick(rng, 3) == 0) {
    snapshot = ctx.db.GetSnapshot();
    ro.snapshot = snapshot.get();
    for (uint32_t i = 0; i < count; ++i) after[i] = ctx.state.Load(indexes[i]);
  }
  const std::vector<Result<std::string>> got = co_await ctx.db.MultiGet(ro, slices);
  if (!snapshot) {
    for (uint32_t i = 0; i < count; ++i) after[i] = ctx.state.Load(indexes[i]);
  }
  if (got.size() != count) Fail(ctx.flags, "MultiGet of " + std::to_string(count) + " keys gave " + std::to_string(got.size()) + " results");
  for (uint32_t i = 0; i < count; ++i) {
    if (!got[i].ok() && !got[i].status().IsNotFound()) {
      Fail(ctx.flags, "MultiGet(" + keys[i] + "): " + got[i].status().ToString());
    }
    const std::string* value = got[i].ok() ? &*got[i] : nullptr;
    if (std::string e = CheckRead(indexes[i], before[i], after[i], value); !e.empty()) {
      Fail(ctx.flags, std::string("MultiGet") + (snapshot ? " (snapshot)" : "") + ": " + Describe(indexes[i], value) + ": " + e);
    }
    for (uint32_t j = 0; j < i; ++j) {
      if (indexes[j] == indexes[i] && (got[j].ok() != got[i].ok() || (got[i].ok() && *got[j] != *got[i]))) {
        Fail(ctx.flags, "MultiGet answered " + keys[i] + " twice differently: " + Describe(indexes[j], got[j].ok() ? &*got[j] : nullptr) +
                            " and " + Describe(indexes[i], value));
      }
    }
  }
}

// Reads keys [first, first + n) with `it` in one direction into `out`
// (out[i]: key first + i). Returns "" or what was wrong with the order or
// the keys (values are checked by the caller).
asio::awaitable<std::string> ScanRange(Iterator& it, uint32_t first, uint32_t n, bool forward,
                                       std::vector<std::optional<std::string>>* out) {
  out->assign(n, std::nullopt);
  const uint32_t last = first + n - 1;
  if (forward) {
    co_await it.Seek(StressKey(first));
  } else {
    co_await it.Seek(StressKey(last + 1));
    if (it.Valid()) {
      if (!it.TryPrev()) co_await it.Prev();
    } else if (it.status().ok()) {
      co_await it.SeekToLast();
    }
  }
  bool have_previous = false;
  uint32_t previous = 0;
  while (it.Valid()) {
    uint32_t index;
    if (!ParseStressKey(it.key(), &index)) co_return "iterator found key " + Printable(it.key());
    if (forward ? index > last : index < first) break;
    if (forward ? index < first : index > last) {
      co_return "iterator positioned at " + StressKey(index) + " outside the range";
    }
    if (have_previous && (forward ? index <= previous : index >= previous)) {
      co_return "iterator order: " + StressKey(index) + " after " + StressKey(previous);
    }
    have_previous = true;
    previous = index;
    (*out)[index - first] = std::string(it.value());
    if (forward) {
      if (!it.TryNext()) co_await it.Next();
    } else {
      if (!it.TryPrev()) co_await it.Prev();
    }
  }
  if (!it.status().ok()) co_return "iterator: " + it.status().ToString();
  co_return "";
}

// Moves `it` (whose scan of keys [first, first + n) found `seen`) through the
// range at random: a Seek, then Next and Prev mixed, so the direction
// changes often. Its read point is fixed, so every position must be the
// neighbour `seen` predicts, until it leaves the range. Returns "" or the
// first wrong position.
asio::awaitable<std::string> ZigZag(Iterator& it, Rng& rng, uint32_t first, uint32_t n,
                                    const std::vector<std::optional<std::string>>& seen) {
  std::vector<uint32_t> present;  // indexes into `seen` that have a value
  for (uint32_t i = 0; i < n; ++i) {
    if (seen[i]) present.push_back(i);
  }
  const uint32_t target = Pick(rng, n);
  co_await it.Seek(StressKey(first + target));
  // The position in `present`; -1 or present.size(): outside the range.
  auto pos = static_cast<int64_t>(std::lower_bound(present.begin(), present.end(), target) - present.begin());
  std::string moves = "Seek(" + StressKey(first + target) + ")";
  for (int step = 0; step < 40; ++step) {
    if (!it.status().ok()) co_return moves + ": " + it.status().ToString();
    if (pos < 0 || pos >= static_cast<int64_t>(present.size())) {
      uint32_t index;
      // Left the range: invalid, or at a key beyond it on that side.
      if (it.Valid() && (!ParseStressKey(it.key(), &index) ||
                         (pos < 0 ? index >= first : index < first + n))) {
        co_return moves + ": at " + Printable(it.key()) + ", expected to have left the range";
      }
      co_return "";
    }
    const uint32_t want = present[static_cast<size_t>(pos)];
    if (!it.Valid() || it.key() != StressKey(first + want) || it.value() != *seen[want]) {
      co_return moves + ": at " + (it.Valid() ? Printable(it.key()) : std::string("the end")) +
          ", expected " + StressKey(first + want);
    }
    if (Pick(rng, 2) == 0) {
      moves += " Next";
      ++pos;
      if (!it.TryNext()) co_await it.Next();
    } else {
      moves += " Prev";
      --pos;
      if (!it.TryPrev()) co_await it.Prev();
    }
  }
  co_return "";
}

// An iterator over a random range (now and then the whole key space), in a
// random direction, sometimes through a snapshot taken for it.
asio::awaitable<void> DoScan(Context& ctx, Rng& rng) {
  const uint32_t keys = ctx.state.num_keys();
  uint32_t n = Pick(rng, 50) == 0 ? keys : 1 + Pick(rng, std::min<uint32_t>(100, keys));
  const uint32_t first = Pick(rng, keys - n + 1);
  const bool forward = Pick(rng, 2) == 0;
  const std::vector<KeyWord> before = LoadRange(ctx.state, first, n);
  SnapshotHandle snapshot;
  ReadOptions ro;
  if (Pick(rng, 3) == 0) {
    snapshot = ctx.db.GetSnapshot();
    ro.snapshot = snapshot.get();
  }
  std::unique_ptr<Iterator> it = ctx.db.NewIterator(ro);
  // The iterator's read point is fixed by now.
  const std::vector<KeyWord> after = LoadRange(ctx.state, first, n);
  std::vector<std::optional<std::string>> seen;
  if (std::string e = co_await ScanRange(*it, first, n, forward, &seen); !e.empty()) {
    Fail(ctx.flags, std::string(forward ? "forward" : "backward") + " scan: " + e);
  }
  for (uint32_t i = 0; i < n; ++i) {
    const std::string* value = seen[i] ? &*seen[i] : nullptr;
    if (std::string e = CheckRead(first + i, before[i], after[i], value); !e.empty()) {
      Fail(ctx.flags, std::string(forward ? "forward" : "backward") + " scan of " +
                          StressKey(first) + ".." + StressKey(first + n - 1) +
                          (snapshot ? " (snapshot)" : "") + ": " + Describe(first + i, value) + ": " + e);
    }
  }
  if (n < keys && Pick(rng, 2) == 0) {
    if (std::string e = co_await ZigZag(*it, rng, first, n, seen); !e.empty()) {
      Fail(ctx.flags, "iterator moves over " + StressKey(first) + ".." + StressKey(first + n - 1) + ": " + e);
    }
  }
}

// A manual compaction of a random range (CompactRange), among everything else.
asio::awaitable<void> DoCompactRange(Context& ctx, Rng& rng) {
  const uint32_t keys = ctx.state.num_keys();
  const uint32_t a = Pick(rng, keys), b = Pick(rng, keys);
  const std::string begin = StressKey(std::min(a, b)), end = StressKey(std::max(a, b));
  const Slice begin_slice(begin), end_slice(end);
  if (Status s = co_await ctx.db.CompactRange(&begin_slice, &end_slice); !s.ok()) {
    Fail(ctx.flags, "CompactRange(" + begin + ", " + end + "): " + s.ToString());
  }
}

// Takes a snapshot and reads a range through it (checked as any read).
asio::awaitable<void> TakeSnapshot(Context& ctx, Rng& rng, HeldSnapshot* held) {
  const uint32_t keys = ctx.state.num_keys();
  const uint32_t n = 1 + Pick(rng, std::min<uint32_t>(32, keys));
  held->first = Pick(rng, keys - n + 1);
  const std::vector<KeyWord> before = LoadRange(ctx.state, held->first, n);
  held->snapshot = ctx.db.GetSnapshot();
  const std::vector<KeyWord> after = LoadRange(ctx.state, held->first, n);
  ReadOptions ro;
  ro.snapshot = held->snapshot.get();
  held->seen.assign(n, std::nullopt);
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t index = held->first + i;
    Result<std::string> got = co_await ctx.db.Get(ro, StressKey(index));
    if (!got.ok() && !got.status().IsNotFound()) {
      Fail(ctx.flags, "snapshot Get(" + StressKey(index) + "): " + got.status().ToString());
    }
    if (got.ok()) held->seen[i] = std::move(*got);
    const std::string* value = held->seen[i] ? &*held->seen[i] : nullptr;
    if (std::string e = CheckRead(index, before[i], after[i], value); !e.empty()) {
      Fail(ctx.flags, "snapshot Get: " + Describe(index, value) + ": " + e);
    }
  }
  held->ops_left = 5 + static_cast<int>(Pick(rng, 200));
}

// Reads the held snapshot's range again, with Gets and with an iterator in a
// random direction: the answers must be exactly the first ones, however many
// writes, flushes and compactions happened since. Then releases it.
asio::awaitable<void> RecheckSnapshot(Context& ctx, Rng& rng, HeldSnapshot* held) {
  ReadOptions ro;
  ro.snapshot = held->snapshot.get();
  ro.verify_checksums = Pick(rng, 2) == 0;
  const auto n = static_cast<uint32_t>(held->seen.size());
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t index = held->first + i;
    Result<std::string> got = co_await ctx.db.Get(ro, StressKey(index));
    if (!got.ok() && !got.status().IsNotFound()) {
      Fail(ctx.flags, "snapshot Get(" + StressKey(index) + "): " + got.status().ToString());
    }
    const std::optional<std::string> now = got.ok() ? std::optional<std::string>(*got) : std::nullopt;
    if (now != held->seen[i]) {
      Fail(ctx.flags, "snapshot Get changed: " + Describe(index, now ? &*now : nullptr) + ", was " +
                          Describe(index, held->seen[i] ? &*held->seen[i] : nullptr));
    }
  }
  std::vector<std::string> keys(n);
  std::vector<Slice> slices(n);
  for (uint32_t i = 0; i < n; ++i) {
    keys[i] = StressKey(held->first + i);
    slices[i] = keys[i];
  }
  const std::vector<Result<std::string>> multi = co_await ctx.db.MultiGet(ro, slices);
  for (uint32_t i = 0; i < n && i < multi.size(); ++i) {
    const std::optional<std::string> now = multi[i].ok() ? std::optional<std::string>(*multi[i]) : std::nullopt;
    if ((!multi[i].ok() && !multi[i].status().IsNotFound()) || now != held->seen[i]) {
      Fail(ctx.flags, "snapshot MultiGet: " + Describe(held->first + i, now ? &*now : nullptr) + " (" +
                          multi[i].status().ToString() + "), Get gave " +
                          Describe(held->first + i, held->seen[i] ? &*held->seen[i] : nullptr));
    }
  }
  if (multi.size() != n) Fail(ctx.flags, "snapshot MultiGet gave " + std::to_string(multi.size()) + " results");
  const bool forward = Pick(rng, 2) == 0;
  std::unique_ptr<Iterator> it = ctx.db.NewIterator(ro);
  std::vector<std::optional<std::string>> scanned;
  if (std::string e = co_await ScanRange(*it, held->first, n, forward, &scanned); !e.empty()) {
    Fail(ctx.flags, "snapshot scan: " + e);
  }
  for (uint32_t i = 0; i < n; ++i) {
    if (scanned[i] != held->seen[i]) {
      const uint32_t index = held->first + i;
      Fail(ctx.flags, std::string(forward ? "forward" : "backward") + " snapshot scan: " +
                          Describe(index, scanned[i] ? &*scanned[i] : nullptr) + ", Get gave " +
                          Describe(index, held->seen[i] ? &*held->seen[i] : nullptr));
    }
  }
  held->snapshot.reset();
  held->seen.clear();
}

}  // namespace

void MaybeKill(const Flags& flags, uint64_t random) {
  if (flags.kill_odds > 0 && random % flags.kill_odds == 0) ::kill(::getpid(), SIGKILL);
}

asio::awaitable<void> Worker(Context& ctx, uint32_t slot, uint64_t seed, uint64_t* thread_ops) {
  Rng rng(seed);
  const auto ex = co_await asio::this_coro::executor;
  HeldSnapshot held;
  while (!ctx.stop.load(std::memory_order_relaxed)) {
    if (ctx.flags.ops_per_thread > 0 && *thread_ops >= ctx.flags.ops_per_thread) break;
    ++*thread_ops;
    MaybeKill(ctx.flags, rng());
    const uint32_t dice = Pick(rng, 100);
    if (Pick(rng, 5000) == 0) {
      co_await DoCompactRange(ctx, rng);
    } else if (dice < 24) {
      co_await DoWrite(ctx, rng, slot, 0);  // put
    } else if (dice < 32) {
      co_await DoWrite(ctx, rng, slot, 1);  // delete
    } else if (dice < 42) {
      co_await DoWrite(ctx, rng, slot, 2);  // batch
    } else if (dice < 62) {
      co_await DoGet(ctx, rng);
    } else if (dice < 70) {
      co_await DoMultiGet(ctx, rng);
    } else if (dice < 88) {
      co_await DoScan(ctx, rng);
    } else if (!held.snapshot) {
      co_await TakeSnapshot(ctx, rng, &held);
    }
    if (held.snapshot && --held.ops_left <= 0) co_await RecheckSnapshot(ctx, rng, &held);
    ctx.ops.fetch_add(1, std::memory_order_relaxed);
    // Let the thread's other coroutines in (an operation served from memory
    // completes without suspending).
    co_await asio::post(ex, asio::use_awaitable);
  }
  if (held.snapshot) co_await RecheckSnapshot(ctx, rng, &held);
}

}  // namespace corodb::stress
