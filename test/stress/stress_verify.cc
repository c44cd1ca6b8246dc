// The whole-DB comparison with the expected state (at every start, after a
// crash, and at the end of a run).
#include <optional>
#include <vector>

#include "stress.h"

namespace corodb::stress {
namespace asio = boost::asio;

namespace {

using Found = std::vector<std::optional<std::string>>;

// Whether what the DB holds for key `index` is state `s`.
bool Holds(uint32_t index, const std::optional<std::string>& found, const KeyState& s) {
  if (!s.exists) return !found.has_value();
  uint32_t gen;
  return found.has_value() && ParseStressValue(index, *found, &gen) && gen == s.gen;
}

std::string Show(uint32_t index, const std::optional<std::string>& found) {
  return StressKey(index) + " = " + (found ? Printable(*found) : std::string("NotFound"));
}

// Scans the DB forward into `found`, then backward, which must give the same
// entries in reverse order.
asio::awaitable<std::string> ScanAll(DB& db, const ReadOptions& ro, Found* found) {
  const auto n = static_cast<uint32_t>(found->size());
  std::vector<uint32_t> order;
  {
    std::unique_ptr<Iterator> it = db.NewIterator(ro);
    for (co_await it->SeekToFirst(); it->Valid();) {
      uint32_t index;
      if (!ParseStressKey(it->key(), &index) || index >= n) {
        co_return "the DB holds key " + Printable(it->key()) + ", which this tool never writes";
      }
      if (!order.empty() && index <= order.back()) {
        co_return "forward scan: " + StressKey(index) + " after " + StressKey(order.back());
      }
      order.push_back(index);
      (*found)[index] = std::string(it->value());
      if (!it->TryNext()) co_await it->Next();
    }
    if (!it->status().ok()) co_return "forward scan: " + it->status().ToString();
  }
  std::unique_ptr<Iterator> it = db.NewIterator(ro);
  size_t at = order.size();
  for (co_await it->SeekToLast(); it->Valid();) {
    uint32_t index;
    if (at == 0 || !ParseStressKey(it->key(), &index) || index != order[at - 1] ||
        it->value() != *(*found)[index]) {
      co_return "backward scan: found " + Printable(it->key()) + " = " + Printable(it->value()) +
          ", forward scan had " + (at == 0 ? std::string("nothing") : Show(order[at - 1], (*found)[order[at - 1]]));
    }
    --at;
    if (!it->TryPrev()) co_await it->Prev();
  }
  if (!it->status().ok()) co_return "backward scan: " + it->status().ToString();
  if (at != 0) co_return "backward scan ended early, before " + StressKey(order[at - 1]);
  co_return "";
}

}  // namespace

asio::awaitable<std::string> VerifyDb(DB& db, ExpectedState& state, bool after_crash,
                                      VerifyReport* report) {
  const uint32_t n = state.num_keys();
  ReadOptions ro;
  ro.verify_checksums = true;
  Found found(n);
  if (std::string e = co_await ScanAll(db, ro, &found); !e.empty()) co_return e;
  for (uint32_t i = 0; i < n; ++i) {
    Result<std::string> got = co_await db.Get(ro, StressKey(i));
    if (!got.ok() && !got.status().IsNotFound()) co_return "Get(" + StressKey(i) + "): " + got.status().ToString();
    const std::optional<std::string> value = got.ok() ? std::optional<std::string>(*got) : std::nullopt;
    if (value != found[i]) co_return "Get gives " + Show(i, value) + ", the scans " + Show(i, found[i]);
  }

  *report = VerifyReport{};
  for (uint32_t i = 0; i < n; ++i) {
    const KeyWord w = state.Load(i);
    uint32_t gen;
    if (found[i] && !ParseStressValue(i, *found[i], &gen)) {
      co_return Show(i, found[i]) + ": not a value this tool writes for the key";
    }
    report->present += found[i] ? 1 : 0;
    if (!w.pending) {
      if (!Holds(i, found[i], w.committed)) {
        co_return Show(i, found[i]) + ": expected " + w.ToString() + " (an acknowledged write lost or wrong)";
      }
      continue;
    }
    if (!after_crash) co_return StressKey(i) + ": a write still pending after the run: " + w.ToString();
    ++report->pending;
    if (!Holds(i, found[i], w.committed) && !Holds(i, found[i], w.pending_state)) {
      co_return Show(i, found[i]) + ": expected " + w.ToString() + " (either)";
    }
  }

  // Batches in flight: all of a batch or nothing; all of it once acknowledged.
  for (uint32_t s = 0; s < ExpectedState::kSlots; ++s) {
    Slot& slot = state.slot(s);
    const uint32_t count = slot.count.load(std::memory_order_acquire);
    if (count == 0) continue;
    if (!after_crash) co_return "batch slot " + std::to_string(s) + " still in use after the run";
    if (count > kMaxBatchKeys) co_return "batch slot " + std::to_string(s) + " is damaged";
    const bool acked = slot.acked.load(std::memory_order_acquire) != 0;
    std::string landed, missing;  // keys of the batch only its new / old state explains
    for (uint32_t e = 0; e < count; ++e) {
      const uint32_t key = slot.entries[e].key.load(std::memory_order_relaxed);
      if (key >= n) co_return "batch slot " + std::to_string(s) + " is damaged";
      const KeyState mine{slot.entries[e].gen.load(std::memory_order_relaxed),
                          slot.entries[e].exists.load(std::memory_order_relaxed) != 0};
      const bool is_new = Holds(key, found[key], mine);
      const bool is_old = Holds(key, found[key], state.Load(key).committed);
      if (acked && !is_new) {
        co_return "acknowledged batch lost its update of " + Show(key, found[key]) +
            " (generation " + std::to_string(mine.gen) + ")";
      }
      if (is_new && !is_old) landed += " " + StressKey(key);
      if (is_old && !is_new) missing += " " + StressKey(key);
    }
    if (!landed.empty() && !missing.empty()) {
      co_return "batch torn by the crash: updates of" + landed + " are there, of" + missing + " not";
    }
    ++report->batches;
  }

  // Settle: the DB's state becomes the committed one.
  for (uint32_t i = 0; i < n; ++i) {
    KeyWord w = state.Load(i);
    if (!w.pending) continue;
    if (Holds(i, found[i], w.pending_state)) {
      w.committed = w.pending_state;
      ++report->landed;
    }
    w.pending = false;
    state.Store(i, w);
  }
  for (uint32_t s = 0; s < ExpectedState::kSlots; ++s) {
    state.slot(s).count.store(0, std::memory_order_relaxed);
    state.slot(s).acked.store(0, std::memory_order_relaxed);
  }
  co_return "";
}

}  // namespace corodb::stress
