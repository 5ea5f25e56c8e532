#!/usr/bin/env python3
"""Run a command, report its wall time and peak RSS.

    measure.py [-n N] [--rss wait4|gnu|self|none] [--log FILE] [-C DIR] -- CMD [ARG...]

Runs CMD N times (default 1) and prints one line per run:

    <wall seconds> <peak RSS in KiB> <exit status>

Wall time is time.perf_counter_ns() around spawn and wait, so the start-up
of this script is not counted. Peak RSS is ru_maxrss as wait4() returns
it: on Linux, the largest resident set of any single process of the tree
(the build tool itself, in practice; `cat` is tiny), not a sum.

--rss gnu runs CMD under GNU `/usr/bin/time -f %M` and reports its figure.
--rss none spawns CMD directly and reports 0 (for start-up timings).
--rss self reports the peak of CMD's own process, not of its tree: when
CMD runs compilers, the tree's peak is a compiler's, the same for every
build tool. CMD is spawned directly and traced (PTRACE_SEIZE with
PTRACE_O_TRACEEXIT, nothing else: its children are not traced); when it
exits, it stops before its memory is released and its VmHWM is read
from /proc. The line then has two more fields: the tree's peak RSS in
KiB as wait4() gives it (at least Python's own resident set: the exec
trap below), and the CPU seconds (user + system) of the tree, of every
process that was waited for (what a build tool reaps, and so on down).
--rss wait4 (the default, for machines without GNU time) has a trap to
avoid. At exec the kernel folds the high-water mark of the old address
space into the process's ru_maxrss; a child spawned from Python execs
out of Python's address space, so every figure would be at least
Python's own ~10 MB, about what ninja needs for 10,000 actions. So CMD is
started by a tiny `/bin/sh` that forks it in the background and exits;
CMD is reparented to us (PR_SET_CHILD_SUBREAPER) and reaped here, and the
floor is the shell's resident set (about 1 MB for dash), as with time(1).
One side effect: a background job of a non-interactive shell ignores
SIGINT, so Ctrl-C does not reach CMD; the runner's clean-up kills it.

The command's stdout and stderr go to --log (appended) or /dev/null.
A command that fails does not stop the runs; its status is reported.
"""

import argparse
import ctypes
import os
import sys
import tempfile
import time

GNU_TIME = "/usr/bin/time"
PR_SET_CHILD_SUBREAPER = 36
PTRACE_CONT = 7
PTRACE_SEIZE = 0x4206
PTRACE_O_TRACEEXIT = 0x40
PTRACE_EVENT_EXIT = 6
PTRACE_EVENT_STOP = 128
WALL = 0x40000000  # waitpid's __WALL, which the os module does not name


def spawn(argv, log_fd, extra=()):
    acts = [(os.POSIX_SPAWN_DUP2, log_fd, 1), (os.POSIX_SPAWN_DUP2, log_fd, 2)]
    acts += list(extra)
    return os.posix_spawnp(argv[0], argv, os.environ, file_actions=acts)


def run_direct(argv, log_fd):
    t0 = time.perf_counter_ns()
    pid = spawn(argv, log_fd)
    _, status, _ = os.wait4(pid, 0)
    t1 = time.perf_counter_ns()
    return t1 - t0, 0, os.waitstatus_to_exitcode(status)


def run_gnu(argv, log_fd):
    fd, tmp = tempfile.mkstemp(prefix="measure-rss.")
    os.close(fd)
    try:
        t0 = time.perf_counter_ns()
        pid = spawn([GNU_TIME, "-f", "%M", "-o", tmp] + argv, log_fd)
        _, status, _ = os.wait4(pid, 0)
        t1 = time.perf_counter_ns()
        # After a failure GNU time first writes "Command exited with
        # non-zero status N"; the figure is the last word.
        with open(tmp) as f:
            words = f.read().split()
    finally:
        os.unlink(tmp)
    rss = int(words[-1]) if words and words[-1].isdigit() else 0
    return t1 - t0, rss, os.waitstatus_to_exitcode(status)


def run_wait4(argv, log_fd):
    r, w = os.pipe()
    try:
        t0 = time.perf_counter_ns()
        # CMD must not inherit the pipe: a daemon it leaves behind (Bazel's
        # server) would hold it open and the read below would never end.
        sh = spawn(["/bin/sh", "-c", '"$@" 3>&- & echo $! >&3', "sh"] + argv, log_fd,
                   [(os.POSIX_SPAWN_DUP2, w, 3)])
        os.close(w)
        w = -1
        with os.fdopen(r, closefd=False) as f:
            pid = int(f.read().strip() or 0)
        os.waitpid(sh, 0)  # on return, CMD has been reparented to us
        if pid <= 0:
            return 0, 0, 127
        _, status, ru = os.wait4(pid, 0)
        t1 = time.perf_counter_ns()
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
    return t1 - t0, ru.ru_maxrss, os.waitstatus_to_exitcode(status)


def vm_hwm(pid):
    """VmHWM of a live process in KiB, 0 when it cannot be read."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_self(argv, log_fd):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    t0 = time.perf_counter_ns()
    pid = spawn(argv, log_fd)
    # If the seize fails (no permission), the peak is 0 and the time stands.
    traced = libc.ptrace(PTRACE_SEIZE, pid, None, PTRACE_O_TRACEEXIT) == 0
    own = 0
    while True:
        _, status, ru = os.wait4(pid, WALL)
        if not os.WIFSTOPPED(status):
            break
        sig, event = os.WSTOPSIG(status), status >> 16
        if event == PTRACE_EVENT_EXIT:
            own = vm_hwm(pid)
            sig = 0
        elif event == PTRACE_EVENT_STOP:
            sig = 0  # a group stop under PTRACE_SEIZE: let it go on
        # anything else is a signal on its way to CMD: deliver it
        libc.ptrace(PTRACE_CONT, pid, None, sig)
    t1 = time.perf_counter_ns()
    if not traced:
        own = 0
    return (t1 - t0, own, os.waitstatus_to_exitcode(status),
            "%d" % ru.ru_maxrss, "%.3f" % (ru.ru_utime + ru.ru_stime))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-n", type=int, default=1, help="number of runs")
    p.add_argument("--rss", choices=("wait4", "gnu", "self", "none"), default="wait4")
    p.add_argument("--log", help="append the command's output here")
    p.add_argument("-C", dest="dir", help="run in this directory")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        p.error("no command")
    if a.dir:
        os.chdir(a.dir)
    if a.rss == "wait4":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            sys.exit("measure.py: prctl(PR_SET_CHILD_SUBREAPER): %s"
                     % os.strerror(ctypes.get_errno()))
    if a.log:
        log_fd = os.open(a.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    else:
        log_fd = os.open(os.devnull, os.O_WRONLY)
    run = {"wait4": run_wait4, "gnu": run_gnu, "self": run_self, "none": run_direct}[a.rss]
    for _ in range(a.n):
        try:
            ns, rss, code, *more = run(cmd, log_fd)
        except OSError as e:  # the command (or time(1)) cannot be spawned
            print("measure.py: %s: %s" % (cmd[0], e.strerror), file=sys.stderr)
            ns, rss, code, more = 0, 0, 127, ["0", "0"] if a.rss == "self" else []
        print(" ".join(["%.6f %d %d" % (ns / 1e9, rss, code)] + more), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
