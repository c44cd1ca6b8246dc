#!/usr/bin/env python3
"""Runs tools/plot.py on small corodb-bench JSON files it writes to a temp dir.

usage: plot_test.py [PATH/TO/tools/plot.py]

plot.py runs under this interpreter (sys.executable). Checks that the SVG it
writes parses as XML and names every engine and benchmark in its text, that
stdin works as the input, and that malformed JSON, no results and an output
not ending in .svg fail with a message and no SVG. Exits 77 (a CTest skip with
SKIP_RETURN_CODE 77) when this interpreter cannot import matplotlib.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
PLOT = os.path.join(HERE, "..", "..", "tools", "plot.py")

ENGINES = ["corodb", "leveldb", "rocksdb"]
BENCHMARKS = ["fillrandom", "readrandom", "readwhilewriting"]  # the last has no timeline


def fixture():
    results = []
    for b, bench in enumerate(BENCHMARKS):
        for e, engine in enumerate(ENGINES):
            row = {"engine": engine, "benchmark": bench, "ops": 1000, "seconds": 2.5,
                   "ops_per_sec": 400.0 + 100 * e, "mb_per_sec": 0.05, "p50_us": 2.0 + e,
                   "p99_us": 20.0 + b, "p999_us": 300.0, "cpu_s": 2.4, "write_amp": 2.5,
                   "unknown_key": {"nested": [1, 2]}}
            if bench == "readwhilewriting":
                if e == 0:
                    row["timeline"] = []  # empty, as for a very short run; the others lack the key
            else:
                row["timeline_interval_s"] = 1.0
                row["timeline"] = [450, 20 + 10 * e, 500]
            results.append(row)
    return {"config": {"num": 1000, "threads": 1, "concurrency": 4, "value_size": 100,
                       "key_size": 16, "repeats": 1, "engines": ENGINES, "bloom_bits": 10},
            "results": results}


class PlotTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="plot_test.")
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text):
        with open(self.path(name), "w", encoding="utf-8") as f:
            f.write(text)
        return self.path(name)

    def plot(self, *args, stdin=None):
        return subprocess.run([sys.executable, PLOT, *args], input=stdin, capture_output=True,
                              text=True, timeout=120)

    def check_svg(self, svg):
        root = ET.parse(svg).getroot()
        self.assertTrue(root.tag.endswith("svg"), root.tag)
        texts = ["".join(el.itertext()) for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "text"]
        for name in ENGINES + BENCHMARKS + ["no samples", "p99.9"]:  # no samples: readwhilewriting
            self.assertTrue(any(name in t for t in texts), f"{name!r} is in no <text> of {svg}")

    def test_file_to_svg(self):
        src = self.write("bench.json", json.dumps(fixture()))
        out = self.path("bench.svg")
        r = self.plot(src, out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.check_svg(out)

    def test_stdin_to_svg(self):
        text = json.dumps(fixture())
        for args in (["-", self.path("dash.svg")], [self.path("omitted.svg")]):
            r = self.plot(*args, stdin=text)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.check_svg(args[-1])

    def test_malformed_json_fails(self):
        src = self.write("bad.json", '{"config": {}, "results": [{"engine": "corodb",')
        out = self.path("bad.svg")
        r = self.plot(src, out)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("malformed JSON", r.stderr)
        self.assertFalse(os.path.exists(out))

    def test_no_results_fails(self):
        for doc in ({"config": {"num": 1}, "results": []}, {"config": {"num": 1}}, [1, 2]):
            src = self.write("empty.json", json.dumps(doc))
            out = self.path("empty.svg")
            r = self.plot(src, out)
            self.assertNotEqual(r.returncode, 0, doc)
            self.assertIn("results", r.stderr)
            self.assertFalse(os.path.exists(out))

    def test_output_must_be_svg(self):
        src = self.write("bench.json", json.dumps(fixture()))
        r = self.plot(src)  # alone, bench.json would be the output: refused, not overwritten
        self.assertEqual(r.returncode, 2)
        self.assertIn(".svg", r.stderr)
        with open(src, encoding="utf-8") as f:
            self.assertEqual(json.load(f), fixture())


if __name__ == "__main__":
    if len(sys.argv) > 1:
        PLOT = sys.argv.pop(1)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print(f"plot_test: skipped: {sys.executable} cannot import matplotlib "
              "(Debian: apt-get install python3-matplotlib, see tools/setup.sh)")
        sys.exit(77)
    if not os.path.isfile(PLOT):
        print(f"plot_test: no such file: {PLOT}", file=sys.stderr)
        sys.exit(1)
    unittest.main(verbosity=2)
