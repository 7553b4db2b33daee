"""Clients of sandgate-front that curl cannot be (gateway-expose.sh).

    python3 exposeclient.py CA ADDR:PORT HOST MODE [ARG...]

TLS to ADDR:PORT with SNI HOST, verified against the CA file CA; each
mode prints what the test compares:
  raw FILE          sends FILE's bytes as they are (\\n made \\r\\n unless
                    the file holds \\r), prints the status line of each
                    response read until the front closes (at most 10 s)
  slow              sends half a head and stops; prints the answer's
                    status line once the front gives up
  keepalive AUTH N  N GET /echo on one connection (Authorization: AUTH),
                    prints each status and the guest's peer port
  ws AUTH           a WebSocket to /ws: a text and a 100 kB binary
                    message echoed, then a close; prints "ws-ok"
  pipeline AUTH     two GET requests in one write; prints both statuses
"""
import base64
import json
import os
import re
import socket
import ssl
import struct
import sys
import time


def connect(ca, addr, host):
    a, p = addr.rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=ca)
    s = socket.create_connection((a, int(p)), timeout=20)
    return ctx.wrap_socket(s, server_hostname=host)


def read_all(s, limit=10.0):
    out = b""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        s.settimeout(max(0.1, end - time.monotonic()))
        try:
            d = s.recv(65536)
        except (socket.timeout, ssl.SSLError, ConnectionResetError):
            break
        if not d:
            break
        out += d
    return out


def statuses(data):
    # a status line may follow a body that ends without a line end
    return [m.decode("latin-1") for m in
            re.findall(rb"HTTP/1\.[01] [0-9]{3} [^\r\n]*", data)]


def ws_frame(op, data):
    mask = os.urandom(4)
    h = bytes([0x80 | op])
    if len(data) < 126:
        h += bytes([0x80 | len(data)])
    elif len(data) < 65536:
        h += bytes([0x80 | 126]) + struct.pack("!H", len(data))
    else:
        h += bytes([0x80 | 127]) + struct.pack("!Q", len(data))
    return h + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            raise EOFError("closed")
        b += d
    return b


def ws_read(s):
    h = recv_exact(s, 2)
    ln = h[1] & 127
    if ln == 126:
        ln = struct.unpack("!H", recv_exact(s, 2))[0]
    elif ln == 127:
        ln = struct.unpack("!Q", recv_exact(s, 8))[0]
    return h[0] & 15, recv_exact(s, ln)


def main():
    ca, addr, host, mode = sys.argv[1:5]
    args = sys.argv[5:]
    if mode == "raw":
        data = open(args[0], "rb").read()
        if b"\r" not in data:
            data = data.replace(b"\n", b"\r\n")
        s = connect(ca, addr, host)
        s.sendall(data)
        print("\n".join(statuses(read_all(s))))
    elif mode == "slow":
        s = connect(ca, addr, host)
        s.sendall(b"GET / HTTP/1.1\r\nHost: " + host.encode() + b"\r\nX-A:")
        print("\n".join(statuses(read_all(s, 30.0))))
    elif mode == "keepalive":
        auth, n = args[0], int(args[1])
        s = connect(ca, addr, host)
        f = s.makefile("rb")
        for _ in range(n):
            s.sendall(("GET /echo HTTP/1.1\r\nHost: %s\r\nAuthorization: "
                       "%s\r\n\r\n" % (host, auth)).encode())
            status = f.readline().split()[1].decode()
            length = 0
            while True:
                ln = f.readline()
                if ln in (b"\r\n", b""):
                    break
                k, _, v = ln.decode("latin-1").partition(":")
                if k.lower() == "content-length":
                    length = int(v)
            body = f.read(length)
            print(status, json.loads(body)["peer"])
    elif mode == "ws":
        auth = args[0]
        s = connect(ca, addr, host)
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(("GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                   "Sec-WebSocket-Version: 13\r\nAuthorization: %s\r\n\r\n"
                   % (host, key, auth)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(1)
        if not head.startswith(b"HTTP/1.1 101"):
            print("ws-refused " + head.split(b"\r\n")[0].decode())
            return 1
        s.sendall(ws_frame(1, b"hello ws"))
        op, d = ws_read(s)
        big = os.urandom(100000)
        s.sendall(ws_frame(2, big))
        op2, d2 = ws_read(s)
        s.sendall(ws_frame(8, b""))
        op3, _ = ws_read(s)
        ok = (op, d, op2, d2 == big, op3) == (1, b"hello ws", 2, True, 8)
        print("ws-ok" if ok else "ws-bad %r" % ((op, d[:20], op2, op3),))
    elif mode == "pipeline":
        auth = args[0]
        s = connect(ca, addr, host)
        req = ("GET /echo HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n\r\n"
               % (host, auth)).encode()
        s.sendall(req + req.replace(b"Authorization", b"Connection: close"
                                    b"\r\nAuthorization"))
        print("\n".join(statuses(read_all(s))))
    else:
        print("unknown mode", mode, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
