// Helpers for the iterator and snapshot tests (db_iter_test.cc,
// db_iter_concurrency_test.cc): a random walk of an Iterator against a
// std::map model, full scans in either direction, and snapshot reads.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "corodb/iterator.h"
#include "db_engine_test_util.h"

namespace corodb::test {

// A Seek target for a random walk; by default "k" keys as WriteRandom writes
// them, sometimes just past one.
using SeekTargetFn = std::function<std::string(Random&)>;

inline std::string RandomKTarget(Random& rnd) {
  std::string target = NumKey("k", static_cast<int>(rnd.Uniform(3000)));
  if (rnd.OneIn(4)) target += '\0';
  return target;
}

// Whether `it` stands where the model position `pos` says (model.end():
// not valid). An iterator whose status is not OK must not be Valid().
inline bool AtModelPosition(const Iterator& it, const Model& model,
                            Model::const_iterator pos, const char* op,
                            std::string* error) {
  const bool want_valid = pos != model.end();
  if (!it.status().ok()) {
    *error = std::string(op) + ": " + it.status().ToString() +
             (it.Valid() ? " (and Valid())" : "");
    return false;
  }
  if (it.Valid() != want_valid) {
    *error =
        std::string(op) + ": Valid() " +
        (it.Valid() ? "true at \"" + Printable(std::string(it.key())) + "\"" : "false") +
        ", model " + (want_valid ? "at \"" + Printable(pos->first) + "\"" : "at the end");
    return false;
  }
  if (want_valid && (it.key() != pos->first || it.value() != pos->second)) {
    *error = std::string(op) + ": at \"" + Printable(std::string(it.key())) +
             "\", model at \"" + Printable(pos->first) + "\"" +
             (it.key() == pos->first ? " (value differs)" : "");
    return false;
  }
  return true;
}

// Moves `it` and a model position the same way, `steps` times — seeks, and
// Next/Prev mixed at random, so the direction switches often — and checks
// they agree after each move. Records the first disagreement in *error.
inline boost::asio::awaitable<bool> WalkAgainstModel(
    Iterator& it, const Model& model, Random& rnd, int steps, std::string* error,
    SeekTargetFn target_fn = RandomKTarget) {
  auto pos = model.end();
  // Start positioned: a walk may follow another walk of the same iterator.
  co_await it.SeekToFirst();
  pos = model.begin();
  if (!AtModelPosition(it, model, pos, "SeekToFirst", error)) co_return false;
  for (int i = 0; i < steps; ++i) {
    const uint32_t op = rnd.Uniform(100);
    if (op < 5) {
      co_await it.SeekToFirst();
      pos = model.begin();
      if (!AtModelPosition(it, model, pos, "SeekToFirst", error)) co_return false;
    } else if (op < 10) {
      co_await it.SeekToLast();
      pos = model.empty() ? model.end() : std::prev(model.end());
      if (!AtModelPosition(it, model, pos, "SeekToLast", error)) co_return false;
    } else if (op < 20) {
      const std::string target = target_fn(rnd);
      co_await it.Seek(target);
      pos = model.lower_bound(target);
      if (!AtModelPosition(it, model, pos, "Seek", error)) co_return false;
    } else if (pos == model.end()) {
      continue;
    } else if (op < 60) {
      if (rnd.OneIn(2) || !it.TryNext()) co_await it.Next();
      ++pos;
      if (!AtModelPosition(it, model, pos, "Next", error)) co_return false;
    } else {
      if (rnd.OneIn(2) || !it.TryPrev()) co_await it.Prev();
      pos = pos == model.begin() ? model.end() : std::prev(pos);
      if (!AtModelPosition(it, model, pos, "Prev", error)) co_return false;
    }
  }
  co_return true;
}

// Every entry from the first key on (forward) or from the last key back
// (reverse), in the order visited, with the status at the end.
struct Scan {
  std::vector<std::pair<std::string, std::string>> entries;
  Status status;
};

inline boost::asio::awaitable<Scan> ScanAll(Iterator& it, bool reverse) {
  Scan scan;
  if (reverse) {
    co_await it.SeekToLast();
  } else {
    co_await it.SeekToFirst();
  }
  while (it.Valid()) {
    scan.entries.emplace_back(std::string(it.key()), std::string(it.value()));
    if (reverse) {
      if (!it.TryPrev()) co_await it.Prev();
    } else {
      if (!it.TryNext()) co_await it.Next();
    }
  }
  scan.status = it.status();
  co_return scan;
}

// The model as a forward or reverse sequence of entries.
inline std::vector<std::pair<std::string, std::string>> Entries(const Model& model,
                                                                bool reverse) {
  std::vector<std::pair<std::string, std::string>> out(model.begin(), model.end());
  if (reverse) std::reverse(out.begin(), out.end());
  return out;
}

// The first difference between a scan and the expected entries ("" when equal).
inline std::string ScanDiff(
    const Scan& scan, const std::vector<std::pair<std::string, std::string>>& want) {
  if (!scan.status.ok()) return "status " + scan.status.ToString();
  for (size_t i = 0; i < std::max(scan.entries.size(), want.size()); ++i) {
    if (i >= scan.entries.size()) {
      return "ended after " + std::to_string(i) + " entries, expected \"" +
             Printable(want[i].first) + "\" next";
    }
    if (i >= want.size()) {
      return "entry " + std::to_string(i) + " \"" + Printable(scan.entries[i].first) +
             "\" past the expected " + std::to_string(want.size());
    }
    if (scan.entries[i] != want[i]) {
      return "entry " + std::to_string(i) + ": \"" + Printable(scan.entries[i].first) +
             "\", expected \"" + Printable(want[i].first) + "\"" +
             (scan.entries[i].first == want[i].first ? " (value differs)" : "");
    }
  }
  return "";
}

// Both full scans of `it` and a random walk equal `model`; the first
// difference otherwise ("" when none).
inline std::string CheckIterator(Iterator& it, const Model& model, Random& rnd, int steps,
                                 SeekTargetFn target_fn = RandomKTarget) {
  for (const bool reverse : {false, true}) {
    const Scan scan = Run(ScanAll(it, reverse));
    if (std::string diff = ScanDiff(scan, Entries(model, reverse)); !diff.empty()) {
      return std::string(reverse ? "reverse" : "forward") + " scan: " + diff;
    }
  }
  std::string error;
  if (!Run(WalkAgainstModel(it, model, rnd, steps, &error, std::move(target_fn)))) {
    return "walk: " + error;
  }
  return "";
}

// Gets of every key in `keys` through `options` equal `model` ("" when they do).
inline std::string CheckGets(DB& db, const ReadOptions& options, const Model& model,
                             const std::vector<std::string>& keys) {
  for (const std::string& key : keys) {
    const auto want = model.find(key);
    const std::string expected =
        want == model.end() ? std::string("NOT_FOUND") : want->second;
    const std::string got = GetOrStatus(db, options, key);
    if (got != expected) {
      return "Get(\"" + Printable(key) + "\"): " +
             (got.size() < 60 ? "\"" + Printable(got) + "\""
                              : std::to_string(got.size()) + " bytes") +
             ", expected " +
             (expected.size() < 60 ? "\"" + Printable(expected) + "\""
                                   : std::to_string(expected.size()) + " bytes");
    }
  }
  return "";
}

// Writes random puts and deletes of keys k000000..k002999 until `bytes`
// were written.
inline void WriteRandom(DB& db, Random& rnd, size_t bytes, Model* model) {
  size_t written = 0;
  while (written < bytes) {
    const std::string key = NumKey("k", static_cast<int>(rnd.Uniform(3000)));
    if (rnd.OneIn(5)) {
      BOOST_REQUIRE(Run(db.Delete({}, key)).ok());
      model->erase(key);
    } else {
      const std::string value = RandomValue(rnd, 300);
      BOOST_REQUIRE(Run(db.Put({}, key, value)).ok());
      (*model)[key] = value;
      written += key.size() + value.size();
    }
  }
}

}  // namespace corodb::test
