#!/usr/bin/env python3
"""grpc_raw.py: raw gRPC over cleartext HTTP/2 from the standard library, to
poke at `cairn serve` (tests/bb/serve.sh) with calls a real client would
never make. Requests are built by hand (HPACK literals without indexing,
no Huffman); responses are decoded with libnghttp2's HPACK inflater through
ctypes (grpc_fault.py's Inflater), since nghttp2 Huffman-codes its headers.

    grpc_raw.py PORT call PATH [--hex HEX]... | [--raw HEX]
        one call, each --hex a request message (--raw: the DATA bytes as
        they are, gRPC prefixes and all); prints
        {"status": CODE, "message": TEXT, "messages": [HEX, ...], ...}
    grpc_raw.py PORT fields PATH HEX...  the same, the one response message
        decoded as nested fields (see decode())
    grpc_raw.py PORT garbage             bytes that are not HTTP/2
    grpc_raw.py PORT truncated           a preface, then half a frame, close
    grpc_raw.py PORT streams N           N calls opened, none ended
    grpc_raw.py PORT slow SECONDS        a call sent one byte a second while
                                         other connections make calls
    grpc_raw.py PORT upload FILE [--resource R] [--chunk N] [--stop-after N]
                 [--bad-hash]            a ByteStream Write of FILE
    grpc_raw.py PORT read HASH SIZE [--offset N] [--limit N]
                                         a ByteStream Read: {status, len, sha256}
    grpc_raw.py PORT query RESOURCE      QueryWriteStatus
    grpc_raw.py PORT exec SCRIPT [--timeout S] [--salt X]
                                         an Action running `sh -c SCRIPT`
                                         (no inputs, no outputs) uploaded,
                                         then Executed: {status, code (the
                                         ExecuteResponse's), exit_code, seconds}
    grpc_raw.py PORT alive               Capabilities on a new connection:
                                         exit 0 when it answers OK

Each prints one JSON object; exit 0 unless the helper itself failed (the
test judges the JSON), except `alive`.
"""
import hashlib
import json
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from h2probe import (ACK, CONTINUATION, DATA, END_HEADERS, END_STREAM, GOAWAY, HEADERS,  # noqa: E402
                     PADDED, PING, PREFACE, PRIORITY, RST_STREAM, SETTINGS, WINDOW_UPDATE,
                     frame, hpack_literal, proto_decode)
from grpc_fault import Inflater  # noqa: E402

RE = "/build.bazel.remote.execution.v2."
CAPS = RE + "Capabilities/GetCapabilities"
FIND = RE + "ContentAddressableStorage/FindMissingBlobs"
BUPDATE = RE + "ContentAddressableStorage/BatchUpdateBlobs"
BREAD = RE + "ContentAddressableStorage/BatchReadBlobs"
GETAR = RE + "ActionCache/GetActionResult"
EXECUTE = RE + "Execution/Execute"
UPDAR = RE + "ActionCache/UpdateActionResult"
READ = "/google.bytestream.ByteStream/Read"
WRITE = "/google.bytestream.ByteStream/Write"
QUERY = "/google.bytestream.ByteStream/QueryWriteStatus"
WINDOW_MAX = (1 << 31) - 1

# ---- protobuf, by hand ----


def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_varint(num, v):
    return varint(num << 3) + varint(v)


def f_bytes(num, b):
    if isinstance(b, str):
        b = b.encode()
    return varint(num << 3 | 2) + varint(len(b)) + b


def digest(h, size):
    """A REAPI Digest message."""
    return f_bytes(1, h) + f_varint(2, size)


def digest_of(data):
    return digest(hashlib.sha256(data).hexdigest(), len(data))


def decode(msg):
    """A message as {field: [values]}: varints as ints, length-delimited as
    bytes (decode() again for a nested message)."""
    out = {}
    for num, _, v in proto_decode(msg):
        out.setdefault(num, []).append(v)
    return out


def tree(msg, depth=3):
    """decode() made JSON-friendly, nested messages tried depth levels down."""
    d = decode(msg)
    res = {}
    for k, vs in d.items():
        out = []
        for v in vs:
            if isinstance(v, bytes):
                try:
                    if depth <= 0:
                        raise ValueError
                    out.append(tree(v, depth - 1))
                except (ValueError, IndexError):
                    try:
                        out.append(v.decode())
                    except UnicodeDecodeError:
                        out.append(v.hex())
            else:
                out.append(v)
        res[str(k)] = out
    return res

# ---- HTTP/2 ----


class Stream:
    def __init__(self):
        self.headers = []
        self.data = bytearray()
        self.ended = False
        self.rst = None


class Conn:
    """One HTTP/2 connection, single-threaded: reads happen while waiting."""

    def __init__(self, port, host="127.0.0.1", timeout=20, handshake=True):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.host, self.port = host, port
        self.buf = b""
        self.inf = Inflater()
        self.block, self.block_sid, self.block_end = b"", 0, False
        self.conn_window = 65535
        self.init_window = 65535
        self.windows = {}
        self.streams = {}
        self.goaway = None
        self.eof = False
        self.next_id = 1
        self.settings_seen = False
        if handshake:
            # our windows as large as they go: nothing to acknowledge later
            self.s.sendall(PREFACE + frame(SETTINGS, 0, 0, struct.pack(">HI", 4, WINDOW_MAX) +
                                           struct.pack(">HI", 2, 0)) +
                           frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", WINDOW_MAX - 65535)))

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass
        self.inf.close()

    def pump(self, timeout):
        """Read once (up to timeout s) and handle the whole frames: False at
        EOF or on a reset connection."""
        if self.eof:
            return False
        self.s.settimeout(max(0.01, timeout))
        try:
            chunk = self.s.recv(1 << 20)
        except socket.timeout:
            return True
        except (ConnectionResetError, BrokenPipeError):
            self.eof = "reset"
            return False
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        while len(self.buf) >= 9:
            n = int.from_bytes(self.buf[:3], "big")
            if len(self.buf) < 9 + n:
                break
            ftype, flags = self.buf[3], self.buf[4]
            sid = int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
            payload, self.buf = self.buf[9:9 + n], self.buf[9 + n:]
            self.handle(ftype, flags, sid, payload)
        return True

    def send(self, b):
        try:
            self.s.sendall(b)
            return True
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.eof = self.eof or "reset"
            return False

    def handle(self, ftype, flags, sid, p):
        if ftype == SETTINGS:
            if flags & ACK:
                return
            self.settings_seen = True
            for i in range(0, len(p) - 5, 6):
                ident, val = struct.unpack(">HI", p[i:i + 6])
                if ident == 4:
                    delta = val - self.init_window
                    self.init_window = val
                    for k in self.windows:
                        self.windows[k] += delta
            self.send(frame(SETTINGS, ACK, 0))
        elif ftype == WINDOW_UPDATE:
            inc = int.from_bytes(p[:4], "big") & 0x7FFFFFFF
            if sid == 0:
                self.conn_window += inc
            elif sid in self.windows:
                self.windows[sid] += inc
        elif ftype == PING:
            if not flags & ACK:
                self.send(frame(PING, ACK, 0, p))
            else:
                self.pinged = True
        elif ftype == GOAWAY:
            self.goaway = {"last": int.from_bytes(p[:4], "big") & 0x7FFFFFFF,
                           "code": int.from_bytes(p[4:8], "big"), "debug": p[8:].decode("latin-1")}
        elif ftype == RST_STREAM:
            st = self.streams.setdefault(sid, Stream())
            st.rst = int.from_bytes(p[:4], "big")
            st.ended = True
        elif ftype in (HEADERS, CONTINUATION):
            if ftype == HEADERS:
                if flags & PADDED:
                    p = p[1:len(p) - p[0]]
                if flags & PRIORITY:
                    p = p[5:]
                self.block, self.block_sid, self.block_end = b"", sid, bool(flags & END_STREAM)
            self.block += p
            if flags & END_HEADERS:
                st = self.streams.setdefault(self.block_sid, Stream())
                st.headers += self.inf.decode(self.block)
                if self.block_end:
                    st.ended = True
        elif ftype == DATA:
            if flags & PADDED:
                p = p[1:len(p) - p[0]]
            st = self.streams.setdefault(sid, Stream())
            st.data += p
            if flags & END_STREAM:
                st.ended = True

    def ping(self, timeout=20):
        """A PING, answered: the server has read everything sent before it."""
        self.pinged = False
        self.send(frame(PING, 0, 0, b"cairn-pn"))
        end = time.monotonic() + timeout
        while not self.pinged and not self.eof and time.monotonic() < end:
            self.pump(end - time.monotonic())
        return self.pinged

    def open(self, path, end=False, headers=None):
        """Start a call: its stream id."""
        sid = self.next_id
        self.next_id += 2
        hdr = b"".join(hpack_literal(k, v) for k, v in (headers or [
            (":method", "POST"), (":scheme", "http"), (":path", path),
            (":authority", "%s:%d" % (self.host, self.port)),
            ("content-type", "application/grpc"), ("te", "trailers")]))
        self.streams[sid] = Stream()
        self.windows[sid] = self.init_window
        self.send(frame(HEADERS, END_HEADERS | (END_STREAM if end else 0), sid, hdr))
        return sid

    def send_data(self, sid, data, end=False, deadline=None):
        """DATA frames within the flow-control windows: False when the
        stream or connection ended first."""
        deadline = deadline or time.monotonic() + 60
        data = memoryview(data)
        while True:
            st = self.streams[sid]
            if st.ended or self.eof or self.goaway:
                return False
            room = min(16384, self.conn_window, self.windows[sid], len(data))
            if room <= 0 and len(data):
                if time.monotonic() > deadline:
                    return False
                self.pump(0.5)
                continue
            chunk = bytes(data[:room])
            data = data[room:]
            last = end and not len(data)
            if not self.send(frame(DATA, END_STREAM if last else 0, sid, chunk)):
                return False
            self.conn_window -= room
            self.windows[sid] -= room
            if not len(data):
                return True

    def send_msg(self, sid, msg, end=False):
        return self.send_data(sid, b"\x00" + struct.pack(">I", len(msg)) + msg, end)

    def wait(self, sid, timeout=20):
        end = time.monotonic() + timeout
        while not self.streams[sid].ended and not self.eof and time.monotonic() < end:
            self.pump(end - time.monotonic())
        return self.streams[sid].ended

    def result(self, sid):
        st = self.streams[sid]
        hd = dict(st.headers)
        msgs, d = [], bytes(st.data)
        while len(d) >= 5:
            n = int.from_bytes(d[1:5], "big")
            msgs.append(d[5:5 + n])
            d = d[5 + n:]
        code = hd.get("grpc-status")
        res = {"status": int(code) if code is not None else None,
               "message": hd.get("grpc-message", ""), "messages": [m.hex() for m in msgs],
               "ended": st.ended}
        if st.rst is not None:
            res["rst"] = st.rst
        if self.goaway:
            res["goaway"] = self.goaway
        if self.eof:
            res["eof"] = self.eof
        return res

    def call(self, path, msgs, timeout=20):
        sid = self.open(path, end=not msgs)
        for i, m in enumerate(msgs):
            self.send_msg(sid, m, end=i == len(msgs) - 1)
        self.wait(sid, timeout)
        return self.result(sid)


def unary(port, path, msg, timeout=20):
    c = Conn(port)
    try:
        return c.call(path, [msg], timeout)
    finally:
        c.close()


def alive(port, timeout=10):
    """Capabilities on a new connection answers OK."""
    try:
        r = unary(port, CAPS, b"", timeout)
    except OSError as e:
        return {"ok": False, "error": str(e)}
    r["ok"] = r["status"] == 0 and len(r["messages"]) == 1
    return r

# ---- the commands ----


def cmd_exec(port, args):
    script = args[0]
    timeout = int(args[args.index("--timeout") + 1]) if "--timeout" in args else 0
    salt = args[args.index("--salt") + 1] if "--salt" in args else ""
    command = b"".join(f_bytes(1, a) for a in ("/bin/sh", "-c", script))
    empty = hashlib.sha256(b"").hexdigest()
    action = f_bytes(1, digest_of(command)) + f_bytes(2, digest(empty, 0))
    if timeout:
        action += f_bytes(6, f_varint(1, timeout))
    action += f_varint(7, 1) + f_bytes(9, salt)  # do_not_cache, salt
    c = Conn(port, timeout=120)
    try:
        up = b"".join(f_bytes(2, f_bytes(1, digest_of(b)) + f_bytes(2, b)) for b in (command, action))
        r = c.call(BUPDATE, [up])
        if r["status"] != 0:
            return {"status": r["status"], "message": r["message"], "step": "upload"}
        t0 = time.monotonic()
        r = c.call(EXECUTE, [f_varint(3, 1) + f_bytes(6, digest_of(action))], timeout=120)
    finally:
        c.close()
    res = {"status": r["status"], "message": r["message"], "seconds": round(time.monotonic() - t0, 2)}
    if r["messages"]:
        op = decode(bytes.fromhex(r["messages"][-1]))
        er = decode(decode(op[5][0])[2][0]) if 5 in op else {}
        st = decode(er[3][0]) if 3 in er else {}
        res["code"] = st.get(1, [0])[0]
        res["exit_code"] = decode(er[1][0]).get(4, [0])[0] if 1 in er else None
    return res



def cmd_garbage(port, args):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(4096))
    got, closed = b"", False
    try:
        while True:
            b = s.recv(65536)
            if not b:
                closed = True
                break
            got += b
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    s.close()
    return {"closed": closed, "answer_bytes": len(got)}


def cmd_truncated(port, args):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    # a HEADERS frame that says 100 bytes and brings 10
    s.sendall(PREFACE + frame(SETTINGS, 0, 0) +
              struct.pack(">I", 100)[1:] + bytes([HEADERS, END_HEADERS]) + struct.pack(">I", 1) +
              b"\x00" * 10)
    time.sleep(0.2)
    s.close()
    return {"sent": True}


def cmd_streams(port, args):
    n = int(args[0])
    c = Conn(port)
    # the server's SETTINGS first, so that its limit is known
    end = time.monotonic() + 5
    while not c.settings_seen and time.monotonic() < end:
        c.pump(0.5)
    for _ in range(n):
        c.open(FIND)
        if c.eof:
            break
    # while they hang open, another client is served
    other = alive(port)
    end = time.monotonic() + 3
    while time.monotonic() < end and not c.eof:
        c.pump(0.3)
    refused = sum(1 for s in c.streams.values() if s.rst is not None)
    res = {"opened": len(c.streams), "refused": refused, "goaway": c.goaway,
           "eof": c.eof, "other_ok": other["ok"]}
    # and the first calls still finish, if the connection lives
    if not c.eof and not c.goaway:
        c.send_msg(1, b"", end=True)
        c.wait(1, 10)
        res["first_call"] = c.result(1)["status"]
    c.close()
    return res


def cmd_slow(port, args):
    secs = float(args[0])
    c = Conn(port)
    req = f_bytes(2, digest_of(b"slow"))
    wire = b"\x00" + struct.pack(">I", len(req)) + req
    sid = c.open(FIND)
    lat, fails, stop = [], [], threading.Event()

    def others():
        while not stop.is_set():
            t0 = time.monotonic()
            r = alive(port, 10)
            lat.append(time.monotonic() - t0)
            if not r["ok"]:
                fails.append(r)
            time.sleep(0.2)
    th = threading.Thread(target=others)
    th.start()
    t0 = time.monotonic()
    i = 0
    # one byte a second for `secs` s (the message is longer: the rest at once)
    while time.monotonic() - t0 < secs and i < len(wire) - 1:
        c.send_data(sid, wire[i:i + 1])
        i += 1
        c.pump(1.0)
    c.send_data(sid, wire[i:], end=True)
    c.wait(sid, 10)
    stop.set()
    th.join()
    r = c.result(sid)
    c.close()
    return {"slow_status": r["status"], "slow_missing": len(decode(bytes.fromhex(r["messages"][0])).get(2, []))
            if r["messages"] else None, "bytes_slowly": i, "other_calls": len(lat),
            "other_failures": len(fails), "other_max_s": round(max(lat), 3) if lat else None}


def cmd_upload(port, args):
    path = args[0]
    flags = {"--bad-hash", "--hang"}
    rest = [a for a in args[1:] if a not in flags]
    opts = dict(zip(rest[0::2], rest[1::2]))
    data = open(path, "rb").read()
    h = hashlib.sha256(data).hexdigest()
    if "--bad-hash" in args:
        h = hashlib.sha256(data + b"x").hexdigest()
    resource = opts.get("--resource", "uploads/5f1e8a1c-0000-4000-8000-000000000001/blobs/%s/%d" % (h, len(data)))
    chunk = int(opts.get("--chunk", 1 << 20))
    stop_after = int(opts.get("--stop-after", -1))
    offset = int(opts.get("--offset", 0))
    c = Conn(port, timeout=60)
    sid = c.open(WRITE)
    off, first = offset, True
    while True:
        piece = data[off:off + chunk]
        last = off + len(piece) >= len(data)
        m = (f_bytes(1, resource) if first else b"") + f_varint(2, off) + \
            (f_varint(3, 1) if last else b"") + (f_bytes(10, piece) if piece else b"")
        first = False
        if not c.send_msg(sid, m, end=last):
            break
        off += len(piece)
        if stop_after >= 0 and off >= stop_after:
            # a broken upload: the connection goes, mid-call
            print(json.dumps({"stopped_at": off, "hash": h}), flush=True)
            if "--hang" in args:
                time.sleep(3600)
            # a clean end (FIN after every byte, what the server sent read)
            # so that all that was sent arrives
            c.s.shutdown(socket.SHUT_WR)
            end = time.monotonic() + 10
            while c.pump(0.5) and time.monotonic() < end:
                pass
            c.close()
            return None
        if last:
            break
    c.wait(sid, 120)
    r = c.result(sid)
    c.close()
    if r["messages"]:
        r["committed"] = decode(bytes.fromhex(r["messages"][0])).get(1, [0])[0]
    r["hash"] = h
    r["size"] = len(data)
    del r["messages"]
    return r


def cmd_read(port, args):
    h, size = args[0], int(args[1])
    opts = dict(zip(args[2::2], args[3::2]))
    m = f_bytes(1, "blobs/%s/%d" % (h, size))
    if "--offset" in opts:
        m += f_varint(2, int(opts["--offset"]))
    if "--limit" in opts:
        m += f_varint(3, int(opts["--limit"]))
    c = Conn(port, timeout=60)
    r = c.call(READ, [m], 120)
    c.close()
    data = b"".join(decode(bytes.fromhex(x)).get(10, [b""])[0] for x in r["messages"])
    return {"status": r["status"], "message": r["message"], "len": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "chunks": len(r["messages"])}


def main():
    port, cmd, args = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    if cmd == "alive":
        r = alive(port)
        print(json.dumps(r, sort_keys=True))
        sys.exit(0 if r["ok"] else 1)
    if cmd in ("call", "fields"):
        path = args[0]
        hexes = [args[i + 1] for i, a in enumerate(args) if a == "--hex"] if cmd == "call" else args[1:]
        raw = [args[i + 1] for i, a in enumerate(args) if a == "--raw"]
        c = Conn(port)
        if raw:
            # DATA as given (a prefix of one's own making), then END_STREAM
            sid = c.open(path)
            c.send_data(sid, bytes.fromhex("".join(raw)), end=True)
            c.wait(sid)
            r = c.result(sid)
        else:
            r = c.call(path, [bytes.fromhex(h) for h in hexes])
        c.close()
        if cmd == "fields" and r["messages"]:
            r["fields"] = tree(bytes.fromhex(r["messages"][0]))
        print(json.dumps(r, sort_keys=True))
        return
    if cmd == "query":
        r = unary(port, QUERY, f_bytes(1, args[0]))
        if r["messages"]:
            d = decode(bytes.fromhex(r["messages"][0]))
            r["committed"] = d.get(1, [0])[0]
            r["complete"] = bool(d.get(2, [0])[0])
        print(json.dumps(r, sort_keys=True))
        return
    fn = {"garbage": cmd_garbage, "truncated": cmd_truncated, "streams": cmd_streams,
          "slow": cmd_slow, "upload": cmd_upload, "read": cmd_read, "exec": cmd_exec}[cmd]
    r = fn(port, args)
    if r is not None:
        print(json.dumps(r, sort_keys=True))


if __name__ == "__main__":
    main()
