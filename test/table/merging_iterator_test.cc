// The merging iterator: random walks against a sorted model over in-memory
// children and over real tables, equal keys in child order, direction
// switches, child errors, and the fast paths.
#include "table/merging_iterator.h"

#include <algorithm>

#include <boost/test/unit_test.hpp>

#include "iterator_test_util.h"
#include "support/backends.h"
#include "support/run.h"
#include "support/temp_dir.h"
#include "table/block_cache.h"
#include "table/table.h"
#include "table_test_util.h"

namespace corodb::table {
namespace {

namespace asio = boost::asio;
using testing::ModelEntry;
using testing::ModelSeq;
using testing::VectorIterator;

// Sorts model entries into merged order: by key, then by source.
void SortMerged(const Comparator* cmp, ModelSeq* model) {
  std::stable_sort(model->begin(), model->end(), [cmp](const ModelEntry& a, const ModelEntry& b) {
    const int c = cmp->Compare(a.key, b.key);
    return c < 0 || (c == 0 && a.source < b.source);
  });
}

struct Children {
  std::vector<VectorIterator::Entries> runs;
  std::vector<size_t> blocks;
  ModelSeq model;
};

// `k` sorted runs of random small-alphabet keys (some empty, many keys shared
// between runs), each with a random fast-path block length.
Children RandomChildren(Random* rnd, size_t k) {
  Children c;
  for (uint32_t i = 0; i < k; ++i) {
    const size_t want = rnd->OneIn(4) ? 0 : rnd->Uniform(150);
    std::vector<std::string> keys;
    for (size_t j = 0; j < want; ++j) keys.push_back(testing::SmallAlphabetKey(rnd, 6));
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    VectorIterator::Entries run;
    for (size_t j = 0; j < keys.size(); ++j) {
      std::string value = "child" + std::to_string(i) + "/" + std::to_string(j);
      run.emplace_back(keys[j], value);
      c.model.push_back({keys[j], value, i, j});
    }
    c.runs.push_back(std::move(run));
    c.blocks.push_back(1 + rnd->Uniform(6));
  }
  SortMerged(BytewiseComparator(), &c.model);
  return c;
}

std::unique_ptr<AsyncIterator> Merge(const Children& c, ptrdiff_t fail_child = -1,
                                     ptrdiff_t fail_at = -1) {
  std::vector<std::unique_ptr<AsyncIterator>> children;
  for (size_t i = 0; i < c.runs.size(); ++i) {
    children.push_back(std::make_unique<VectorIterator>(
        BytewiseComparator(), c.runs[i], c.blocks[i],
        static_cast<ptrdiff_t>(i) == fail_child ? fail_at : -1));
  }
  return NewMergingIterator(BytewiseComparator(), std::move(children));
}

std::string RandomTarget(Random* rnd) { return testing::SmallAlphabetKey(rnd, 7); }

// Collects every key, walking forward from `first` or backward from the end.
asio::awaitable<std::vector<std::string>> Scan(AsyncIterator* it, bool forward) {
  std::vector<std::string> out;
  if (forward) {
    for (co_await it->SeekToFirst(); it->Valid(); co_await it->Next()) out.emplace_back(it->value());
  } else {
    for (co_await it->SeekToLast(); it->Valid(); co_await it->Prev()) out.emplace_back(it->value());
  }
  co_return out;
}

BOOST_AUTO_TEST_SUITE(MergingIteratorTest)

BOOST_AUTO_TEST_CASE(RandomWalksAgreeWithModel) {
  testing::WalkStats total;
  for (size_t k : {0u, 1u, 2u, 3u, 5u, 8u, 17u}) {
    for (uint32_t seed = 1; seed <= 12; ++seed) {
      BOOST_TEST_CONTEXT("children " << k << " seed " << seed) {
        Random rnd(seed * 1000 + static_cast<uint32_t>(k));
        const Children c = RandomChildren(&rnd, k);
        std::unique_ptr<AsyncIterator> it = Merge(c);
        // The fast path moves exactly when it may: the merged iterator goes
        // on in its direction and the child in front can move without I/O.
        auto expect = [&](const testing::FastStep& s) {
          const ModelEntry& e = c.model[static_cast<size_t>(s.from)];
          const bool child_may = s.next ? VectorIterator::TryNextAllowed(e.pos, c.blocks[e.source])
                                        : VectorIterator::TryPrevAllowed(e.pos, c.blocks[e.source]);
          const bool same_direction = k == 1 || s.next == s.last_forward;
          BOOST_REQUIRE_EQUAL(s.moved, child_may && same_direction);
        };
        const testing::WalkStats stats = test::Run(testing::RandomWalk(
            it.get(), &c.model, BytewiseComparator(), RandomTarget, expect, seed, 1500));
        total.fast_moves += stats.fast_moves;
        total.fast_refusals += stats.fast_refusals;
        total.steps += stats.steps;
      }
    }
  }
  BOOST_TEST(total.steps > 50000);
  BOOST_TEST(total.fast_moves > 10000);
  BOOST_TEST(total.fast_refusals > 10000);
}

BOOST_AUTO_TEST_CASE(EqualKeysComeInChildOrderInBothDirections) {
  Children c;
  c.runs = {{{"a", "a0"}, {"b", "b0"}, {"c", "c0"}},
            {{"b", "b1"}, {"c", "c1"}, {"d", "d1"}},
            {},
            {{"b", "b3"}}};
  c.blocks = {1, 1, 1, 1};
  std::unique_ptr<AsyncIterator> it = Merge(c);
  const std::vector<std::string> forward = {"a0", "b0", "b1", "b3", "c0", "c1", "d1"};
  BOOST_TEST(test::Run(Scan(it.get(), true)) == forward);
  std::vector<std::string> backward(forward.rbegin(), forward.rend());
  BOOST_TEST(test::Run(Scan(it.get(), false)) == backward);

  // Direction switches between equal keys.
  test::Run([](AsyncIterator* it) -> asio::awaitable<int> {
    co_await it->Seek("b");
    BOOST_REQUIRE(it->value() == "b0");
    co_await it->Next();
    BOOST_REQUIRE(it->value() == "b1");
    co_await it->Prev();
    BOOST_REQUIRE(it->value() == "b0");
    co_await it->Next();
    co_await it->Next();
    BOOST_REQUIRE(it->value() == "b3");
    co_await it->Prev();
    BOOST_REQUIRE(it->value() == "b1");
    co_await it->Prev();
    co_await it->Prev();
    BOOST_REQUIRE(it->value() == "a0");
    co_await it->Next();
    BOOST_REQUIRE(it->value() == "b0");
    co_await it->SeekToLast();
    co_await it->Prev();
    BOOST_REQUIRE(it->value() == "c1");
    co_await it->Next();
    BOOST_REQUIRE(it->value() == "d1");
    co_await it->Next();
    BOOST_REQUIRE(!it->Valid());
    BOOST_REQUIRE(it->status().ok());
    co_return 0;
  }(it.get()));
}

BOOST_AUTO_TEST_CASE(FastPathRefusesADirectionSwitchAndLeavesEverythingInPlace) {
  Children c;
  c.runs = {{{"a", "a0"}, {"c", "c0"}, {"e", "e0"}}, {{"b", "b1"}, {"d", "d1"}}};
  c.blocks = {100, 100};  // the children's own fast paths always work
  std::unique_ptr<AsyncIterator> it = Merge(c);
  test::Run([](AsyncIterator* it) -> asio::awaitable<int> {
    co_await it->SeekToFirst();
    std::string seen;
    while (it->Valid()) {
      seen += it->value();
      BOOST_REQUIRE(it->TryNext());  // even off the end: the child may move there
    }
    BOOST_REQUIRE(seen == "a0b1c0d1e0");
    BOOST_REQUIRE(it->status().ok());
    co_await it->Seek("c");
    BOOST_REQUIRE(!it->TryPrev());  // needs the other child repositioned
    BOOST_REQUIRE(it->value() == "c0");
    BOOST_REQUIRE(it->TryNext());
    BOOST_REQUIRE(it->value() == "d1");
    co_await it->Prev();
    BOOST_REQUIRE(it->value() == "c0");
    BOOST_REQUIRE(!it->TryNext());
    BOOST_REQUIRE(it->value() == "c0");
    BOOST_REQUIRE(it->TryPrev());
    BOOST_REQUIRE(it->value() == "b1");
    co_return 0;
  }(it.get()));
}

BOOST_AUTO_TEST_CASE(NoChildrenIsAlwaysInvalid) {
  std::unique_ptr<AsyncIterator> it = NewMergingIterator(BytewiseComparator(), {});
  BOOST_TEST(test::Run(Scan(it.get(), true)).empty());
  BOOST_TEST(test::Run(Scan(it.get(), false)).empty());
  test::Run([](AsyncIterator* it) -> asio::awaitable<int> {
    co_await it->Seek("x");
    co_return 0;
  }(it.get()));
  BOOST_TEST(!it->Valid());
  BOOST_TEST(it->status().ok());
}

// A child that fails while the merge passes through it: the merge stops
// right there (it never skips the failed child's entries) and reports the
// child's error; a new Seek*() starts over.
BOOST_AUTO_TEST_CASE(ChildErrorEndsIterationWithItsStatus) {
  for (uint32_t seed = 1; seed <= 30; ++seed) {
    BOOST_TEST_CONTEXT("seed " << seed) {
      Random rnd(seed);
      Children c = RandomChildren(&rnd, 2 + rnd.Uniform(5));
      const uint32_t bad = rnd.Uniform(static_cast<uint32_t>(c.runs.size()));
      c.runs[bad].emplace_back("zzzzzzzz", "last of bad child");  // never empty
      c.model.push_back({"zzzzzzzz", "last of bad child", bad, c.runs[bad].size() - 1});
      SortMerged(BytewiseComparator(), &c.model);
      const auto fail_at = static_cast<ptrdiff_t>(rnd.Uniform(static_cast<uint32_t>(c.runs[bad].size())));
      std::unique_ptr<AsyncIterator> it = Merge(c, bad, fail_at);

      // Forward: the bad child lands on its failing entry when the merge
      // steps past the entry before it, so the merge yields everything up to
      // that one, in order.
      std::vector<std::string> expected;
      if (fail_at > 0) {
        for (const ModelEntry& e : c.model) {
          expected.push_back(e.value);
          if (e.source == bad && static_cast<ptrdiff_t>(e.pos) == fail_at - 1) break;
        }
      }
      std::vector<std::string> got = test::Run(Scan(it.get(), true));
      BOOST_TEST(got == expected);
      BOOST_TEST(!it->Valid());
      BOOST_TEST(it->status().IsIOError(), it->status().ToString());

      // Backward: from the end down to the bad child's entry after it.
      expected.clear();
      if (fail_at + 1 < static_cast<ptrdiff_t>(c.runs[bad].size())) {
        for (auto e = c.model.rbegin(); e != c.model.rend(); ++e) {
          expected.push_back(e->value);
          if (e->source == bad && static_cast<ptrdiff_t>(e->pos) == fail_at + 1) break;
        }
      }
      got = test::Run(Scan(it.get(), false));
      BOOST_TEST(got == expected);
      BOOST_TEST(it->status().IsIOError(), it->status().ToString());

      // A seek that lands past the failing entry clears the error.
      test::Run([](AsyncIterator* it) -> asio::awaitable<int> {
        co_await it->Seek("zzzzzzzz");
        co_return 0;
      }(it.get()));
      if (fail_at != static_cast<ptrdiff_t>(c.runs[bad].size()) - 1) {
        BOOST_TEST(it->Valid());
        BOOST_TEST(it->status().ok(), it->status().ToString());
        BOOST_TEST(it->key() == "zzzzzzzz");
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(ChildErrorOnADirectionSwitchIsReported) {
  Children c;
  c.runs = {{{"a", "a0"}, {"c", "c0"}, {"e", "e0"}}, {{"b", "b1"}, {"d", "d1"}}};
  c.blocks = {1, 1};
  std::vector<std::unique_ptr<AsyncIterator>> children;
  children.push_back(std::make_unique<VectorIterator>(BytewiseComparator(), c.runs[0], 1));
  // Child 1 fails when it lands on "b" — which only a reverse repositioning does here.
  children.push_back(std::make_unique<VectorIterator>(BytewiseComparator(), c.runs[1], 1, 0));
  std::unique_ptr<AsyncIterator> it = NewMergingIterator(BytewiseComparator(), std::move(children));
  test::Run([](AsyncIterator* it) -> asio::awaitable<int> {
    co_await it->Seek("c");
    BOOST_REQUIRE(it->Valid());
    BOOST_REQUIRE(it->value() == "c0");
    co_await it->Prev();
    BOOST_REQUIRE(!it->Valid());
    BOOST_REQUIRE(it->status().IsIOError());
    co_return 0;
  }(it.get()));
}

// Children that are TableIterators over real tables with tiny blocks and a
// cold block cache: their fast paths fail at every block boundary and their
// awaited moves read blocks.
struct TableFixture {
  test::TempDir dir{"merging-iterator"};
  io::FileSystem fs{test::MakeBackendByName(test::BackendNames().front())};
  InternalKeyComparator icmp{BytewiseComparator()};
};

BOOST_FIXTURE_TEST_CASE(RandomWalksOverRealTablesAgreeWithModel, TableFixture) {
  Random rnd(2025);
  TableOptions o;
  o.comparator = &icmp;
  o.internal_keys = true;
  o.block_size = 96;
  o.compression = CompressionType::kSnappyCompression;
  std::unique_ptr<BlockCache> cache = NewBlockCache(8 << 20);
  o.block_cache = cache.get();

  constexpr uint32_t kTables = 6;
  std::vector<std::unique_ptr<Table>> tables;
  ModelSeq model;
  SequenceNumber seq = 1;
  for (uint32_t t = 0; t < kTables; ++t) {
    testing::Model m(testing::ComparatorLess{&icmp});
    const size_t n = t == 2 ? 0 : 50 + rnd.Uniform(400);  // table 2 is empty
    while (m.size() < n) m[testing::IKey(testing::SmallAlphabetKey(&rnd, 8), seq++)] = testing::RandomBytes(&rnd, rnd.Uniform(40));
    const std::string path = dir.Child(std::to_string(t) + ".ldb");
    Result<uint64_t> size = test::Run(testing::WriteTable(&fs, path, o, &m));
    BOOST_REQUIRE(size.ok());
    Result<std::unique_ptr<io::File>> file = fs.Open(path, io::OpenMode::kRead);
    BOOST_REQUIRE(file.ok());
    Result<std::unique_ptr<Table>> table = test::Run(Table::Open(o, std::move(*file), *size));
    BOOST_REQUIRE_MESSAGE(table.ok(), table.status().ToString());
    tables.push_back(std::move(*table));
    size_t j = 0;
    for (const auto& [k, v] : m) model.push_back({k, v, t, j++});
  }
  SortMerged(&icmp, &model);

  std::vector<std::unique_ptr<AsyncIterator>> children;
  for (const auto& t : tables) children.push_back(t->NewIterator(ReadOptions()));
  std::unique_ptr<AsyncIterator> it = NewMergingIterator(&icmp, std::move(children));
  auto target = [](Random* r) {
    return testing::IKey(testing::SmallAlphabetKey(r, 9), r->Uniform(3000));
  };
  // A fast move never switches direction; within a direction it may fail
  // (a block boundary) or succeed.
  auto expect = [](const testing::FastStep& s) {
    if (s.next != s.last_forward) BOOST_REQUIRE(!s.moved);
  };
  const testing::WalkStats stats =
      test::Run(testing::RandomWalk(it.get(), &model, &icmp, target, expect, 7, 20000));
  BOOST_TEST(stats.fast_moves > 1000);
  BOOST_TEST(stats.fast_refusals > 1000);
  uint64_t reads = 0;
  for (const auto& t : tables) reads += t->block_reads();
  BOOST_TEST(reads > 0u);

  // A full scan with the fast path first yields the whole model.
  const size_t scanned = test::Run([](AsyncIterator* it) -> asio::awaitable<size_t> {
    size_t n = 0;
    for (co_await it->SeekToFirst(); it->Valid(); ++n) {
      if (!it->TryNext()) co_await it->Next();
    }
    BOOST_REQUIRE(it->status().ok());
    co_return n;
  }(it.get()));
  BOOST_TEST(scanned == model.size());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::table
