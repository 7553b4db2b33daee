#!/usr/bin/env python3
"""An HTTP(S) client for the sandgate-proxy tests, run inside a sandbox (and
on the host for self-tests). Every invocation prints exactly ONE JSON line
describing what happened, and exits 0 unless the command line is wrong.

Common options (any subcommand):
  --addr A        IP or hostname to connect to (default: --sni, else --host)
  --port N        default 443 for TLS, 80 for plain (raw: from HOST:PORT)
  --timeout S     overall deadline in seconds (default 5; expect: 10)
  --cafile F      verify the server against F (default: system trust)
  --insecure      do not verify the server certificate
  --sni NAME      the SNI (and name verified) | --no-sni (send none; only the
                  chain is verified then)
  --alpn LIST     offer ALPN, comma separated (e.g. h2,http/1.1)
  --plain         (expect, ws, pipeline) plain TCP instead of TLS

Subcommands:
  raw [HOST:PORT] --send DATA...
      plain TCP; sends DATA (text with \\r \\n \\t \\\\ \\xHH \\0 escapes, or
      "hex:0a0b..."), reads until close/timeout:
      {"connected", "error", "received", "closed"}
  tls --send TEXT...   TLS; sends TEXT (escapes as above; may hold several
      requests), reads responses:
      {"handshake", "error", "alpn", "version", "peer_cn", "peer_san",
       "issuer_cn", "received", "statuses", "responses": [{"status",
       "headers", "body"}], "closed", "complete"}
      peer_* and issuer_cn are only known when the certificate was verified.
  http --send TEXT...  the same over plain TCP:
      {"connected", "error", "received", "statuses", "responses", "closed",
       "complete"}
      tls and http stop reading as soon as the final responses to every
      request found in TEXT are complete (or on close/timeout);
      --until-close reads until close/timeout regardless.
      --send may be repeated: the parts go in separate writes, --gap S apart.
  expect --host H --path P --body TEXT
      POST with Expect: 100-continue; waits up to 5 s for an interim 100,
      then sends the body (not if a final response came first):
      {"handshake", "error", "got_100", "status", "body"}
  ws --host H --path /ws --message TEXT
      websocket handshake, one masked text frame, reads the echo:
      {"handshake", "error", "status", "accept_ok", "echo"}
  pipeline --host H --count N [--path P]
      N GETs (P?n=1 ... P?n=N) in one write, reads N responses:
      {"handshake", "error", "statuses", "count", "bodies", "closed"}
"""
import argparse
import base64
import hashlib
import json
import os
import re
import socket
import ssl
import struct
import sys
import time

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def unescape(s):
    """Text with backslash escapes, or hex: prefixed hex, to bytes."""
    if s.startswith("hex:"):
        return bytes.fromhex(s[4:])
    out = bytearray()
    i = 0
    simple = {"r": 13, "n": 10, "t": 9, "0": 0, "\\": 92, "'": 39, '"': 34}
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            d = s[i + 1]
            if d in simple:
                out.append(simple[d])
                i += 2
                continue
            if d == "x" and re.match(r"[0-9a-fA-F]{2}", s[i + 2:i + 4]):
                out.append(int(s[i + 2:i + 4], 16))
                i += 4
                continue
        out += c.encode("utf-8")
        i += 1
    return bytes(out)


def text(b):
    return b.decode("latin-1") if b is not None else None


class Deadline:
    def __init__(self, secs):
        self.end = time.monotonic() + secs

    def left(self):
        return max(0.0, self.end - time.monotonic())

    def arm(self, sock, cap=None):
        t = self.left()
        if cap is not None:
            t = min(t, cap)
        if t <= 0:
            raise socket.timeout("deadline")
        sock.settimeout(t)


def parse_headers(lines):
    out = []
    for ln in lines:
        n, _, v = ln.partition(b":")
        out.append((n.strip().decode("latin-1"), v.strip().decode("latin-1")))
    return out


def hget(headers, name):
    return [v for n, v in headers if n.lower() == name.lower()]


def parse_chunked(data, pos):
    """Returns (body, end) or None if incomplete, raises ValueError."""
    body = b""
    while True:
        i = data.find(b"\r\n", pos)
        if i < 0:
            return None
        size = data[pos:i].split(b";", 1)[0].strip()
        n = int(size, 16)
        pos = i + 2
        if n == 0:
            break
        if len(data) < pos + n + 2:
            return None
        body += data[pos:pos + n]
        if data[pos + n:pos + n + 2] != b"\r\n":
            raise ValueError("chunk not followed by CRLF")
        pos += n + 2
    while True:     # trailers up to the empty line
        i = data.find(b"\r\n", pos)
        if i < 0:
            return None
        ln = data[pos:i]
        pos = i + 2
        if not ln:
            return body, pos


def parse_responses(data, closed, methods=()):
    """Parses a stream of responses. Returns (responses, finals, done,
    rest): responses as dicts (interim ones too), the number of final ones,
    whether parsing stopped at a clean boundary (no partial response), and
    the bytes after a 101 or after unparseable data."""
    resps = []
    finals = 0
    pos = 0
    while pos < len(data):
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            return resps, finals, False, data[pos:]
        lines = data[pos:end].split(b"\r\n")
        m = re.match(rb"^HTTP/1\.[01] ([0-9]{3})(?: |$)", lines[0])
        if not m:
            return resps, finals, False, data[pos:]
        st = int(m.group(1))
        headers = parse_headers(lines[1:])
        r = {"status": st, "headers": [list(h) for h in headers],
             "body": ""}
        resps.append(r)
        pos = end + 4
        if st == 101:
            return resps, finals + 1, True, data[pos:]
        if 100 <= st < 200:
            continue
        method = methods[finals] if finals < len(methods) else "GET"
        finals += 1
        te = ",".join(hget(headers, "transfer-encoding")).lower()
        cl = hget(headers, "content-length")
        if method == "HEAD" or st in (204, 304):
            continue
        if "chunked" in te:
            try:
                got = parse_chunked(data, pos)
            except ValueError:
                return resps, finals, False, data[pos:]
            if got is None:
                r["body"] = text(data[pos:])
                r["incomplete"] = True
                return resps, finals - 1, False, b""
            r["body"], pos = text(got[0]), got[1]
            continue
        if cl:
            try:
                n = int(cl[0])
            except ValueError:
                return resps, finals, False, data[pos:]
            r["body"] = text(data[pos:pos + n])
            if len(data) < pos + n:
                r["incomplete"] = True
                return resps, finals - 1, False, b""
            pos += n
            continue
        r["body"] = text(data[pos:])
        if not closed:
            r["incomplete"] = True
            return resps, finals - 1, False, b""
        return resps, finals, True, b""
    return resps, finals, True, b""


def request_methods(data):
    """The methods of the requests in data (best effort), or None if it
    does not parse as a sequence of complete requests."""
    methods = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            return None
        lines = data[pos:end].split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
            return None
        methods.append(parts[0].decode("latin-1"))
        headers = parse_headers(lines[1:])
        pos = end + 4
        if "chunked" in ",".join(hget(headers, "transfer-encoding")).lower():
            try:
                got = parse_chunked(data, pos)
            except ValueError:
                return None
            if got is None:
                return None
            pos = got[1]
        elif hget(headers, "content-length"):
            try:
                pos += int(hget(headers, "content-length")[0])
            except ValueError:
                return None
        if "upgrade" in ",".join(hget(headers, "connection")).lower():
            break
    return methods


def tls_context(a):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if a.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        if a.cafile:
            ctx.load_verify_locations(cafile=a.cafile)
        else:
            ctx.load_default_certs()
        if a.no_sni:
            ctx.check_hostname = False
    if a.alpn:
        ctx.set_alpn_protocols([p for p in a.alpn.split(",") if p])
    return ctx


def connect(a, dl, out):
    """Connects (and handshakes unless plain); fills out, returns the
    socket or None."""
    tls = not a.plain
    host = a.addr or a.sni or a.host
    port = a.port or (443 if tls else 80)
    if tls:
        out["handshake"] = False
    else:
        out["connected"] = False
    try:
        s = socket.create_connection((host, port), timeout=max(dl.left(), 0.1))
    except OSError as e:
        out["error"] = "connect: %s" % (e.strerror or e)
        return None
    if not tls:
        out["connected"] = True
        return s
    try:
        ctx = tls_context(a)
        name = None if a.no_sni else (a.sni or a.host)
        s = ctx.wrap_socket(s, server_hostname=name,
                            do_handshake_on_connect=False)
        dl.arm(s)
        s.do_handshake()
    except ssl.SSLCertVerificationError as e:
        out["error"] = "verify: %s" % (e.verify_message or e)
        s.close()
        return None
    except (ssl.SSLError, OSError) as e:
        out["error"] = "handshake: %s" % e
        s.close()
        return None
    out["handshake"] = True
    out["alpn"] = s.selected_alpn_protocol()
    out["version"] = s.version()
    cert = s.getpeercert()
    if cert:
        def cn(rdns):
            for rdn in rdns:
                for k, v in rdn:
                    if k == "commonName":
                        return v
            return None
        out["peer_cn"] = cn(cert.get("subject", ()))
        out["issuer_cn"] = cn(cert.get("issuer", ()))
        out["peer_san"] = [v for k, v in cert.get("subjectAltName", ())]
    return s


def open_conn(a, out):
    """Connects as a says, plain or TLS, within a.timeout (a plain
    connection's out has no "handshake"). Returns (deadline, socket or
    None)."""
    if a.plain:
        out.pop("handshake", None)
    dl = Deadline(a.timeout)
    return dl, connect(a, dl, out)


def recv_some(s, dl, cap=None):
    """Returns bytes, b"" on close, None on timeout."""
    try:
        dl.arm(s, cap)
        return s.recv(65536)
    except socket.timeout:
        return None
    except ssl.SSLZeroReturnError:
        return b""
    except (ssl.SSLError, OSError) as e:
        if isinstance(e, ssl.SSLError) and "timed out" in str(e):
            return None
        return b""


def read_responses(s, dl, out, methods, data=b"", until_close=False):
    """Reads until close, timeout or (unless until_close) all responses to
    methods are complete. Returns (data, closed)."""
    closed = False
    while True:
        if not until_close and methods is not None:
            _, finals, done, _ = parse_responses(data, False, methods)
            if finals >= len(methods) and done:
                break
        b = recv_some(s, dl)
        if b is None:
            break
        if not b:
            closed = True
            break
        data += b
    return data, closed


def fill_responses(out, data, closed, methods):
    resps, finals, done, rest = parse_responses(data, closed, methods or ())
    out["received"] = text(data)
    out["statuses"] = [r["status"] for r in resps]
    out["responses"] = resps
    out["closed"] = closed
    out["complete"] = bool(methods is not None and finals >= len(methods)
                           and done)


def cmd_raw(a):
    out = {"connected": False, "error": None, "received": "", "closed": False}
    if a.target:
        host, _, port = a.target.rpartition(":")
        a.addr = a.addr or host
        a.port = a.port or int(port)
    a.plain = True
    dl, s = open_conn(a, out)
    if s is None:
        return out
    data = b""
    try:
        for i, part in enumerate(a.send):
            if i and a.gap:
                time.sleep(a.gap)
            s.sendall(unescape(part))
    except OSError as e:
        out["error"] = "send: %s" % (e.strerror or e)
    while True:
        b = recv_some(s, dl)
        if b is None:
            break
        if not b:
            out["closed"] = True
            break
        data += b
    s.close()
    out["received"] = text(data)
    return out


def cmd_exchange(a, tls):
    a.plain = not tls
    out = ({"handshake": False, "error": None, "alpn": None} if tls else
           {"connected": False, "error": None})
    out.update(received="", statuses=[], responses=[], closed=False,
               complete=False)
    dl, s = open_conn(a, out)
    if s is None:
        return out
    parts = [unescape(p) for p in a.send]
    methods = request_methods(b"".join(parts))
    try:
        for i, part in enumerate(parts):
            if i and a.gap:
                time.sleep(a.gap)
            s.sendall(part)
    except OSError as e:
        out["error"] = "send: %s" % (e.strerror or e)
    data, closed = read_responses(s, dl, out, methods,
                                  until_close=a.until_close)
    s.close()
    fill_responses(out, data, closed, methods)
    return out


def cmd_expect(a):
    out = {"handshake": False, "error": None, "got_100": False,
           "status": None, "body": None}
    dl, s = open_conn(a, out)
    if s is None:
        return out
    body = unescape(a.body)
    head = ("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\n"
            "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n"
            % (a.path, a.host or a.sni, len(body))).encode("latin-1")
    data = b""
    closed = False
    try:
        s.sendall(head)
        wait = Deadline(min(5.0, dl.left()))
        final = False
        while wait.left() > 0:
            b = recv_some(s, wait)
            if b is None:
                break
            if not b:
                closed = True
                break
            data += b
            resps, finals, _, _ = parse_responses(data, False, ["POST"])
            if any(r["status"] == 100 for r in resps):
                out["got_100"] = True
                break
            if finals or (resps and resps[-1]["status"] >= 200):
                final = True
                break
        if not final and not closed:
            s.sendall(body)
    except OSError as e:
        out["error"] = "send: %s" % (e.strerror or e)
    if not closed:
        data, closed = read_responses(s, dl, out, ["POST"], data)
    s.close()
    resps, _, _, _ = parse_responses(data, closed, ["POST"])
    for r in resps:
        if r["status"] >= 200:
            out["status"] = r["status"]
            out["body"] = r["body"]
            break
    return out


def cmd_ws(a):
    out = {"handshake": False, "error": None, "status": None,
           "accept_ok": False, "echo": None}
    dl, s = open_conn(a, out)
    if s is None:
        return out
    key = base64.b64encode(os.urandom(16))
    want = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n"
           % (a.path, a.host or a.sni, key.decode())).encode("latin-1")
    try:
        s.sendall(req)
        data, closed = read_responses(s, dl, out, ["GET"])
        resps, _, _, rest = parse_responses(data, closed, ["GET"])
        if not resps:
            out["error"] = "no response"
            return out
        r = resps[-1]
        out["status"] = r["status"]
        if r["status"] != 101:
            out["body"] = r["body"]
            return out
        out["accept_ok"] = hget([tuple(h) for h in r["headers"]],
                                "sec-websocket-accept") == [want]
        msg = a.message.encode("utf-8")
        mask = os.urandom(4)
        n = len(msg)
        if n < 126:
            hdr = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        s.sendall(hdr + mask +
                  bytes(c ^ mask[i & 3] for i, c in enumerate(msg)))
        buf = rest
        while True:
            f = ws_parse(buf)
            if f is not None:
                op, payload, used = f
                buf = buf[used:]
                if op in (1, 2):
                    out["echo"] = payload.decode("utf-8", "replace")
                    break
                if op == 8:
                    out["error"] = "closed by peer"
                    break
                continue    # pings and the like
            b = recv_some(s, dl)
            if not b:
                out["error"] = "no echo (%s)" % ("timeout" if b is None
                                                 else "closed")
                break
            buf += b
        try:
            cm = os.urandom(4)
            payload = struct.pack("!H", 1000)
            s.sendall(struct.pack("!BB", 0x88, 0x80 | len(payload)) + cm +
                      bytes(c ^ cm[i & 3] for i, c in enumerate(payload)))
        except OSError:
            pass
    except OSError as e:
        out["error"] = "%s" % (e.strerror or e)
    finally:
        s.close()
    return out


def ws_parse(buf):
    """One whole frame from buf: (opcode, unmasked payload, bytes used)
    or None."""
    if len(buf) < 2:
        return None
    op, n, pos = buf[0] & 0x0F, buf[1] & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, pos = struct.unpack("!H", buf[2:4])[0], 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, pos = struct.unpack("!Q", buf[2:10])[0], 10
    mask = None
    if buf[1] & 0x80:
        if len(buf) < pos + 4:
            return None
        mask, pos = buf[pos:pos + 4], pos + 4
    if len(buf) < pos + n:
        return None
    p = buf[pos:pos + n]
    if mask:
        p = bytes(c ^ mask[i & 3] for i, c in enumerate(p))
    return op, p, pos + n


def cmd_pipeline(a):
    out = {"handshake": False, "error": None, "statuses": [], "count": 0,
           "bodies": [], "closed": False}
    dl, s = open_conn(a, out)
    if s is None:
        return out
    sep = "&" if "?" in a.path else "?"
    req = b"".join(("GET %s%sn=%d HTTP/1.1\r\nHost: %s\r\n\r\n"
                    % (a.path, sep, i + 1, a.host or a.sni)).encode("latin-1")
                   for i in range(a.count))
    methods = ["GET"] * a.count
    try:
        s.sendall(req)
    except OSError as e:
        out["error"] = "send: %s" % (e.strerror or e)
    data, closed = read_responses(s, dl, out, methods)
    s.close()
    resps, finals, _, _ = parse_responses(data, closed, methods)
    finalr = [r for r in resps if r["status"] >= 200 and
              not r.get("incomplete")]
    out["statuses"] = [r["status"] for r in finalr]
    out["count"] = len(finalr)
    out["bodies"] = [r["body"] for r in finalr]
    out["closed"] = closed
    return out


def main():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--addr")
    common.add_argument("--port", type=int)
    common.add_argument("--timeout", type=float)
    common.add_argument("--cafile")
    common.add_argument("--insecure", action="store_true")
    common.add_argument("--sni")
    common.add_argument("--no-sni", action="store_true")
    common.add_argument("--alpn")
    common.add_argument("--plain", action="store_true")
    common.add_argument("--host")
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("raw", parents=[common])
    r.add_argument("target", nargs="?")
    for c in ("raw", "tls", "http"):
        q = r if c == "raw" else sub.add_parser(c, parents=[common])
        q.add_argument("--send", action="append", default=[])
        q.add_argument("--gap", type=float, default=0)
        q.add_argument("--until-close", action="store_true")
    e = sub.add_parser("expect", parents=[common])
    e.add_argument("--path", default="/")
    e.add_argument("--body", default="")
    w = sub.add_parser("ws", parents=[common])
    w.add_argument("--path", default="/ws")
    w.add_argument("--message", default="hello")
    pl = sub.add_parser("pipeline", parents=[common])
    pl.add_argument("--path", default="/")
    pl.add_argument("--count", type=int, default=3)
    a = p.parse_args()
    if a.timeout is None:
        a.timeout = 10 if a.cmd == "expect" else 5
    if not (a.addr or a.sni or a.host or getattr(a, "target", None)):
        p.error("need --addr (or --sni / --host)")
    if a.cmd == "raw":
        out = cmd_raw(a)
    elif a.cmd == "tls":
        out = cmd_exchange(a, True)
    elif a.cmd == "http":
        out = cmd_exchange(a, False)
    elif a.cmd == "expect":
        out = cmd_expect(a)
    elif a.cmd == "ws":
        out = cmd_ws(a)
    else:
        out = cmd_pipeline(a)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
