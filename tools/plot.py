#!/usr/bin/python3
"""Draws the JSON output of `corodb-bench --json` as one SVG file.

usage: plot.py [IN.json|-] OUT.svg

IN is the benchmark's JSON (stdin when it is `-` or left out); OUT must end in
.svg. The picture has, under a title line with the run's configuration:
  * throughput over time: one small plot per benchmark, in run order, one line
    per engine (ops/s sampled every timeline_interval_s seconds, from 0), so
    stalls and compactions show as dips; a row without samples is drawn as a
    dashed line at its mean ops/s and labelled "no samples";
  * latency: p50, p99 and p99.9 in microseconds (log scale), one panel per
    percentile, one group of bars per benchmark, one bar per engine.
Each engine has one colour throughout. A latency of 0 or less has no bar (a
log scale has no 0). Unknown JSON keys are ignored; the configuration is read
from "config", or from the top level as older corodb-bench output has it.

Needs matplotlib: Debian's python3-matplotlib (tools/setup.sh), so the script
runs /usr/bin/python3 (`python3 tools/plot.py` runs the first on PATH).
Exit status: 0 done, 1 unreadable or malformed input or no results, 2 usage
error.
"""
import argparse
import io
import json
import math
import sys

PERCENTILES = [("p50_us", "p50"), ("p99_us", "p99"), ("p999_us", "p99.9")]
TIMELINE_COLS = 4


class InputError(Exception):
    pass


def number(value):
    """A finite JSON number as float, else None (bools are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def load(text, name):
    """Parses and checks the benchmark JSON; returns (config, results)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{name}: malformed JSON: {e}") from None
    if not isinstance(doc, dict):
        raise InputError(f"{name}: expected a JSON object with \"results\", got {type(doc).__name__}")
    results = doc.get("results")
    if not isinstance(results, list):
        raise InputError(f"{name}: no \"results\" list")
    if not results:
        raise InputError(f"{name}: no results")
    for i, row in enumerate(results):
        if not isinstance(row, dict):
            raise InputError(f"{name}: results[{i}] is not an object")
        for key in ("engine", "benchmark"):
            if not isinstance(row.get(key), str) or not row[key]:
                raise InputError(f"{name}: results[{i}] has no \"{key}\" name")
    config = doc.get("config")
    if not isinstance(config, dict):
        config = doc  # the older output: the configuration at the top level
    return config, results


def order(config, results):
    """Engines (the configured order, then any others as they appear) and
    benchmarks (run order), and the rows by (engine, benchmark)."""
    engines, benchmarks, rows = [], [], {}
    configured = config.get("engines")
    if isinstance(configured, list):
        engines = [e for e in configured if isinstance(e, str)]
    present = set()
    for row in results:
        engine, bench = row["engine"], row["benchmark"]
        present.add(engine)
        if engine not in engines:
            engines.append(engine)
        if bench not in benchmarks:
            benchmarks.append(bench)
        if (engine, bench) in rows:
            print(f"plot.py: warning: more than one row for {engine} {bench}; drawing the first",
                  file=sys.stderr)
        else:
            rows[(engine, bench)] = row
    engines = [e for e in engines if e in present]  # configured but never reported: no legend entry
    return engines, benchmarks, rows


def title(config):
    parts = []
    for key, label, unit in (("num", "num", ""), ("threads", "threads", ""),
                             ("concurrency", "concurrency", ""), ("value_size", "value size", " B"),
                             ("key_size", "key size", " B"), ("repeats", "repeats", "")):
        value = number(config.get(key))
        if value is not None:
            text = f"{value:,.0f}" if value == int(value) else f"{value:g}"
            parts.append(f"{label} {text}{unit}")
    line = "corodb-bench"
    if parts:
        line += ": " + ", ".join(parts)
    repeats = number(config.get("repeats"))
    if repeats is not None and repeats > 1:
        line += " (median run)"
    return line


def plain(text):
    """Text matplotlib prints as is (a `$` would start math mode)."""
    return text.replace("$", r"\$")


def timeline_points(row):
    """(x, y) of a step line through the row's samples, or None without any.
    Sample i covers [i*dt, (i+1)*dt); the last may end earlier, at `seconds`."""
    samples = row.get("timeline")
    dt = number(row.get("timeline_interval_s"))
    if not isinstance(samples, list) or not samples or dt is None or dt <= 0:
        return None
    ys = [number(v) for v in samples]
    ys = [v if v is not None else math.nan for v in ys]
    n = len(ys)
    end = n * dt
    seconds = number(row.get("seconds"))
    if seconds is not None and (n - 1) * dt < seconds < end:
        end = seconds
    xs = [i * dt for i in range(n)] + [end]
    return xs, ys + [ys[-1]]


def draw(config, results, out):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import EngFormatter, FuncFormatter, LogLocator, NullFormatter

    matplotlib.rcParams.update({
        "svg.fonttype": "none",   # text stays text: searchable, and names can be checked
        "svg.hashsalt": "corodb",  # stable ids: the same input gives the same SVG
        "font.size": 9,
    })
    engines, benchmarks, rows = order(config, results)
    palette = matplotlib.colormaps["tab10"].colors
    colour = {e: palette[i % len(palette)] for i, e in enumerate(engines)}

    # Layout in inches, so the figure grows with the number of benchmarks.
    n = len(benchmarks)
    cols = min(TIMELINE_COLS, n)
    trows = math.ceil(n / cols)
    group_in = 0.2 * len(engines) + 0.25  # one benchmark's bars and the gap after them
    width = max(12.0, 3.6 * cols + 1.5, group_in * n + 2.0)
    header, t_title, t_row, gap, l_title, l_panel, l_labels = 1.0, 0.65, 2.3, 0.5, 0.35, 1.9, 1.5
    t_height = trows * t_row
    l_height = len(PERCENTILES) * l_panel
    height = header + t_title + t_height + gap + l_title + l_height + l_labels
    fig = Figure(figsize=(width, height))
    left, right = 1.0 / width, 1 - 0.4 / width

    def frac(y_in):  # inches from the top -> figure fraction from the bottom
        return 1 - y_in / height

    fig.text(0.5, frac(0.3), plain(title(config)), ha="center", va="center", fontsize=13,
             weight="bold")
    handles = [Line2D([], [], color=colour[e], lw=2.5) for e in engines]
    fig.legend(handles, [plain(e) for e in engines], loc="center", ncol=len(engines),
               bbox_to_anchor=(0.5, frac(0.72)), frameon=False, fontsize=11)

    # Throughput over time.
    y = header
    fig.text(left, frac(y + 0.15), "Throughput over time (ops/s; dips are stalls and "
             "compactions)", ha="left", va="center", fontsize=11, weight="bold")
    y += t_title
    grid = fig.add_gridspec(trows, cols, left=left, right=right, top=frac(y), bottom=frac(y + t_height),
                            hspace=0.55, wspace=0.28)
    for i, bench in enumerate(benchmarks):
        ax = fig.add_subplot(grid[i // cols, i % cols])
        ax.set_title(plain(bench), fontsize=10)
        missing = []
        for engine in engines:
            row = rows.get((engine, bench))
            if row is None:
                continue
            points = timeline_points(row)
            if points is not None:
                ax.step(*points, where="post", color=colour[engine], lw=1.3)
                continue
            mean = number(row.get("ops_per_sec"))
            if mean is None:
                continue
            missing.append(engine)
            seconds = number(row.get("seconds"))
            if seconds is not None and seconds > 0:
                ax.plot([0, seconds], [mean, mean], color=colour[engine], lw=1.3, ls="--",
                        marker="o", markevery=[1], ms=4)
            else:
                ax.plot([0], [mean], color=colour[engine], marker="o", ms=5)
        if missing:
            label = "no samples: mean ops/s" if len(missing) == len(
                [e for e in engines if (e, bench) in rows]) else \
                "no samples (dashed: mean): " + ", ".join(missing)
            ax.text(0.02, 0.04, plain(label), transform=ax.transAxes, fontsize=7.5, color="0.3",
                    ha="left", va="bottom",
                    bbox=dict(facecolor="white", edgecolor="none", alpha=0.7, pad=1))
        ax.margins(x=0.02, y=0.08)  # room for a mean's end marker
        ax.set_ylim(bottom=0)
        ax.set_xlim(left=0)
        ax.yaxis.set_major_formatter(EngFormatter(sep=""))
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3, lw=0.5)
        if i % cols == 0:
            ax.set_ylabel("ops/s")
        if i // cols == trows - 1 or i + cols >= n:
            ax.set_xlabel("seconds since the run's start", fontsize=8)

    # Latency percentiles.
    y += t_height + gap
    fig.text(left, frac(y + l_title / 2), "Latency per operation (µs, log scale)", ha="left",
             va="center", fontsize=11, weight="bold")
    y += l_title
    lgrid = fig.add_gridspec(len(PERCENTILES), 1, left=left, right=right, top=frac(y),
                             bottom=frac(y + l_height), hspace=0.18)
    bar = 0.8 / max(len(engines), 1)
    first = None
    for p, (key, label) in enumerate(PERCENTILES):
        ax = fig.add_subplot(lgrid[p, 0], sharex=first)
        first = first or ax
        values = []
        for k, engine in enumerate(engines):
            xs, hs = [], []
            for b, bench in enumerate(benchmarks):
                row = rows.get((engine, bench))
                value = number(row.get(key)) if row is not None else None
                if value is not None and value > 0:  # a log scale has no room for 0
                    xs.append(b - 0.4 + bar * (k + 0.5))
                    hs.append(value)
            if xs:
                ax.bar(xs, hs, width=bar * 0.92, color=colour[engine])
                values += hs
        if values:
            # Whole decades as limits: every bar starts from the same baseline, at least one
            # decade below it, so the shortest bar is not drawn as no bar at all.
            ax.set_yscale("log")
            low = 10 ** math.floor(math.log10(min(values)) - 1e-9)
            high = 10 ** math.ceil(math.log10(max(values)) + 1e-9)
            ax.set_ylim(low, high)
            if high / low <= 1000:  # few decades: label 1, 2 and 5 of each
                ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
        else:
            ax.text(0.5, 0.5, f"no {label} latencies", transform=ax.transAxes, ha="center",
                    va="center", color="0.3")
            ax.set_yticks([])
        ax.set_ylabel(f"{label} (µs)")
        ax.text(0.005, 0.95, label, transform=ax.transAxes, ha="left", va="top", weight="bold",
                fontsize=10, bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=1.5))
        ax.grid(axis="y", which="major", alpha=0.35, lw=0.5)
        ax.grid(axis="y", which="minor", alpha=0.12, lw=0.4)
        ax.set_axisbelow(True)
        ax.tick_params(labelsize=8)
        for b in range(1, n):
            ax.axvline(b - 0.5, color="0.85", lw=0.6)
        ax.set_xlim(-0.5, n - 0.5)
        ax.set_xticks(range(n))
        if p == len(PERCENTILES) - 1:
            ax.set_xticklabels([plain(b) for b in benchmarks], rotation=35, ha="right", fontsize=9)
        else:
            ax.tick_params(labelbottom=False)

    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    with open(out, "wb") as f:
        f.write(buf.getvalue())


def main(argv):
    title_line, _usage, details = __doc__.split("\n\n", 2)
    parser = argparse.ArgumentParser(
        prog="plot.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=title_line + "\n\n" + details,
        epilog="examples:\n  corodb-bench --json ... | tools/plot.py - bench.svg\n"
               "  tools/plot.py results.json bench.svg")
    parser.add_argument("input", nargs="?", default="-", metavar="IN.json|-",
                        help="the benchmark's JSON output (default `-`: stdin)")
    parser.add_argument("output", metavar="OUT.svg", help="the SVG file to write")
    args = parser.parse_args(argv)
    src, out = args.input, args.output
    if not out.lower().endswith(".svg"):
        parser.error(f"OUT must end in .svg (got {out!r}); it is the file written")

    try:
        if src == "-":
            name, text = "stdin", sys.stdin.read()
        else:
            name = src
            with open(src, encoding="utf-8") as f:
                text = f.read()
        config, results = load(text, name)
    except (OSError, UnicodeDecodeError) as e:
        print(f"plot.py: cannot read {src}: {e}", file=sys.stderr)
        return 1
    except InputError as e:
        print(f"plot.py: {e}", file=sys.stderr)
        return 1

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print(f"plot.py: needs matplotlib, which {sys.executable} cannot import "
              "(Debian: apt-get install python3-matplotlib, see tools/setup.sh)", file=sys.stderr)
        return 1
    try:
        draw(config, results, out)
    except OSError as e:
        print(f"plot.py: cannot write {out}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
