#!/usr/bin/env python3
"""Turn the measurements of one workspace size into a markdown table.

    report.py DATADIR TOOL...

DATADIR holds one file per tool and scenario, `<tool>.<scenario>`, one
line per run as measure.py prints it: `<wall s> <peak RSS KiB> <status>`.
A file `<tool>.skipped` marks a tool not run at this size, and
`<tool>.broken` one whose build failed: its build cells read "failed".
A cell is the median of the runs with the range in brackets; it reads
"n/a" when the tool has no data (not installed, not built). Ratio
columns compare cairn's median to each other tool's (below 1: cairn is
faster or smaller).
"""

import os
import statistics
import sys

# (row label, data file, column: 0 = wall time, 1 = peak RSS)
ROWS = [
    ("full clean build (empty cache)", "clean", 0),
    ("no-op rebuild", "noop", 0),
    ("one source changed", "src", 0),
    ("one shared header changed", "hdr", 0),
    ("outputs deleted, rebuild", "rmout", 0),
    ("peak RSS, clean build", "clean", 1),
    ("peak RSS, no-op", "noop", 1),
    ("start-up (`--version`)", "startup", 0),
]


def load(datadir, tool, scenario, col):
    """The values of one column, or None when there are none."""
    path = os.path.join(datadir, "%s.%s" % (tool, scenario))
    if not os.path.exists(path):
        return None
    vals = []
    with open(path) as f:
        for line in f:
            wall, rss, status = line.split()
            if status != "0":
                return None
            vals.append(float(wall) if col == 0 else int(rss) / 1024.0)
    return vals or None


def unit_of(v, col):
    """Unit and scale chosen from the median, so a range shares it."""
    if col == 1:
        return "MiB", 1.0
    return ("s", 1.0) if v >= 1 else ("ms", 1000.0)


def fmt_num(v, unit, scale):
    x = v * scale
    if unit == "s":
        return "%.2f" % x
    if unit == "MiB" or x < 10:
        return "%.1f" % x
    return "%.0f" % x


def cell(vals, col):
    med = statistics.median(vals)
    unit, scale = unit_of(med, col)
    text = "%s %s" % (fmt_num(med, unit, scale), unit)
    if len(vals) > 1:
        text += " (%s–%s)" % (fmt_num(min(vals), unit, scale),
                               fmt_num(max(vals), unit, scale))
    return text


def main(argv):
    datadir, tools = argv[0], argv[1:]
    def marked(t, what):
        return os.path.exists(os.path.join(datadir, "%s.%s" % (t, what)))
    skipped = {t for t in tools if marked(t, "skipped")}
    broken = {t for t in tools if marked(t, "broken")}
    others = [t for t in tools if t != "cairn"] if "cairn" in tools else []
    head = ["scenario"] + tools + ["cairn/%s" % t for t in others]
    out = ["| " + " | ".join(head) + " |",
           "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for label, scenario, col in ROWS:
        row, meds = [label], {}
        for t in tools:
            if t in skipped:
                row.append("skipped")
                continue
            if t in broken and scenario != "startup":
                row.append("failed")
                continue
            vals = load(datadir, t, scenario, col)
            if vals is None:
                row.append("n/a")
                continue
            meds[t] = statistics.median(vals)
            row.append(cell(vals, col))
        for t in others:
            if "cairn" in meds and meds.get(t):
                row.append("%.2f×" % (meds["cairn"] / meds[t]))
            else:
                row.append("n/a")
        out.append("| " + " | ".join(row) + " |")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
