#!/usr/bin/env python3
"""The tables of bench/remote.sh, and the two parsers it needs.

    remote_report.py table DATADIR cache|exec [--without TOOL]
    remote_report.py summary EVENTS_FILE
    remote_report.py bazel LOG

`table` prints one markdown table. DATADIR holds, per row (`ninja.full`,
`cairn.remote`, ...):

    ROW          one line per run as measure.py prints it:
                 `<wall s> <peak RSS KiB> <exit status>`
    ROW.meta     one line per run: `<remote> <total> <rpcs> <bytes_down> <lo>`,
                 `-` for what is not known: actions served by the remote
                 (cache hits, or remotely executed), actions in all, RPCs and
                 bytes fetched (cairn's summary event), bytes that crossed
                 the loopback interface during the build
    ROW.broken   the row failed (a line says why): its cells read "failed"

A missing row reads "n/a". A time cell is the median of the runs with the
range in brackets, as in bench/report.py, whose formatting this reuses.

`summary` prints `<remote_cached> <remote_executed> <total> <rpcs>
<bytes_down>` from the last `summary` line of a `cairn --events` file
(`-` for each field it lacks, all `-` without a summary).

`bazel` prints `<remote> <total>` from the last `INFO: N processes: ...`
line of a Bazel log: the processes served remotely ("remote cache hit"
or "remote") and all processes but Bazel's internal ones.
"""

import json
import os
import re
import statistics
import sys

from report import cell

# The rows of each table: (data name, label, the Bazel row that
# "cairn ÷ Bazel" compares with).
CACHE_ROWS = [
    ("ninja.full", "ninja, full build", None),
    ("cairn.full", "cairn, full build (empty local cache)", None),
    ("cairn.local", "cairn, rebuild from its local cache (`cairn clean`, build)", None),
    ("cairn.populate", "cairn, full build uploading to the remote cache (checkout 1, once)", None),
    ("cairn.remote", "cairn, fresh checkout, warm remote cache", "bazel.remote"),
    ("cairn.remote_top", "cairn, fresh checkout, warm remote cache, `--remote_download=toplevel //bin:all`",
     "bazel.remote_top"),
    ("bazel.populate", "Bazel, full build uploading to the remote cache (checkout 1, once)", None),
    ("bazel.remote", "Bazel, fresh checkout (new output base), warm remote cache", None),
    ("bazel.remote_warm", "Bazel, same checkout after `bazel clean`, warm server, warm remote cache",
     None),
    ("bazel.remote_top", "Bazel, fresh checkout (new output base), warm remote cache, "
     "`--remote_download_toplevel //bin:all`", None),
]
EXEC_ROWS = [
    ("ninja.xfull", "ninja, full build (local)", None),
    ("cairn.xfull", "cairn, full build (local, empty cache)", None),
    ("cairn.rexec", "cairn, remote execution (empty remote and local caches)", "bazel.rexec"),
    ("bazel.rexec", "Bazel, remote execution (empty remote cache, new output base)", None),
]
# (rows, ninja's row, cairn's local reference row, the headers of the
# "remote" and "÷ cairn" columns)
TABLES = {
    "cache": (CACHE_ROWS, "ninja.full", "cairn.local", "remote cache hits",
              "÷ cairn local-cache rebuild"),
    "exec": (EXEC_ROWS, "ninja.xfull", "cairn.xfull", "remotely executed",
             "÷ cairn local build"),
}


def load_times(datadir, row):
    """Wall times of every run, None when there are none."""
    path = os.path.join(datadir, row)
    if not os.path.exists(path):
        return None
    vals = []
    with open(path) as f:
        for line in f:
            wall, _, status = line.split()
            if status != "0":
                return None
            vals.append(float(wall))
    return vals or None


def load_meta(datadir, row):
    """Per column of ROW.meta, the median of the known values (or None)."""
    path = os.path.join(datadir, row + ".meta")
    cols = [[] for _ in range(5)]
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                for i, w in enumerate(line.split()[:5]):
                    if w != "-":
                        cols[i].append(float(w))
    return [statistics.median(c) if c else None for c in cols]


def fmt_bytes(n):
    if n is None:
        return ""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return "%.1f %s" % (n / scale, unit)
    return "%d B" % n


def ratio(a, b):
    return "%.2f×" % (a / b) if a is not None and b else ""


def table(datadir, kind, without):
    rows, ninja_row, local_row, remote_col, local_col = TABLES[kind]
    rows = [r for r in rows if r[0].split(".")[0] not in without]
    meds = {}
    for name, *_ in rows:
        if os.path.exists(os.path.join(datadir, name + ".broken")):
            continue
        vals = load_times(datadir, name)
        if vals is not None:
            meds[name] = statistics.median(vals)
    head = ["", "wall time", remote_col, "bytes fetched (cairn's count)",
            "loopback traffic", "RPCs per remote action", "÷ ninja full build",
            local_col]
    if "bazel" not in without:
        head.append("cairn ÷ Bazel")
    out = ["| " + " | ".join(head) + " |",
           "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for name, label, bazel_row in rows:
        row = [label]
        broken = os.path.join(datadir, name + ".broken")
        vals = load_times(datadir, name)
        if os.path.exists(broken):
            row.append("failed")
        elif vals is None:
            row.append("n/a")
        else:
            row.append(cell(vals, 0))
        remote, total, rpcs, down, lo = load_meta(datadir, name)
        if name in meds and remote is not None and total:
            row.append("%d of %d" % (remote, total))
        else:
            row.append("")
        ok = name in meds
        row.append(fmt_bytes(down) if ok else "")
        row.append(fmt_bytes(lo) if ok else "")
        row.append("%.1f" % (rpcs / remote) if ok and rpcs is not None and remote else "")
        tool = name.split(".")[0]
        row.append(ratio(meds.get(name), meds.get(ninja_row)))
        if tool == "cairn":
            row.append(ratio(meds.get(name), meds.get(local_row)))
        else:
            row.append("")
        if "bazel" not in without:
            row.append(ratio(meds.get(name), meds.get(bazel_row)) if bazel_row else "")
        out.append("| " + " | ".join(row) + " |")
    return "\n".join(out)


def summary(path):
    last = None
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if isinstance(ev, dict) and ev.get("type") == "summary":
                    last = ev
    except OSError:
        pass
    keys = ("remote_cached", "remote_executed", "total", "rpcs", "bytes_down")
    if last is None:
        return " ".join("-" for _ in keys)
    return " ".join(str(int(last[k])) if isinstance(last.get(k), (int, float)) else "-"
                    for k in keys)


# "INFO: 14 processes: 13 remote cache hit, 1 internal."
PROCS = re.compile(r"INFO: (\d+) processes?: (.*?)\.?$")


def bazel(path):
    found = None
    with open(path, errors="replace") as f:
        for line in f:
            m = PROCS.match(line.strip())
            if m:
                found = m
    if found is None:
        return "- -"
    total, remote = int(found.group(1)), 0
    for part in found.group(2).split(","):
        words = part.split()
        if len(words) < 2 or not words[0].isdigit():
            continue
        n, what = int(words[0]), " ".join(words[1:])
        if what == "internal":
            total -= n
        elif what in ("remote cache hit", "remote"):
            remote += n
    return "%d %d" % (remote, total)


def main(argv):
    usage = ("usage: remote_report.py table DATADIR cache|exec [--without TOOL] | "
             "summary EVENTS | bazel LOG")
    if len(argv) >= 3 and argv[0] == "table" and argv[2] in TABLES:
        without = set()
        rest = argv[3:]
        while rest[:1] == ["--without"] and len(rest) >= 2:
            without.add(rest[1])
            rest = rest[2:]
        if rest:
            sys.exit(usage)
        print(table(argv[1], argv[2], without))
    elif len(argv) == 2 and argv[0] == "summary":
        print(summary(argv[1]))
    elif len(argv) == 2 and argv[0] == "bazel":
        print(bazel(argv[1]))
    else:
        sys.exit(usage)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
