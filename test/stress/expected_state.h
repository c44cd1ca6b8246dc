// ExpectedState: what the stress tool's database may hold, kept in a file
// outside the process (mapped MAP_SHARED), so it survives the process being
// SIGKILLed and the next process — or `corodb-stress --verify_only` — can
// compare the reopened database with it.
//
// Per key, one 64-bit word:
//   bits  0..29  committed generation     bit 30  committed: a value exists
//   bits 32..61  pending generation       bit 62  pending: a value exists
//   bit  63      a write is pending
// Generation g of key k is the g-th write of k since the file was created
// (a put, whose value is StressValue(k, g), or a delete). Generation 0,
// absent, is the initial state.
//
// The write protocol (stress.cc): before a write is issued, the key is
// marked "pending generation g"; once the DB acknowledged it, the pending
// state becomes the committed one. A reader that loaded the word before and
// after its read accepts the generations in between (KeyWindow). After a
// crash a key whose write was in flight may hold either state.
//
// Batches of several keys also fill a *slot* (one per writing coroutine)
// with their keys and new states before the words are marked, and set the
// slot's `acked` flag before committing them: after a crash, the keys of one
// batch must all be old or all new (atomicity), and all new once acked.
//
// Thread safety: words and slot fields are std::atomic in the mapping (lock
// free, address free). Only one coroutine writes a key at a time (the
// tool's in-process key locks); only one process uses the file at a time
// (the DB's LOCK is taken first). Stores reach the page cache at once, which
// is all a SIGKILL needs; nothing here survives a power cut (not needed).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace corodb::stress {

// One key's state: a generation and whether a value exists then.
struct KeyState {
  uint32_t gen = 0;
  bool exists = false;
  bool operator==(const KeyState&) const = default;
};

// A decoded state word.
struct KeyWord {
  KeyState committed;
  bool pending = false;
  KeyState pending_state;

  static KeyWord Decode(uint64_t word);
  uint64_t Encode() const;
  // The generation the next write of this key gets.
  uint32_t NextGen() const {
    return (pending && pending_state.gen > committed.gen ? pending_state.gen : committed.gen) + 1;
  }
  std::string ToString() const;
};

constexpr uint32_t kMaxGen = (1u << 30) - 1;
constexpr int kMaxBatchKeys = 8;

struct SlotEntry {
  std::atomic<uint32_t> key;
  std::atomic<uint32_t> gen;
  std::atomic<uint32_t> exists;
  std::atomic<uint32_t> unused;
};

// The batch a coroutine has in flight (count == 0: none).
struct Slot {
  std::atomic<uint32_t> count;
  std::atomic<uint32_t> acked;  // the DB acknowledged the batch
  SlotEntry entries[kMaxBatchKeys];
};

// Counters the running tool publishes (a killed run's last values stay).
struct RunCounters {
  std::atomic<uint64_t> ops;
  std::atomic<uint64_t> flushes;
  std::atomic<uint64_t> compactions;
  std::atomic<uint64_t> trivial_moves;
};

class ExpectedState {
 public:
  static constexpr uint32_t kSlots = 4096;

  ExpectedState() = default;
  ExpectedState(const ExpectedState&) = delete;
  ExpectedState& operator=(const ExpectedState&) = delete;
  ~ExpectedState();

  // Maps `path`, creating it (every key absent, generation 0) when missing.
  // Returns "" or what went wrong (a file made for another key count).
  std::string Open(const std::string& path, uint32_t num_keys);

  uint32_t num_keys() const { return num_keys_; }
  std::atomic<uint64_t>& word(uint32_t key) { return words_[key]; }
  KeyWord Load(uint32_t key) const { return KeyWord::Decode(words_[key].load(std::memory_order_acquire)); }
  void Store(uint32_t key, const KeyWord& w) { words_[key].store(w.Encode(), std::memory_order_release); }
  Slot& slot(uint32_t i) { return slots_[i]; }
  RunCounters& counters() { return header_->counters; }

 private:
  struct Header {
    uint64_t magic;
    uint32_t num_keys;
    uint32_t num_slots;
    RunCounters counters;
  };

  void* map_ = nullptr;
  size_t map_size_ = 0;
  Header* header_ = nullptr;
  Slot* slots_ = nullptr;
  std::atomic<uint64_t>* words_ = nullptr;
  uint32_t num_keys_ = 0;
};

// Key `index` as bytes: fixed width, so key order is index order.
std::string StressKey(uint32_t index);
// The index of a key StressKey made; false for any other bytes.
bool ParseStressKey(std::string_view key, uint32_t* index);
// The value generation `gen` of key `index` puts: it names both, so a value
// read for the wrong key or generation is caught; 0..~2 KB of filler from a
// hash of both (some of it incompressible).
std::string StressValue(uint32_t index, uint32_t gen);
// The generation of a value StressValue(index, gen) made for key `index`;
// false when the value is not exactly such a value.
bool ParseStressValue(uint32_t index, std::string_view value, uint32_t* gen);

// Whether a read of key `index` that returned `value` (nullptr: NotFound)
// is allowed, given the key's state word loaded before the read started
// (`before`) and after it ended (`after`): "" or why not.
std::string CheckRead(uint32_t index, const KeyWord& before, const KeyWord& after,
                      const std::string* value);

// `bytes` made printable (escaped, cut at 80 characters), for messages.
std::string Printable(std::string_view bytes);

}  // namespace corodb::stress
