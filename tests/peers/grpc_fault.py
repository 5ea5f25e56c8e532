#!/usr/bin/env python3
"""grpc_fault.py: a gRPC server (h2c, prior knowledge) that answers every
call with the same status, for the remote tests (Python 3 standard library,
and libnghttp2 through ctypes for HPACK).

    grpc_fault.py [--status 14] [--message TEXT] [--answer METHOD=CODE]...
                  [--port 0] [--port-file F] [--log F] [--max-seconds 300]
                  [--parent PID]

Listens on 127.0.0.1. On each connection it does the HTTP/2 part a client
needs (SETTINGS both ways and their ACKs, PING ACKs, WINDOW_UPDATEs for
every DATA byte so that uploads never stall), reads each request to its
END_STREAM, and answers it trailers-only: one HEADERS frame with
END_STREAM carrying :status 200, content-type application/grpc,
grpc-status (the --status code: 14 UNAVAILABLE, 8 RESOURCE_EXHAUSTED,
13 INTERNAL, ...) and grpc-message. --answer METHOD=CODE answers the calls
of METHOD (the last part of the path, e.g. GetActionResult) with CODE
instead; CODE 0 (OK) answers with one empty message first, which is a
valid response for the calls whose response may be empty (FindMissingBlobs:
nothing is missing; BatchUpdateBlobs: no blob failed), so that a client
gets past them to the call under test.

The request headers are decoded by libnghttp2's HPACK inflater (the same
library cairn links with): gRPC clients Huffman-code their header strings,
which a few lines of Python cannot read. Without the library the paths are
logged as "?".

The log has "listening PORT" first, then one line per call:
    call N PATH grpc-status=CODE
and one per connection when it ends: "conn N calls=K end=REASON". The port
is also written to --port-file (by rename, once listening) and printed.

It stops by itself after --max-seconds, when the process --parent is gone,
when its parent process dies (PR_SET_PDEATHSIG), and on SIGTERM or SIGINT.
"""
import argparse
import ctypes
import ctypes.util
import os
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from h2probe import (ACK, CONTINUATION, DATA, END_HEADERS, END_STREAM, GOAWAY, HEADERS,  # noqa: E402
                     PADDED, PING, PREFACE, PRIORITY, RST_STREAM, SETTINGS, WINDOW_UPDATE,
                     frame, hpack_literal)
from peerlib import listen, serve, set_pdeathsig, stopper  # noqa: E402

lock = threading.Lock()
log_file = None
calls = 0


def log(line):
    with lock:
        if log_file:
            log_file.write(line + "\n")
            log_file.flush()


class Nv(ctypes.Structure):
    _fields_ = [("name", ctypes.POINTER(ctypes.c_uint8)), ("value", ctypes.POINTER(ctypes.c_uint8)),
                ("namelen", ctypes.c_size_t), ("valuelen", ctypes.c_size_t), ("flags", ctypes.c_uint8)]


def load_nghttp2():
    for name in (ctypes.util.find_library("nghttp2"), "libnghttp2.so.14", "libnghttp2.so"):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        lib.nghttp2_hd_inflate_new.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
        lib.nghttp2_hd_inflate_hd2.restype = ctypes.c_ssize_t
        lib.nghttp2_hd_inflate_hd2.argtypes = [ctypes.c_void_p, ctypes.POINTER(Nv),
                                               ctypes.POINTER(ctypes.c_int), ctypes.c_char_p,
                                               ctypes.c_size_t, ctypes.c_int]
        lib.nghttp2_hd_inflate_end_headers.argtypes = [ctypes.c_void_p]
        lib.nghttp2_hd_inflate_del.argtypes = [ctypes.c_void_p]
        return lib
    return None


NGHTTP2 = load_nghttp2()
INFLATE_FINAL, INFLATE_EMIT = 0x01, 0x02


class Inflater:
    """One connection's HPACK decoder (its dynamic table lives as long)."""

    def __init__(self):
        self.p = ctypes.c_void_p()
        if NGHTTP2 and NGHTTP2.nghttp2_hd_inflate_new(ctypes.byref(self.p)) != 0:
            self.p = None

    def decode(self, block):
        if not NGHTTP2 or not self.p:
            return [(":path", "?")]
        out, nv, flags = [], Nv(), ctypes.c_int()
        buf = ctypes.create_string_buffer(block, len(block))
        off = 0
        while True:
            flags.value = 0
            n = NGHTTP2.nghttp2_hd_inflate_hd2(self.p, ctypes.byref(nv), ctypes.byref(flags),
                                               ctypes.cast(ctypes.byref(buf, off), ctypes.c_char_p),
                                               len(block) - off, 1)
            if n < 0:
                raise ValueError("HPACK: nghttp2 error %d" % n)
            off += n
            if flags.value & INFLATE_EMIT:
                out.append((ctypes.string_at(nv.name, nv.namelen).decode("latin-1"),
                            ctypes.string_at(nv.value, nv.valuelen).decode("latin-1")))
            if flags.value & INFLATE_FINAL:
                NGHTTP2.nghttp2_hd_inflate_end_headers(self.p)
                return out
            if n == 0 and off >= len(block):
                raise ValueError("HPACK: a truncated block")

    def close(self):
        if NGHTTP2 and self.p:
            NGHTTP2.nghttp2_hd_inflate_del(self.p)
            self.p = None


def answer(status, message):
    """The trailers-only response block."""
    return b"".join(hpack_literal(k, v) for k, v in [
        (":status", "200"), ("content-type", "application/grpc"),
        ("grpc-status", str(status)), ("grpc-message", message)])


def respond(stream, status, message):
    """The frames that answer a call: OK with one empty message (headers,
    the message, trailers), or trailers-only."""
    if status != 0:
        return frame(HEADERS, END_HEADERS | END_STREAM, stream, answer(status, message))
    return (frame(HEADERS, END_HEADERS, stream, b"".join(hpack_literal(k, v) for k, v in [
        (":status", "200"), ("content-type", "application/grpc")])) +
        frame(DATA, 0, stream, b"\x00\x00\x00\x00\x00") +
        frame(HEADERS, END_HEADERS | END_STREAM, stream, hpack_literal("grpc-status", "0")))


def handle(n, conn, a, stop):
    global calls
    end, ncalls = "eof", 0
    inf = Inflater()
    paths = {}            # stream -> :path, for requests not yet ended
    block, block_stream, block_ends = b"", 0, False
    try:
        conn.settimeout(0.2)
        buf = b""
        while len(buf) < len(PREFACE):
            if stop.is_set():
                end = "stopped"
                return
            try:
                d = conn.recv(65536)
            except socket.timeout:
                continue
            if not d:
                end = "eof-in-preface"
                return
            buf += d
        if buf[:len(PREFACE)] != PREFACE:
            end = "bad-preface"
            return
        buf = buf[len(PREFACE):]
        # a large window both ways: the client never waits to send
        conn.sendall(frame(SETTINGS, 0, 0, struct.pack(">HI", 4, 1 << 24)) +
                     frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", (1 << 24))))

        def ended(stream):
            global calls
            nonlocal ncalls
            path = paths.pop(stream, "?")
            with lock:
                calls += 1
                k = calls
            ncalls += 1
            status = a.answers.get(path.rsplit("/", 1)[-1], a.status)
            log("call %d %s grpc-status=%d" % (k, path, status))
            conn.sendall(respond(stream, status, a.message))

        while not stop.is_set():
            while len(buf) >= 9:
                length = int.from_bytes(buf[:3], "big")
                if len(buf) < 9 + length:
                    break
                ftype, flags = buf[3], buf[4]
                stream = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
                payload, buf = buf[9:9 + length], buf[9 + length:]
                if ftype == SETTINGS:
                    if not flags & ACK:
                        conn.sendall(frame(SETTINGS, ACK, 0))
                elif ftype == PING:
                    if not flags & ACK:
                        conn.sendall(frame(PING, ACK, 0, payload))
                elif ftype == GOAWAY:
                    end = "goaway"
                    return
                elif ftype == RST_STREAM:
                    paths.pop(stream, None)
                elif ftype == HEADERS or ftype == CONTINUATION:
                    if ftype == HEADERS:
                        if flags & PADDED:
                            payload = payload[1:len(payload) - payload[0]]
                        if flags & PRIORITY:
                            payload = payload[5:]
                        block, block_stream, block_ends = b"", stream, bool(flags & END_STREAM)
                    block += payload
                    if flags & END_HEADERS:
                        hd = dict(inf.decode(block))
                        paths[block_stream] = hd.get(":path", "?")
                        if block_ends:
                            ended(block_stream)
                elif ftype == DATA:
                    if flags & PADDED:
                        payload = payload[1:len(payload) - payload[0]]
                    if length:
                        conn.sendall(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", length)) +
                                     (frame(WINDOW_UPDATE, 0, stream, struct.pack(">I", length))
                                      if not flags & END_STREAM else b""))
                    if flags & END_STREAM and stream in paths:
                        ended(stream)
            try:
                d = conn.recv(65536)
            except socket.timeout:
                continue
            if not d:
                return
            buf += d
        end = "stopped"
    except (OSError, ValueError) as e:
        end = "error:%s" % e
    finally:
        inf.close()
        try:
            conn.close()
        except OSError:
            pass
        log("conn %d calls=%d end=%s" % (n, ncalls, end))


def main():
    global log_file
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--status", type=int, default=14, help="the grpc-status of every answer")
    ap.add_argument("--message", default="grpc_fault.py says so", help="its grpc-message")
    ap.add_argument("--answer", action="append", default=[], metavar="METHOD=CODE",
                    help="answer METHOD's calls with CODE instead (0: one empty message)")
    ap.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    ap.add_argument("--port-file", help="write the port there once listening")
    ap.add_argument("--log", help="one line per call and per connection")
    ap.add_argument("--max-seconds", type=float, default=300)
    ap.add_argument("--parent", type=int, help="stop when this process is gone")
    a = ap.parse_args()
    a.answers = {}
    for x in a.answer:
        method, _, code = x.partition("=")
        if not method or not code.isdigit():
            ap.error("--answer wants METHOD=CODE, not %r" % x)
        a.answers[method] = int(code)
    if not all(0 <= c <= 16 for c in [a.status] + list(a.answers.values())):
        ap.error("a gRPC code is 0 to 16")

    set_pdeathsig()
    if a.log:
        log_file = open(a.log, "a", buffering=1)
    if not NGHTTP2:
        sys.stderr.write("grpc_fault: no libnghttp2: paths are logged as '?'\n")

    stop = stopper()
    lsock, port = listen(a.port, a.port_file)
    log("listening %d status %d" % (port, a.status))
    print(port, flush=True)

    count = [0]

    def on_conn(conn):
        count[0] += 1
        t = threading.Thread(target=handle, args=(count[0], conn, a, stop), daemon=True)
        t.start()
        return t

    serve(lsock, stop, a.max_seconds, a.parent, log, on_conn)


if __name__ == "__main__":
    main()
