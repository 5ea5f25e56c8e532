"""peerlib.py: what the Python peers (faultproxy.py, grpc_fault.py) share.

serve(lsock, stop, max_seconds, parent, log, on_conn) accepts connections
on lsock (which has a timeout set) and hands each to on_conn(conn), which
returns the thread serving it, until stop is set, max_seconds pass, the
process `parent` (a pid, or 0) or our own parent is gone; then it closes
lsock, waits a little for the threads and logs "stopped". A peer never
outlives the test that started it.
"""
import os
import socket
import time


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
