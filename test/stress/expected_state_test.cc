// The stress tool's own checks: the state words, the values, and the rule
// that decides whether a read is allowed (CheckRead) — a stress run that
// passes proves nothing unless these reject what they must.
#include <boost/test/unit_test.hpp>

#include "expected_state.h"
#include "support/temp_dir.h"

namespace corodb::stress {
namespace {

KeyWord Committed(uint32_t gen, bool exists) {
  KeyWord w;
  w.committed = {gen, exists};
  return w;
}

KeyWord Pending(KeyWord w, uint32_t gen, bool exists) {
  w.pending = true;
  w.pending_state = {gen, exists};
  return w;
}

BOOST_AUTO_TEST_SUITE(ExpectedStateTest)

BOOST_AUTO_TEST_CASE(WordsRoundTrip) {
  const KeyWord w = Pending(Committed(kMaxGen - 1, true), kMaxGen, false);
  const KeyWord back = KeyWord::Decode(w.Encode());
  BOOST_TEST(back.committed.gen == kMaxGen - 1);
  BOOST_TEST(back.committed.exists);
  BOOST_TEST(back.pending);
  BOOST_TEST(back.pending_state.gen == kMaxGen);
  BOOST_TEST(!back.pending_state.exists);
  BOOST_TEST(KeyWord::Decode(0).NextGen() == 1u);
  BOOST_TEST(back.NextGen() == kMaxGen + 1);
}

BOOST_AUTO_TEST_CASE(ValuesNameTheirKeyAndGeneration) {
  uint32_t gen = 0;
  const std::string v = StressValue(17, 5);
  BOOST_TEST(ParseStressValue(17, v, &gen));
  BOOST_TEST(gen == 5u);
  BOOST_TEST(!ParseStressValue(18, v, &gen));                 // another key's value
  BOOST_TEST(!ParseStressValue(17, StressValue(17, 5) + "x", &gen));
  std::string damaged = v;
  damaged.back() ^= 1;
  BOOST_TEST(!ParseStressValue(17, damaged, &gen));
  BOOST_TEST(!ParseStressValue(17, "", &gen));
  uint32_t index = 0;
  BOOST_TEST(ParseStressKey(StressKey(1234), &index));
  BOOST_TEST(index == 1234u);
  BOOST_TEST(!ParseStressKey("key0000123", &index));
  BOOST_TEST(StressKey(9) < StressKey(10));
}

BOOST_AUTO_TEST_CASE(ReadMustSeeWhatWasCommittedBeforeIt) {
  const KeyWord w = Committed(3, true);
  const std::string v3 = StressValue(1, 3), v2 = StressValue(1, 2);
  BOOST_TEST(CheckRead(1, w, w, &v3).empty());
  BOOST_TEST(!CheckRead(1, w, w, &v2).empty());       // stale
  BOOST_TEST(!CheckRead(1, w, w, nullptr).empty());   // lost
  const std::string other = StressValue(2, 3);
  BOOST_TEST(!CheckRead(1, w, w, &other).empty());    // another key's value
  const KeyWord deleted = Committed(4, false);
  const std::string v4 = StressValue(1, 4);
  BOOST_TEST(CheckRead(1, deleted, deleted, nullptr).empty());
  BOOST_TEST(!CheckRead(1, deleted, deleted, &v3).empty());
  BOOST_TEST(!CheckRead(1, deleted, deleted, &v4).empty());  // generation 4 was a delete
}

BOOST_AUTO_TEST_CASE(ReadMaySeeAWriteInFlight) {
  const KeyWord before = Pending(Committed(3, true), 4, false);  // a delete in flight
  const KeyWord after = Committed(4, false);
  const std::string v3 = StressValue(1, 3), v5 = StressValue(1, 5);
  BOOST_TEST(CheckRead(1, before, after, &v3).empty());
  BOOST_TEST(CheckRead(1, before, after, nullptr).empty());
  BOOST_TEST(CheckRead(1, before, before, nullptr).empty());
  BOOST_TEST(!CheckRead(1, before, after, &v5).empty());  // never written yet
  // A put marked after the read began may be seen; one marked later not.
  const KeyWord put_pending = Pending(Committed(3, true), 4, true);
  const std::string v4 = StressValue(1, 4);
  BOOST_TEST(CheckRead(1, Committed(3, true), put_pending, &v4).empty());
  BOOST_TEST(!CheckRead(1, Committed(3, true), Committed(3, true), &v4).empty());
  // Several writes between: a generation in between is allowed either way.
  const KeyWord far = Committed(7, true);
  const std::string v5b = StressValue(1, 5);
  BOOST_TEST(CheckRead(1, Committed(3, true), far, &v5b).empty());
  BOOST_TEST(CheckRead(1, Committed(3, true), far, nullptr).empty());
  BOOST_TEST(!CheckRead(1, Committed(3, true), Committed(4, true), nullptr).empty());
}

BOOST_AUTO_TEST_CASE(StateFileKeepsWordsAcrossMappings) {
  const test::TempDir dir;
  const std::string path = dir.path() + "/expected";
  {
    ExpectedState state;
    BOOST_TEST(state.Open(path, 100).empty());
    BOOST_TEST(state.Load(99).Encode() == 0u);
    state.Store(42, Pending(Committed(2, true), 3, false));
    state.slot(7).count.store(2);
  }
  ExpectedState again;
  BOOST_TEST(again.Open(path, 100).empty());
  BOOST_TEST(again.Load(42).pending_state.gen == 3u);
  BOOST_TEST(again.slot(7).count.load() == 2u);
  ExpectedState other;
  BOOST_TEST(!other.Open(path, 101).empty());  // made for another key count
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::stress
