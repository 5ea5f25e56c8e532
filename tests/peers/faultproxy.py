#!/usr/bin/env python3
"""faultproxy.py: a fault-injecting TCP proxy for the remote tests (Python 3
standard library only). Listens on 127.0.0.1, forwards each connection to
127.0.0.1:TARGET, and does to it what its mode says.

    faultproxy.py --target PORT [--port 0] [--port-file F] [--mode MODES]
                  [--control F] [--log F] [--max-seconds 300] [--parent PID]

A mode, for one connection, is one of these or several joined by '+':
    pass          forward both ways
    drop          accept, then close at once (the client sees EOF)
    reset         accept, then close with a TCP RST
    delay=MS      wait MS milliseconds before connecting and forwarding
    stall         accept and never answer (until the proxy stops)
    cut=N         close both sides once N bytes went either way (counted
                  per direction: whichever direction reaches N first)
    cut-up=N      ... once N bytes went client to server
    cut-down=N    ... once N bytes went server to client
    flip=N        invert the byte (xor 0xff) at offset N of the server-to-
                  client stream; flip=N:MASK xors with MASK (hex or decimal)
e.g. delay=200+flip=100.

MODES is a list, separated by spaces, commas or newlines ('#' starts a
comment to the end of its line): the first
connection takes the first mode, the second the second, and so on; the last
one stays for every later connection ("drop drop pass": two connections
dropped, then all pass). The control file, when given and present, is read
again at every new connection; when its text changes, its list replaces the
current one and the count starts again at its first mode. Write it by
rename (tests/peers/faultproxy.sh's faultproxy_mode does) so that no
connection reads half a file.

The log has one line per connection when it ends:
    conn N mode=M up=BYTES down=BYTES [flipped=OFFSET] [cut] end=REASON
and "listening PORT" first. The port is also written to --port-file (by
rename, once listening) and printed on stdout.

It stops by itself after --max-seconds, when the process --parent is gone,
when its parent process dies (PR_SET_PDEATHSIG), and on SIGTERM or SIGINT.
"""
import argparse
import os
import re
import select
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peerlib import listen, serve, set_pdeathsig, stopper  # noqa: E402

lock = threading.Lock()
log_file = None


def log(line):
    with lock:
        if log_file:
            log_file.write(line + "\n")
            log_file.flush()


class Mode:
    """One connection's faults, parsed from e.g. "delay=10+flip=3:0x01"."""

    def __init__(self, text):
        self.text = text
        self.drop = self.reset = self.stall = False
        self.delay_ms = 0
        self.cut_up = self.cut_down = None
        self.flip_at = None
        self.flip_mask = 0xFF
        for part in text.split("+"):
            name, _, arg = part.partition("=")
            if name == "pass" and not arg:
                pass
            elif name in ("drop", "reset", "stall") and not arg:
                setattr(self, name, True)
            elif name == "delay":
                self.delay_ms = self._num(part, arg)
            elif name == "cut":
                self.cut_up = self.cut_down = self._num(part, arg)
            elif name == "cut-up":
                self.cut_up = self._num(part, arg)
            elif name == "cut-down":
                self.cut_down = self._num(part, arg)
            elif name == "flip":
                off, _, mask = arg.partition(":")
                self.flip_at = self._num(part, off)
                if mask:
                    self.flip_mask = self._num(part, mask) & 0xFF
            else:
                raise ValueError("unknown mode %r" % part)

    @staticmethod
    def _num(part, arg):
        try:
            return int(arg, 0)
        except ValueError:
            raise ValueError("mode %r needs a number" % part) from None


def parse_modes(text):
    text = re.sub(r"#[^\n]*", "", text)
    items = [m for m in re.split(r"[\s,]+", text) if m]
    if not items:
        raise ValueError("no mode")
    return [Mode(m) for m in items]


class Plan:
    """The list of modes and the count of connections that used it."""

    def __init__(self, modes, control):
        self.text = None
        self.modes = parse_modes(modes)
        self.control = control
        self.index = 0
        self.conns = 0

    def next(self):
        with lock:
            if self.control:
                try:
                    with open(self.control) as f:
                        text = f.read()
                except FileNotFoundError:
                    text = None
                if text is not None and text != self.text:
                    self.text = text
                    try:
                        self.modes = parse_modes(text)
                        self.index = 0
                    except ValueError as e:
                        sys.stderr.write("faultproxy: control file: %s\n" % e)
            mode = self.modes[min(self.index, len(self.modes) - 1)]
            self.index += 1
            self.conns += 1
            return self.conns, mode


def close(*socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def handle(n, mode, client, target, stop):
    stats = {"up": 0, "down": 0}
    extra = []
    end = "eof"
    server = None
    try:
        if mode.reset:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            end = "reset"
            return
        if mode.drop:
            end = "drop"
            return
        if mode.stall:
            stop.wait()
            end = "stall"
            return
        if mode.delay_ms and stop.wait(mode.delay_ms / 1000.0):
            end = "stopped"
            return
        try:
            server = socket.create_connection(("127.0.0.1", target), timeout=10)
        except OSError as e:
            end = "connect-failed:%s" % e.strerror
            return
        server.settimeout(None)
        client.settimeout(None)
        peer = {client: server, server: client}
        open_ = {client: True, server: True}
        while any(open_.values()) and not stop.is_set():
            r, _, _ = select.select([s for s in open_ if open_[s]], [], [], 0.2)
            for s in r:
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    open_[s] = False
                    try:
                        peer[s].shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    continue
                key, limit = ("up", mode.cut_up) if s is client else ("down", mode.cut_down)
                before = stats[key]
                cut = limit is not None and before + len(data) >= limit
                if cut:
                    data = data[:max(0, limit - before)]
                if key == "down" and mode.flip_at is not None and before <= mode.flip_at < before + len(data):
                    i = mode.flip_at - before
                    data = data[:i] + bytes([data[i] ^ mode.flip_mask]) + data[i + 1:]
                    extra.append("flipped=%d" % mode.flip_at)
                try:
                    peer[s].sendall(data)
                except OSError:
                    open_[peer[s]] = False
                    end = "send-failed"
                stats[key] += len(data)
                if cut:
                    extra.append("cut")
                    end = "cut-%s" % key
                    return
        if stop.is_set():
            end = "stopped"
    finally:
        close(client)
        if server:
            close(server)
        log("conn %d mode=%s up=%d down=%d%s end=%s" % (
            n, mode.text, stats["up"], stats["down"], "".join(" " + e for e in extra), end))


def main():
    global log_file
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", type=int, required=True, help="port on 127.0.0.1 to forward to")
    ap.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    ap.add_argument("--port-file", help="write the port there once listening")
    ap.add_argument("--mode", default="pass", help="the modes (see the top of this file)")
    ap.add_argument("--control", help="file re-read at each new connection for the modes")
    ap.add_argument("--log", help="one line per connection")
    ap.add_argument("--max-seconds", type=float, default=300)
    ap.add_argument("--parent", type=int, help="stop when this process is gone")
    a = ap.parse_args()

    set_pdeathsig()
    try:
        plan = Plan(a.mode, a.control)
    except ValueError as e:
        ap.error(str(e))
    if a.log:
        log_file = open(a.log, "a", buffering=1)

    stop = stopper()
    lsock, port = listen(a.port, a.port_file)
    log("listening %d target %d" % (port, a.target))
    print(port, flush=True)

    def on_conn(client):
        n, mode = plan.next()
        t = threading.Thread(target=handle, args=(n, mode, client, a.target, stop), daemon=True)
        t.start()
        return t

    serve(lsock, stop, a.max_seconds, a.parent, log, on_conn)


if __name__ == "__main__":
    main()
