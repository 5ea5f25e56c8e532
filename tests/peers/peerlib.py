"""peerlib.py: what the Python peers (faultproxy.py, grpc_fault.py) share.

listen(port, port_file) binds 127.0.0.1:port (0: any free port), writes
the port to port_file (temp + rename) when given and to stdout, and
returns the socket (with a timeout, for serve) and the port; stopper()
returns an Event set by SIGTERM or SIGINT.

serve(lsock, stop, max_seconds, parent, log, on_conn) accepts connections
on lsock (which has a timeout set) and hands each to on_conn(conn), which
returns the thread serving it, until stop is set, max_seconds pass, the
process `parent` (a pid, or 0) or our own parent is gone; then it closes
lsock, waits a little for the threads and logs "stopped". A peer never
outlives the test that started it.
"""
import ctypes
import os
import signal
import socket
import threading
import time


def set_pdeathsig():
    """Be sent SIGTERM when the parent dies (prctl PR_SET_PDEATHSIG)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def stopper():
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return stop


def listen(port, port_file):
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(128)
    lsock.settimeout(0.2)
    port = lsock.getsockname()[1]
    if port_file:
        tmp = port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, port_file)
    return lsock, port


def serve(lsock, stop, max_seconds, parent, log, on_conn):
    deadline = time.monotonic() + max_seconds
    ppid = os.getppid()
    threads = []
    while not stop.is_set():
        if time.monotonic() >= deadline:
            log("stopping: --max-seconds %g passed" % max_seconds)
            break
        if parent:
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                log("stopping: process %d is gone" % parent)
                break
            except PermissionError:
                pass
        if os.getppid() != ppid:
            log("stopping: parent died")
            break
        try:
            conn, _ = lsock.accept()
        except socket.timeout:
            continue
        except OSError:
            if stop.is_set():
                break
            raise
        t = on_conn(conn)
        threads = [x for x in threads if x.is_alive()] + [t]
    stop.set()
    lsock.close()
    for t in threads:
        t.join(timeout=2)
    log("stopped")
