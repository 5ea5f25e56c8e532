#!/usr/bin/env python3
"""The table of bench/zstd.sh, and its check that both tools compile alike.

    zstd_report.py table DATADIR
    zstd_report.py flags CAIRN_COMPDB CAIRN_ROOT CMAKE_COMPDB CMAKE_ROOT

`table` prints the markdown table. DATADIR holds one file per tool and
row, `cairn.ROW` and `cmake.ROW`, one line per run as measure.py prints
it with `--rss self`: `<wall s> <own peak RSS KiB> <status> <tree peak
RSS KiB> <tree CPU s>` (`-` for a CPU time not measured). The rows (zstd.sh writes them):

    full       cairn: a build with no outputs, no state, an empty cache;
               cmake: configure (an empty build directory) and ninja, one
               line whose time is the sum and whose RSS is ninja's
    ninja      cmake only: the ninja part of `full`
    configure  cmake only: the configure part of `full`
    noop       the median of back-to-back no-op builds (one line per run)
    noop_cbuild  cmake only: the same, with `cmake --build` (no RSS)
    c_code, c_comment, h_code, h_comment   the edits

A cell is the median of the runs with the range in brackets, as in
bench/report.py, whose formatting this reuses; the ratio is cairn's
median over CMake + ninja's, and the goal column says whether it is met.
The CPU columns are the user + system time of every process of the
build: on a busy machine wall times swing with the load, CPU time much
less, and it shows what each tool adds to the compilers' work.

`flags` compares the compile commands of the two builds: for every
source, the arguments other than include directories, the output and
the depfile must be the same, in the same order (a database also lists
targets that were not built: only entries whose object exists count).
It prints one line and exits 1 when they differ.
"""

import json
import os
import shlex
import statistics
import sys

from report import cell

# (label, data row, column (0 wall, 1 own RSS, 2 tree RSS), cmake's data
# row, goal: the largest ratio allowed, or None)
ROWS = [
    ("full build (cairn: empty cache; CMake: configure + ninja)", "full", 0, "full", 1.0),
    ("full build, against ninja alone (configure not counted)", "full", 0, "ninja", None),
    ("no-op", "noop", 0, "noop", 0.5),
    ("no-op, against `cmake --build` (ninja started by cmake)", "noop", 0, "noop_cbuild", None),
    ("one `.c` edited: a function appended to `lib/compress/zstd_compress.c`",
     "c_code", 0, "c_code", 1.0),
    ("one `.c` edited: a comment appended (the object comes out the same)",
     "c_comment", 0, "c_comment", 1.0),
    ("widely included header edited: an `#ident` line appended to `lib/common/mem.h`",
     "h_code", 0, "h_code", 1.0),
    ("widely included header edited: a comment appended (the objects come out the same)",
     "h_comment", 0, "h_comment", 1.0),
    ("peak RSS of the build tool's process, full build (CMake: ninja's)", "full", 1, "full", None),
    ("peak RSS of the build tool's process, CMake's configure step", None, 1, "configure", None),
    ("peak RSS of the build tool's process, no-op", "noop", 1, "noop", None),
    ("peak RSS of the largest process, full build (a compiler, `cc1`)", "full", 2, "ninja", None),
]


# column: (field of the data line, seconds (True) or KiB (False))
FIELDS = {0: (0, True), 1: (1, False), 2: (3, False), 3: (4, True)}


def load(datadir, tool, row, col):
    """The values of one column of a data file, or None."""
    if row is None:
        return None
    path = os.path.join(datadir, "%s.%s" % (tool, row))
    if not os.path.exists(path):
        return None
    field, secs = FIELDS[col]
    vals = []
    with open(path) as f:
        for line in f:
            w = line.split()
            if len(w) <= field or w[2] != "0" or w[field] == "-":
                return None
            vals.append(float(w[field]) if secs else int(w[field]) / 1024.0)
    return vals or None


def cells(datadir, row, crow, col, unit_col):
    """cairn's cell, CMake's cell, the ratio of the medians (or None)."""
    a = load(datadir, "cairn", row, col)
    b = load(datadir, "cmake", crow, col)
    ca = cell(a, unit_col) if a else ("" if row is None else "n/a")
    cb = cell(b, unit_col) if b else "n/a"
    r = statistics.median(a) / statistics.median(b) if a and b else None
    return ca, cb, r


def table(datadir):
    out = ["| scenario | cairn | CMake + ninja | cairn ÷ CMake + ninja | goal "
           "| CPU: cairn | CPU: CMake + ninja | CPU ratio |",
           "|---|---:|---:|---:|---|---:|---:|---:|"]
    for label, row, col, crow, goal in ROWS:
        ca, cb, r = cells(datadir, row, crow, col, min(col, 1))
        ratio = "%.2f×" % r if r is not None else ""
        verdict = ""
        if r is not None and goal is not None:
            verdict = "≤ %.1f×: %s" % (goal, "met" if r <= goal else "**missed**")
        cpu = ["", "", ""]
        if col == 0:
            pa, pb, pr = cells(datadir, row, crow, 3, 0)
            if pr is not None:
                cpu = [pa, pb, "%.2f×" % pr]
        out.append("| %s |" % " | ".join([label, ca, cb, ratio, verdict] + cpu))
    print("\n".join(out))
    return 0


# Arguments that say where things are, not how to compile: left out.
SKIP_WITH_VALUE = {"-o", "-MF", "-MT", "-MQ", "-iquote", "-I"}
SKIP_ALONE = {"-c", "-MD", "-MMD"}


def compile_flags(entry, root):
    """(source from the root, its flags, its object or None)"""
    args = entry.get("arguments") or shlex.split(entry["command"])
    cwd = entry.get("directory", root)
    src = os.path.normpath(os.path.join(cwd, entry["file"]))
    out, skip, obj = [], False, None
    for i, a in enumerate(args[1:], 1):  # not the compiler
        if skip:
            skip = False
        elif a in SKIP_WITH_VALUE:
            skip = True
            if a == "-o" and i + 1 < len(args):
                obj = os.path.join(cwd, args[i + 1])
        elif a in SKIP_ALONE or a.startswith("-I") or a.startswith("-iquote"):
            pass
        elif os.path.normpath(os.path.join(entry.get("directory", root), a)) == src:
            pass
        else:
            out.append(a)
    return os.path.relpath(src, root), out, obj


def flags(cairn_db, cairn_root, cmake_db, cmake_root):
    def read(path, root):
        # a compilation database lists the targets that were not built too
        # (CMake's zstd-frugal): only the compiles whose object exists count
        db = {}
        with open(path) as f:
            for e in json.load(f):
                src, fl, obj = compile_flags(e, os.path.realpath(root))
                if obj is None or os.path.exists(obj):
                    db[src] = fl
        return db
    a = read(cairn_db, cairn_root)
    b = read(cmake_db, cmake_root)
    bad = []
    if set(a) != set(b):
        bad.append("sources only cairn compiles: %s; only CMake: %s"
                   % (sorted(set(a) - set(b)) or "none", sorted(set(b) - set(a)) or "none"))
    for src in sorted(set(a) & set(b)):
        if a[src] != b[src]:
            bad.append("%s: cairn %s, CMake %s" % (src, " ".join(a[src]), " ".join(b[src])))
    if bad:
        print("compile commands differ:\n  " + "\n  ".join(bad[:10]))
        return 1
    some = a[sorted(a)[0]]
    print("%d compiles, the same sources with the same flags and defines on both sides "
          "(e.g. `%s`); only include directories differ" % (len(a), " ".join(some)))
    return 0


def main(argv):
    if argv[:1] == ["table"] and len(argv) == 2:
        return table(argv[1])
    if argv[:1] == ["flags"] and len(argv) == 5:
        return flags(*argv[1:])
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
