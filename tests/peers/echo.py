#!/usr/bin/env python3
"""echo.py: a trivial TCP echo server and client, to test faultproxy.py.

    echo.py serve --port-file F [--max-seconds 120]
        echo every byte back on 127.0.0.1 (a free port, written to F)
    echo.py send PORT --bytes N [--timeout 5]
        send N bytes (byte i is i % 251), half-close, read until EOF;
        print one JSON object: sent, received, the offsets where the reply
        differs from what was sent, eof or error, seconds
"""
import argparse
import json
import os
import socket
import sys
import threading
import time


def serve(a):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    ls.settimeout(0.2)
    with open(a.port_file + ".tmp", "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(a.port_file + ".tmp", a.port_file)
    end = time.monotonic() + a.max_seconds
    ppid = os.getppid()

    def echo(c):
        with c:
            c.settimeout(a.max_seconds)
            try:
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    c.sendall(d)
            except OSError:
                pass

    while time.monotonic() < end and os.getppid() == ppid:
        try:
            c, _ = ls.accept()
        except socket.timeout:
            continue
        threading.Thread(target=echo, args=(c,), daemon=True).start()


def send(a):
    data = bytes(i % 251 for i in range(a.bytes))
    res = {"sent": 0, "received": 0, "diffs": [], "end": "eof"}
    t0 = time.monotonic()
    got = b""
    try:
        s = socket.create_connection(("127.0.0.1", a.port), timeout=a.timeout)
        with s:
            def writer():
                try:
                    s.sendall(data)
                    res["sent"] = len(data)
                    s.shutdown(socket.SHUT_WR)
                except OSError as e:
                    res["send_error"] = e.__class__.__name__
            w = threading.Thread(target=writer, daemon=True)
            w.start()
            while True:
                d = s.recv(65536)
                if not d:
                    break
                got += d
            w.join(a.timeout)
    except socket.timeout:
        res["end"] = "timeout"
    except OSError as e:
        res["end"] = e.__class__.__name__
    res["received"] = len(got)
    res["diffs"] = [i for i in range(len(got)) if i >= len(data) or got[i] != data[i]][:20]
    res["seconds"] = round(time.monotonic() - t0, 3)
    print(json.dumps(res, sort_keys=True))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("serve")
    p.add_argument("--port-file", required=True)
    p.add_argument("--max-seconds", type=float, default=120)
    p = sub.add_parser("send")
    p.add_argument("port", type=int)
    p.add_argument("--bytes", type=int, default=1000)
    p.add_argument("--timeout", type=float, default=5)
    a = ap.parse_args()
    serve(a) if a.cmd == "serve" else send(a)


if __name__ == "__main__":
    sys.exit(main())
