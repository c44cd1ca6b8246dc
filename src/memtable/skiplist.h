// SkipList: the ordered set under the memtable, allocated from an Arena.
//
// Invariants / thread safety:
// - Writes (Insert) need external synchronisation: one writer at a time (the
//   engine executor's commit loop). Readers (Contains, Iterator) need none and
//   may run on any thread concurrently with that writer.
// - Nodes are never deleted while the list lives; their memory belongs to the
//   arena, which must outlive the list. A key is immutable once inserted.
// - A node becomes visible to readers only through a release store of the
//   link that points at it, after its key (and an inline key's bytes) and its
//   links are written; readers load links with acquire. So a reader that
//   reaches a node sees it whole.
// - Level 0 links every node in key order; level i > 0 links a subset of
//   level i-1. max_height_ only grows; a reader that sees a new height before
//   the head's links at that level finds nullptr there, which is harmless.
// - Equal keys are never inserted (the memtable's keys carry a unique
//   sequence number).
#pragma once

#include <atomic>
#include <cassert>
#include <cstddef>
#include <new>

#include "util/arena.h"
#include "util/random.h"

namespace corodb {

// `Key` is cheap to copy (the memtable uses const char*). `Comparator` is a
// copyable functor: int operator()(const Key&, const Key&) -> <0, 0, >0.
template <typename Key, class Comparator>
class SkipList {
 private:
  struct Node;

 public:
  // `arena` must outlive the list and every iterator over it.
  SkipList(Comparator cmp, Arena* arena);
  SkipList(const SkipList&) = delete;
  SkipList& operator=(const SkipList&) = delete;

  // Inserts `key`. REQUIRES: no equal key is in the list; one writer at a time.
  void Insert(const Key& key);

  // Inserts a key whose bytes live in its node: `payload_bytes` are allocated
  // right after the node's links, `fill(char* payload)` writes them and
  // returns the key (pointing into them). A search then finds a node's key
  // in, or next to, the cache line it loaded for the node's links, instead
  // of in a separate allocation. REQUIRES: as Insert; `fill` does not touch
  // the list.
  template <class Fill>
  void InsertInline(size_t payload_bytes, Fill fill);

  // True when a key equal to `key` is in the list. Any thread.
  bool Contains(const Key& key) const;

  // Iterates the list in order. Any thread; sees every key inserted before it
  // was positioned and possibly some inserted later. The list must outlive it.
  class Iterator {
   public:
    explicit Iterator(const SkipList* list) : list_(list) {}

    bool Valid() const { return node_ != nullptr; }
    // REQUIRES: Valid().
    const Key& key() const {
      assert(Valid());
      return node_->key;
    }
    // REQUIRES: Valid().
    void Next() {
      assert(Valid());
      node_ = node_->Next(0);
    }
    // REQUIRES: Valid(). Costs a search from the head (no back links).
    void Prev() {
      assert(Valid());
      node_ = list_->FindLessThan(node_->key);
      if (node_ == list_->head_) node_ = nullptr;
    }
    // Positions at the first key >= target.
    void Seek(const Key& target) { node_ = list_->FindGreaterOrEqual(target, nullptr); }
    void SeekToFirst() { node_ = list_->head_->Next(0); }
    void SeekToLast() {
      node_ = list_->FindLast();
      if (node_ == list_->head_) node_ = nullptr;
    }

   private:
    const SkipList* list_;
    Node* node_ = nullptr;
  };

 private:
  static constexpr int kMaxHeight = 12;
  // Probability 1/kBranching of growing a tower by one level.
  static constexpr unsigned kBranching = 4;

  int GetMaxHeight() const { return max_height_.load(std::memory_order_relaxed); }
  Node* NewNode(const Key& key, int height);
  // Links `node` (of `height` levels, not yet reachable) in key order.
  void Link(Node* node, int height);
  int RandomHeight();
  bool Equal(const Key& a, const Key& b) const { return compare_(a, b) == 0; }
  // True when `key` sorts after the key of `n` (nullptr is +infinity).
  bool KeyIsAfterNode(const Key& key, const Node* n) const {
    return n != nullptr && compare_(n->key, key) < 0;
  }
  // First node >= key, or nullptr. Fills prev[level] with the last node
  // < key at each level when `prev` is not null.
  Node* FindGreaterOrEqual(const Key& key, Node** prev) const;
  // Last node < key, or head_.
  Node* FindLessThan(const Key& key) const;
  // Last node, or head_ when empty.
  Node* FindLast() const;

  Comparator const compare_;
  Arena* const arena_;
  Node* const head_;
  std::atomic<int> max_height_{1};
  Random rnd_;  // writer only
};

// A node is the key followed in memory by `height` atomic links.
template <typename Key, class Comparator>
struct alignas(alignof(std::atomic<void*>)) SkipList<Key, Comparator>::Node {
  explicit Node(const Key& k) : key(k) {}

  Key const key;

  std::atomic<Node*>* links() { return reinterpret_cast<std::atomic<Node*>*>(this + 1); }

  Node* Next(int level) { return links()[level].load(std::memory_order_acquire); }
  void SetNext(int level, Node* n) { links()[level].store(n, std::memory_order_release); }
  // For a node not yet published to readers.
  Node* NextRelaxed(int level) { return links()[level].load(std::memory_order_relaxed); }
  void SetNextRelaxed(int level, Node* n) {
    links()[level].store(n, std::memory_order_relaxed);
  }
};

template <typename Key, class Comparator>
SkipList<Key, Comparator>::SkipList(Comparator cmp, Arena* arena)
    : compare_(cmp), arena_(arena), head_(NewNode(Key(), kMaxHeight)), rnd_(0xdeadbeef) {
  for (int i = 0; i < kMaxHeight; ++i) head_->SetNextRelaxed(i, nullptr);
}

template <typename Key, class Comparator>
typename SkipList<Key, Comparator>::Node* SkipList<Key, Comparator>::NewNode(
    const Key& key, int height) {
  static_assert(sizeof(Node) % alignof(std::atomic<Node*>) == 0);
  char* mem = arena_->AllocateAligned(sizeof(Node) + sizeof(std::atomic<Node*>) * height);
  Node* node = new (mem) Node(key);
  for (int i = 0; i < height; ++i) new (&node->links()[i]) std::atomic<Node*>(nullptr);
  return node;
}

template <typename Key, class Comparator>
template <class Fill>
void SkipList<Key, Comparator>::InsertInline(size_t payload_bytes, Fill fill) {
  const int height = RandomHeight();
  const size_t node_bytes = sizeof(Node) + sizeof(std::atomic<Node*>) * height;
  char* mem = arena_->AllocateAligned(node_bytes + payload_bytes);
  const Key key = fill(mem + node_bytes);
  Node* node = new (mem) Node(key);
  for (int i = 0; i < height; ++i) new (&node->links()[i]) std::atomic<Node*>(nullptr);
  Link(node, height);
}

template <typename Key, class Comparator>
int SkipList<Key, Comparator>::RandomHeight() {
  int height = 1;
  while (height < kMaxHeight && rnd_.OneIn(kBranching)) ++height;
  return height;
}

template <typename Key, class Comparator>
typename SkipList<Key, Comparator>::Node* SkipList<Key, Comparator>::FindGreaterOrEqual(
    const Key& key, Node** prev) const {
  Node* x = head_;
  int level = GetMaxHeight() - 1;
  for (;;) {
    Node* next = x->Next(level);
    if (KeyIsAfterNode(key, next)) {
      x = next;
      continue;
    }
    if (prev != nullptr) prev[level] = x;
    if (level == 0) return next;
    --level;
  }
}

template <typename Key, class Comparator>
typename SkipList<Key, Comparator>::Node* SkipList<Key, Comparator>::FindLessThan(
    const Key& key) const {
  Node* x = head_;
  int level = GetMaxHeight() - 1;
  for (;;) {
    Node* next = x->Next(level);
    if (next != nullptr && compare_(next->key, key) < 0) {
      x = next;
      continue;
    }
    if (level == 0) return x;
    --level;
  }
}

template <typename Key, class Comparator>
typename SkipList<Key, Comparator>::Node* SkipList<Key, Comparator>::FindLast() const {
  Node* x = head_;
  int level = GetMaxHeight() - 1;
  for (;;) {
    Node* next = x->Next(level);
    if (next != nullptr) {
      x = next;
      continue;
    }
    if (level == 0) return x;
    --level;
  }
}

template <typename Key, class Comparator>
void SkipList<Key, Comparator>::Insert(const Key& key) {
  const int height = RandomHeight();
  Link(NewNode(key, height), height);
}

template <typename Key, class Comparator>
void SkipList<Key, Comparator>::Link(Node* node, int height) {
  Node* prev[kMaxHeight];
  Node* next = FindGreaterOrEqual(node->key, prev);
  assert(next == nullptr || !Equal(node->key, next->key));
  (void)next;

  const int max_height = GetMaxHeight();
  if (height > max_height) {
    for (int i = max_height; i < height; ++i) prev[i] = head_;
    // Readers seeing the new height early find nullptr links at the head.
    max_height_.store(height, std::memory_order_relaxed);
  }

  for (int i = 0; i < height; ++i) {
    // The new node is unpublished: its own links need no ordering; the
    // release store into prev[i] publishes it (and them) to readers.
    node->SetNextRelaxed(i, prev[i]->NextRelaxed(i));
    prev[i]->SetNext(i, node);
  }
}

template <typename Key, class Comparator>
bool SkipList<Key, Comparator>::Contains(const Key& key) const {
  Node* x = FindGreaterOrEqual(key, nullptr);
  return x != nullptr && Equal(key, x->key);
}

}  // namespace corodb
