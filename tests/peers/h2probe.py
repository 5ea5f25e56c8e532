#!/usr/bin/env python3
"""h2probe.py: show that a port speaks HTTP/2 and gRPC, with the standard
library only (the machine has no gRPC client).

    h2probe.py PORT                      preface + SETTINGS exchange only
    h2probe.py PORT --call /SERVICE/METHOD [--metadata] [--message HEX]

Connects to 127.0.0.1:PORT with prior knowledge (h2c), sends the client
preface and a SETTINGS frame, and waits for the server's SETTINGS and its
ACK of ours. With --call, makes one unary gRPC call on stream 1 (the message
is HEX, empty by default; --metadata adds the REAPI requestmetadata-bin
header that RemoteWorker insists on), and reads the response: its headers
and trailers (a small HPACK decoder: static and dynamic tables, no Huffman,
which Netty does not use for short strings), the gRPC message and its
top-level protobuf fields.

Prints one JSON object; exits 0 when the exchange (and the call, with
--call, up to its grpc-status) completed, 1 otherwise.
"""
import argparse
import base64
import json
import socket
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY = 0x1, 0x1, 0x4, 0x8, 0x20

STATIC = [None, (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"),
          (":path", "/index.html"), (":scheme", "http"), (":scheme", "https"), (":status", "200"),
          (":status", "204"), (":status", "206"), (":status", "304"), (":status", "400"),
          (":status", "404"), (":status", "500")] + [(n, "") for n in (
    "accept-charset", "accept-encoding", "accept-language", "accept-ranges", "accept",
    "access-control-allow-origin", "age", "allow", "authorization", "cache-control",
    "content-disposition", "content-encoding", "content-language", "content-length",
    "content-location", "content-range", "content-type", "cookie", "date", "etag", "expect",
    "expires", "from", "host", "if-match", "if-modified-since", "if-none-match", "if-range",
    "if-unmodified-since", "last-modified", "link", "location", "max-forwards",
    "proxy-authenticate", "proxy-authorization", "range", "referer", "refresh", "retry-after",
    "server", "set-cookie", "strict-transport-security", "transfer-encoding", "user-agent",
    "vary", "via", "www-authenticate")]
STATIC[16] = ("accept-encoding", "gzip, deflate")
assert len(STATIC) == 62


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def hpack_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def hpack_literal(name, value):
    """Literal header field without indexing, new name, no Huffman."""
    n, v = name.encode(), value.encode()
    return b"\x00" + hpack_int(len(n), 7) + n + hpack_int(len(v), 7) + v


class Decoder:
    def __init__(self):
        self.dynamic = []

    def _int(self, buf, i, prefix_bits):
        limit = (1 << prefix_bits) - 1
        value = buf[i] & limit
        i += 1
        if value < limit:
            return value, i
        shift = 0
        while True:
            b = buf[i]
            i += 1
            value += (b & 127) << shift
            shift += 7
            if not b & 128:
                return value, i

    def _str(self, buf, i):
        huff = buf[i] & 0x80
        n, i = self._int(buf, i, 7)
        raw = buf[i:i + n]
        return ("<huffman>" if huff else raw.decode("latin-1")), i + n

    def _entry(self, index):
        if index < len(STATIC):
            return STATIC[index]
        return self.dynamic[index - len(STATIC)]

    def decode(self, buf):
        out, i = [], 0
        while i < len(buf):
            b = buf[i]
            if b & 0x80:
                index, i = self._int(buf, i, 7)
                out.append(self._entry(index))
                continue
            if b & 0xE0 == 0x20:
                _, i = self._int(buf, i, 5)
                continue
            bits = 6 if b & 0x40 else 4
            index, i = self._int(buf, i, bits)
            if index:
                name = self._entry(index)[0]
            else:
                name, i = self._str(buf, i)
            value, i = self._str(buf, i)
            if b & 0x40:
                self.dynamic.insert(0, (name, value))
            out.append((name, value))
        return out


def proto_decode(msg):
    """A protobuf message's top-level fields, in order: [(number, wire type,
    value)], varints as ints and the other wire types as bytes."""
    fields, i = [], 0

    def varint():
        nonlocal i
        v, shift = 0, 0
        while True:
            b = msg[i]
            i += 1
            v |= (b & 127) << shift
            shift += 7
            if not b & 128:
                return v
    while i < len(msg):
        key = varint()
        num, wt = key >> 3, key & 7
        if wt == 0:
            v = varint()
        elif wt in (1, 2, 5):
            n = {1: 8, 5: 4}.get(wt) or varint()
            v = bytes(msg[i:i + n])
            if len(v) != n:
                raise ValueError("truncated message")
            i += n
        else:
            raise ValueError("wire type %d" % wt)
        fields.append((num, wt, v))
    return fields


def proto_fields(msg):
    """Top-level fields of a protobuf message: [[number, wire type], ...]."""
    return [[num, wt] for num, wt, _ in proto_decode(msg)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--call", help="gRPC method path, e.g. /build.bazel.remote.execution.v2.Capabilities/GetCapabilities")
    ap.add_argument("--metadata", action="store_true", help="send build.bazel.remote.execution.v2.requestmetadata-bin")
    ap.add_argument("--message", default="", help="the request message, hex")
    ap.add_argument("--timeout", type=float, default=10)
    a = ap.parse_args()

    res = {"server_settings": False, "settings_acked": False}
    deadline = time.monotonic() + a.timeout
    s = socket.create_connection((a.host, a.port), timeout=a.timeout)
    s.sendall(PREFACE + frame(SETTINGS, 0, 0))
    if a.call:
        hdr = b"".join(hpack_literal(k, v) for k, v in [
            (":method", "POST"), (":scheme", "http"), (":path", a.call),
            (":authority", "%s:%d" % (a.host, a.port)), ("content-type", "application/grpc"),
            ("te", "trailers")])
        if a.metadata:
            # RequestMetadata { tool_details { tool_name: "h2probe" } }
            md = b"\x0a\x09\x0a\x07h2probe"
            hdr += hpack_literal("build.bazel.remote.execution.v2.requestmetadata-bin",
                                 base64.b64encode(md).decode())
        msg = bytes.fromhex(a.message)
        s.sendall(frame(HEADERS, END_HEADERS, 1, hdr) +
                  frame(DATA, END_STREAM, 1, b"\x00" + struct.pack(">I", len(msg)) + msg))
        res.update(headers=[], data=b"", ended=False)
    dec, buf, block = Decoder(), b"", b""

    def done():
        ok = res["server_settings"] and res["settings_acked"]
        return ok and (not a.call or res["ended"])

    try:
        while not done():
            s.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = s.recv(65536)
            if not chunk:
                res["eof"] = True
                break
            buf += chunk
            while len(buf) >= 9:
                length = int.from_bytes(buf[:3], "big")
                if len(buf) < 9 + length:
                    break
                ftype, flags = buf[3], buf[4]
                stream = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
                payload, buf = buf[9:9 + length], buf[9 + length:]
                if ftype == SETTINGS:
                    if flags & ACK:
                        res["settings_acked"] = True
                    else:
                        res["server_settings"] = True
                        s.sendall(frame(SETTINGS, ACK, 0))
                elif ftype == PING and not flags & ACK:
                    s.sendall(frame(PING, ACK, 0, payload))
                elif ftype == GOAWAY:
                    res["goaway"] = int.from_bytes(payload[4:8], "big")
                elif ftype == RST_STREAM:
                    res["rst_stream"] = int.from_bytes(payload[:4], "big")
                    res["ended"] = True
                elif ftype in (HEADERS, CONTINUATION) and stream == 1:
                    if ftype == HEADERS:
                        if flags & PADDED:
                            payload = payload[1:len(payload) - payload[0]]
                        if flags & PRIORITY:
                            payload = payload[5:]
                        res["end_stream_on_headers"] = bool(flags & END_STREAM)
                    block += payload
                    if flags & END_HEADERS:
                        res["headers"] += dec.decode(block)
                        block = b""
                        if res.pop("end_stream_on_headers", False):
                            res["ended"] = True
                elif ftype == DATA and stream == 1:
                    if flags & PADDED:
                        payload = payload[1:len(payload) - payload[0]]
                    res["data"] += payload
                    if payload:
                        s.sendall(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", len(payload))))
                    if flags & END_STREAM:
                        res["ended"] = True
    except socket.timeout:
        res["timeout"] = True
    finally:
        s.close()

    if a.call:
        hd = dict(res.pop("headers"))
        res["status"] = hd.get(":status")
        res["grpc_status"] = hd.get("grpc-status")
        res["grpc_message"] = hd.get("grpc-message")
        data = res.pop("data")
        res["data_bytes"] = len(data)
        if len(data) >= 5:
            n = int.from_bytes(data[1:5], "big")
            res["message_bytes"] = n
            try:
                res["fields"] = proto_fields(data[5:5 + n])
            except (ValueError, IndexError) as e:
                res["fields_error"] = str(e)
    print(json.dumps(res, sort_keys=True))
    ok = done() and (not a.call or res["grpc_status"] is not None)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
