#!/usr/bin/env python3
r"""A test upstream for the sandgate-proxy tests: run it inside a network
namespace the test made (ip netns exec NS python3 proxyhost.py ...). It
serves HTTP/1.1 until --lifetime seconds have passed (then it exits by
itself):

  --https ADDR:PORT:CERT:KEY   TLS on ADDR:PORT with that certificate chain
                               and key (PEM files); ALPN offers http/1.1
  --http ADDR:PORT             plain HTTP on ADDR:PORT
  --name LABEL                 names this upstream in every log record and
                               in every response (header X-Upstream, and
                               "upstream" in echo bodies)
  --log FILE                   one JSON object per line (flushed)
  --ready FILE                 created once every socket listens
  --lifetime SECS              default 600

Requests are parsed from the raw bytes here (not http.server), strictly, so
the log shows exactly what arrived: one record per request,
  {"upstream", "tls", "sni", "alpn", "peer", "method", "target", "version",
   "headers": [[name, value], ...], "framing": "none"|"length"|"chunked",
   "body": latin-1 text (chunked bodies decoded), "raw_head": latin-1 text}
and for a request that could not be parsed (answered 400, then closed)
  {"upstream", "tls", "sni", "alpn", "peer", "error": "...",
   "raw": the first 4 KiB the connection received}
("closed mid-request" when the peer went away inside a request). A TLS
handshake that fails is logged as {"upstream", "tls": true, "sni", "peer",
"error": "handshake: ..."}. A connection closed before its first
byte is not logged.

Responses (HTTP/1.1, keep-alive unless the request asked to close):
  /status/NNN   status NNN, empty body
  /chunked      the echo below, sent chunked in small chunks
  /ws           with Upgrade: websocket: 101 and a websocket echo (text and
                binary frames come back unmasked, ping gets pong, close
                ends it)
  /slow         the echo, after 2 s
  anything else 200 with a JSON echo {"upstream", "tls", "sni", "method",
                "target", "headers", "body"} and Content-Length
Expect: 100-continue gets "HTTP/1.1 100 Continue" before the body is read.
A request with an X-Test-Drop-Next header is answered, and the next request
on its connection is not: its head is read, logged with "error": "dropped
unanswered", and the connection closed (a kept connection that a server
closes just as it is reused).

An echo service, as httpbin, webhook inspectors and debug pages are: a
request with "X-Test-Echo: FORM [CODING [force]]" gets the whole request it
sent (head and body, as received) back in its body, in one form:
  plain       as it is
  json        a JSON string as PHP writes it: "\/" for "/", \u00XX
              escapes for control and non-ASCII bytes
  json-u      a JSON string with every character as \uXXXX (upper and
              lower case hex alternating)
  pct         percent-encoded three ways: upper case, lower case, and
              form style ("+" for a space)
  html        HTML-escaped, then again as &#NN; for every byte
  b64         base64 of it at byte offsets 0, 1 and 2, in the standard and
              the URL-safe alphabets, and MIME style (76-column lines)
  basic       only the Authorization value, as it came
CODING (gzip, deflate, deflate-raw, br, zstd, compress) compresses the
echo when the request's Accept-Encoding names it, or always with "force"
(br and zstd through the brotli and zstd programs; "compress" is a coding
label on an uncompressed body). A Range: bytes=A-B header is honoured
(206) on echoes; X-Test-Status: NNN sets the status of the echo (206
sends Content-Range too); X-Test-Chunked: yes sends it chunked, 7 bytes a
chunk. X-Test-Interim: yes sends a 103 Early Hints
head whose X-Echo field holds the Authorization value first, and puts
that value in the final status line's reason phrase. A WebSocket upgrade
with X-Test-WS: headers (on any path) answers with a 101 whose X-Echo
field holds the Authorization value and sends, after it, the request
head as a text message in three fragments cut inside the Authorization
value, its base64 as a binary message, a ping carrying the value, then
echoes as /ws does. X-Test-Store: KEY keeps the Authorization value
under KEY (across connections); X-Test-Fetch: KEY answers "kept: VALUE".
"""
import argparse
import base64
import hashlib
import html
import json
import re
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
import zlib

from nshost import tcp_serve

MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
IDLE = 60
TOKEN = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
REASONS = {100: "Continue", 101: "Switching Protocols", 200: "OK",
           204: "No Content", 301: "Moved Permanently", 302: "Found",
           304: "Not Modified", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 413: "Payload Too Large",
           417: "Expectation Failed", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout"}


class BadRequest(Exception):
    pass


class Closed(Exception):
    """The peer closed (or the idle timeout struck) mid-message."""


def log(args, rec):
    line = json.dumps(rec)
    with args.lock:
        with open(args.log, "a") as f:
            f.write(line + "\n")


class Conn:
    """A socket with a read buffer."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.seen = b""     # everything read, for error records (capped)

    def fill(self):
        try:
            b = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLError, OSError):
            b = b""
        if not b:
            raise Closed()
        self.buf += b
        if len(self.seen) < 4096:
            self.seen = (self.seen + b)[:4096]

    def exact(self, n):
        while len(self.buf) < n:
            self.fill()
        b, self.buf = self.buf[:n], self.buf[n:]
        return b

    def line(self, limit=MAX_HEAD):
        """One line ending in CRLF, without it."""
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                break
            if len(self.buf) > limit:
                raise BadRequest("line too long")
            self.fill()
        ln, self.buf = self.buf[:i + 1], self.buf[i + 1:]
        if not ln.endswith(b"\r\n"):
            raise BadRequest("bare LF")
        return ln[:-2]

    def head(self):
        """The raw head up to and including the empty line; None if the
        peer closed before sending anything."""
        while True:
            lines = self.buf.split(b"\n")
            n = 0
            for ln in lines[:-1]:
                n += len(ln) + 1
                if not ln.endswith(b"\r"):
                    raise BadRequest("bare LF in head")
                if ln == b"\r":
                    raw, self.buf = self.buf[:n], self.buf[n:]
                    return raw
            if len(self.buf) > MAX_HEAD:
                raise BadRequest("head too long")
            try:
                self.fill()
            except Closed:
                if not self.buf:
                    return None
                raise

    def send(self, b):
        self.sock.sendall(b)


def parse_head(raw):
    lines = raw.split(b"\n")[:-1]
    for ln in lines:
        if not ln.endswith(b"\r"):
            raise BadRequest("bare LF in head")
    lines = [ln[:-1] for ln in lines][:-1]
    if not lines:
        raise BadRequest("empty head")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not all(parts):
        raise BadRequest("bad request line")
    method, target, version = parts
    if not TOKEN.match(method):
        raise BadRequest("bad method")
    if version not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise BadRequest("bad version")
    if any(c <= 0x20 or c == 0x7F for c in target):
        raise BadRequest("bad target")
    headers = []
    for ln in lines[1:]:
        if ln[:1] in (b" ", b"\t"):
            raise BadRequest("obsolete line folding")
        name, sep, value = ln.partition(b":")
        if not sep or not TOKEN.match(name):
            raise BadRequest("bad header line")
        value = value.strip(b" \t")
        if any((c < 0x20 and c != 0x09) or c == 0x7F for c in value):
            raise BadRequest("control character in header value")
        headers.append((name.decode("latin-1"), value.decode("latin-1")))
    return (method.decode("latin-1"), target.decode("latin-1"),
            version.decode("latin-1"), headers)


def hget(headers, name):
    name = name.lower()
    return [v for n, v in headers if n.lower() == name]


def tokens(headers, name):
    out = []
    for v in hget(headers, name):
        out += [t.strip().lower() for t in v.split(",") if t.strip()]
    return out


def read_chunked(conn):
    body = b""
    while True:
        ln = conn.line(4096)
        size = ln.split(b";", 1)[0].strip(b" \t")
        if not size or not re.match(rb"^[0-9A-Fa-f]+$", size):
            raise BadRequest("bad chunk size")
        n = int(size, 16)
        if len(body) + n > MAX_BODY:
            raise BadRequest("body too large")
        if n == 0:
            break
        body += conn.exact(n)
        if conn.exact(2) != b"\r\n":
            raise BadRequest("chunk data not followed by CRLF")
    while conn.line(4096) != b"":   # trailers
        pass
    return body


def body_framing(version, headers):
    te = hget(headers, "transfer-encoding")
    cl = hget(headers, "content-length")
    if te and cl:
        raise BadRequest("both Transfer-Encoding and Content-Length")
    if te:
        if tokens(headers, "transfer-encoding") != ["chunked"]:
            raise BadRequest("unsupported transfer-encoding %r" % ",".join(te))
        if version == "HTTP/1.0":
            raise BadRequest("chunked in HTTP/1.0")
        return "chunked", 0
    if cl:
        vals = set(v.strip() for c in cl for v in c.split(","))
        if len(vals) != 1:
            raise BadRequest("conflicting Content-Length")
        v = vals.pop()
        if not v.isdigit():
            raise BadRequest("bad Content-Length")
        n = int(v)
        if n > MAX_BODY:
            raise BadRequest("body too large")
        return "length", n
    return "none", 0


def response(status, headers, body=b"", reason=None):
    reason = reason or REASONS.get(status, "Status")
    out = "HTTP/1.1 %d %s\r\n" % (status, reason)
    for n, v in headers:
        out += "%s: %s\r\n" % (n, v)
    return out.encode("latin-1") + b"\r\n" + body


def ws_frame(opcode, payload):
    n = len(payload)
    if n < 126:
        hdr = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        hdr = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        hdr = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return hdr + payload


def echo_form(form, raw):
    """The request bytes raw reflected in one form (see the docstring)."""
    text = raw.decode("latin-1")
    if form == "plain":
        return raw
    if form == "json":
        out = []
        for c in text:
            if c == "/":
                out.append("\\/")
            elif c in "\"\\":
                out.append("\\" + c)
            elif ord(c) < 0x20 or ord(c) > 0x7e:
                out.append("\\u%04x" % ord(c))
            else:
                out.append(c)
        return ('{"request": "%s"}' % "".join(out)).encode()
    if form == "json-u":
        return ('["%s"]' % "".join(("\\u%04X" if i & 1 else "\\u%04x") %
                                   ord(c) for i, c in enumerate(text))).encode()
    if form == "pct":
        q = urllib.parse.quote_from_bytes(raw, safe="")
        return ("%s\n%s\n%s\n" % (q, re.sub(r"%[0-9A-F]{2}",
                                             lambda m: m.group(0).lower(), q),
                                   urllib.parse.quote_plus(text))).encode()
    if form == "html":
        return ("<pre>%s</pre>\n<pre>%s</pre>\n" % (
            html.escape(text), "".join("&#%d;" % b for b in raw))).encode()
    if form == "b64":
        out = b""
        for pre in (b"", b"x", b"xy"):
            out += base64.b64encode(pre + raw) + b"\n"
            out += base64.urlsafe_b64encode(pre + raw) + b"\n"
        return out + base64.encodebytes(raw)
    raise BadRequest("unknown X-Test-Echo form %r" % form)


def compress(coding, data):
    if coding == "gzip":
        z = zlib.compressobj(6, zlib.DEFLATED, 16 + 15)
        return z.compress(data) + z.flush()
    if coding == "deflate":
        return zlib.compress(data)
    if coding == "deflate-raw":
        z = zlib.compressobj(6, zlib.DEFLATED, -15)
        return z.compress(data) + z.flush()
    if coding in ("br", "zstd"):
        prog = ["brotli", "-c"] if coding == "br" else ["zstd", "-q", "-c"]
        return subprocess.run(prog, input=data, stdout=subprocess.PIPE,
                              check=True).stdout
    if coding == "compress":
        return data
    raise BadRequest("unknown coding %r" % coding)


def ws_greet(conn, headers, raw):
    """The upgrade request echoed in messages, the value cut across
    fragments."""
    auth = "".join(hget(headers, "authorization"))
    text = raw
    cut = raw.find(auth.encode("latin-1")) if auth else -1
    if cut > 0 and len(auth) > 6:
        a, b = cut + 3, cut + len(auth) - 3   # inside the value
    else:
        a, b = len(text) // 3, 2 * len(text) // 3
    frames = [(0x1, text[:a], False), (0x0, text[a:b], False),
              (0x0, text[b:], True)]
    for op, part, fin in frames:
        n = len(part)
        hdr = struct.pack("!B", (0x80 if fin else 0) | op)
        if n < 126:
            hdr += struct.pack("!B", n)
        else:
            hdr += struct.pack("!BH", 126, n)
        conn.send(hdr + part)
    conn.send(ws_frame(0x2, base64.b64encode(raw)))
    conn.send(ws_frame(0x9, auth.encode("latin-1")[:125]))


def ws_echo(conn):
    """Echoes messages until a close frame (answered) or the peer goes."""
    msg, msg_op = b"", 0
    while True:
        b0, b1 = conn.exact(2)
        fin, op = b0 & 0x80, b0 & 0x0F
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", conn.exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", conn.exact(8))[0]
        if n > MAX_BODY:
            return
        mask = conn.exact(4) if b1 & 0x80 else None
        data = conn.exact(n)
        if mask:
            data = bytes(c ^ mask[i & 3] for i, c in enumerate(data))
        if op == 8:
            conn.send(ws_frame(8, data[:2]))
            return
        if op == 9:
            conn.send(ws_frame(10, data))
            continue
        if op == 10:
            continue
        if op in (1, 2):
            msg, msg_op = data, op
        elif op == 0:
            msg += data
        else:
            return
        if fin:
            conn.send(ws_frame(msg_op, msg))
            msg = b""


def serve_conn(args, sock, peer, tls_ctx):
    sock.settimeout(IDLE)
    base = {"upstream": args.name, "tls": tls_ctx is not None, "sni": None}
    peer = "%s:%d" % peer[:2]
    try:
        if tls_ctx is not None:
            try:
                sock = tls_ctx.wrap_socket(sock, server_side=True,
                                           do_handshake_on_connect=False)
                sock.settimeout(10)
                sock.do_handshake()
                sock.settimeout(IDLE)
            except (ssl.SSLError, OSError) as e:
                base["sni"] = getattr(sock, "sg_sni", None)
                log(args, dict(base, peer=peer, error="handshake: %s" % e))
                return
            base["sni"] = getattr(sock, "sg_sni", None)
            base["alpn"] = sock.selected_alpn_protocol()
        else:
            base["alpn"] = None
        conn = Conn(sock)
        while serve_one(args, conn, base, peer):
            pass
    except (Closed, OSError, ssl.SSLError):
        pass
    finally:
        try:
            sock.close()
        except OSError:
            pass


def serve_one(args, conn, base, peer):
    """One request; returns whether the connection stays open."""
    hdrs = [("X-Upstream", args.name)]
    try:
        raw = conn.head()
        if raw is None:
            return False
        method, target, version, headers = parse_head(raw)
        if base.pop("drop_next", False):
            # the race of a kept connection: closed as it is reused
            log(args, dict(base, peer=peer, error="dropped unanswered",
                           raw=raw.decode("latin-1")))
            return False
        if version == "HTTP/1.1" and len(hget(headers, "host")) != 1:
            raise BadRequest("HTTP/1.1 request needs exactly one Host")
        framing, n = body_framing(version, headers)
        if (framing != "none" and n != 0 or framing == "chunked") and \
                "100-continue" in tokens(headers, "expect") and \
                version == "HTTP/1.1":
            conn.send(response(100, []))
        if framing == "chunked":
            body = read_chunked(conn)
        else:
            body = conn.exact(n)
    except (BadRequest, Closed) as e:
        err = str(e) if isinstance(e, BadRequest) else "closed mid-request"
        log(args, dict(base, peer=peer, error=err,
                       raw=conn.seen.decode("latin-1")))
        if isinstance(e, BadRequest):
            body = b"bad request: " + err.encode() + b"\n"
            conn.send(response(400, hdrs + [
                ("Content-Type", "text/plain"),
                ("Content-Length", str(len(body))),
                ("Connection", "close")], body))
        return False
    log(args, dict(base, peer=peer, method=method, target=target,
                   version=version, headers=[list(h) for h in headers],
                   framing=framing, body=body.decode("latin-1"),
                   raw_head=raw.decode("latin-1")))

    if hget(headers, "x-test-drop-next"):
        base["drop_next"] = True    # the next request here goes unanswered
    conntok = tokens(headers, "connection")
    close = "close" in conntok or (version == "HTTP/1.0" and
                                   "keep-alive" not in conntok)
    if close:
        hdrs.append(("Connection", "close"))
    elif version == "HTTP/1.0":
        hdrs.append(("Connection", "keep-alive"))
    path = target
    m = re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*(.*)$", target)
    if m:
        path = m.group(1) or "/"
    path = path.split("?", 1)[0]
    echo = dict(upstream=args.name, tls=base["tls"], sni=base["sni"],
                method=method, target=target,
                headers=[list(h) for h in headers],
                body=body.decode("latin-1"))
    ebody = json.dumps(echo).encode()
    head_only = method == "HEAD"

    m = re.match(r"^/status/([0-9]{3})$", path)
    if m:
        st = int(m.group(1))
        if st >= 200 and st not in (204, 304):
            hdrs.append(("Content-Length", "0"))
        conn.send(response(st, hdrs))
        return not close
    if (path == "/ws" or hget(headers, "x-test-ws")) and \
            "websocket" in tokens(headers, "upgrade"):
        key = "".join(hget(headers, "sec-websocket-key")).strip()
        acc = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest())
        greet = "".join(hget(headers, "x-test-ws")).strip() == "headers"
        conn.send(response(101, [("X-Upstream", args.name),
                                 ("Upgrade", "websocket"),
                                 ("Connection", "Upgrade"),
                                 ("Sec-WebSocket-Accept", acc.decode())] +
                           ([("X-Echo", "".join(hget(headers, "authorization")))]
                            if greet else [])))
        if greet:
            ws_greet(conn, headers, raw)
        ws_echo(conn)
        return False
    if hget(headers, "x-test-store"):
        # a webhook inspector: keeps what came, shows it later
        with args.lock:
            args.store["".join(hget(headers, "x-test-store"))] = \
                "".join(hget(headers, "authorization"))
    if hget(headers, "x-test-fetch"):
        with args.lock:
            kept = args.store.get("".join(hget(headers, "x-test-fetch")), "")
        data = ("kept: %s\n" % kept).encode("latin-1")
        conn.send(response(200, hdrs + [("Content-Length", str(len(data)))],
                           b"" if head_only else data))
        return not close
    if hget(headers, "x-test-echo"):
        return serve_echo(conn, hdrs, headers, raw + body, close, head_only)
    if path == "/slow":
        time.sleep(2)
    hdrs.append(("Content-Type", "application/json"))
    if path == "/chunked":
        hdrs.append(("Transfer-Encoding", "chunked"))
        conn.send(response(200, hdrs))
        if not head_only:
            step = max(1, (len(ebody) + 4) // 5)
            for i in range(0, len(ebody), step):
                part = ebody[i:i + step]
                conn.send(b"%x\r\n%s\r\n" % (len(part), part))
            conn.send(b"0\r\n\r\n")
        return not close
    hdrs.append(("Content-Length", str(len(ebody))))
    conn.send(response(200, hdrs, b"" if head_only else ebody))
    return not close


def serve_echo(conn, hdrs, headers, request, close, head_only):
    """The echo service (see the docstring); whether the connection
    stays open."""
    spec = "".join(hget(headers, "x-test-echo")).split()
    if spec[0] == "basic":
        body = "".join(hget(headers, "authorization")).encode("latin-1")
    else:
        body = echo_form(spec[0], request)
    ctype = "application/json" if spec[0].startswith("json") else \
        "text/html" if spec[0] == "html" else "text/plain"
    hdrs = hdrs + [("Content-Type", ctype)]
    if len(spec) > 1:
        coding = spec[1]
        label = "deflate" if coding == "deflate-raw" else coding
        accepted = [t.split(";")[0].strip()
                    for t in tokens(headers, "accept-encoding")]
        if "force" in spec[2:] or label in accepted:
            body = compress(coding, body)
            hdrs.append(("Content-Encoding", label))
    status = int("".join(hget(headers, "x-test-status")) or 200)
    rng = "".join(hget(headers, "range"))
    m = re.match(r"^bytes=(\d+)-(\d+)$", rng.strip())
    if m or status == 206:
        a, b = (int(m.group(1)), int(m.group(2))) if m else (0, 9)
        total = len(body)
        body = body[a:b + 1]
        status = 206
        hdrs.append(("Content-Range", "bytes %d-%d/%d" % (
            a, a + len(body) - 1, total)))
    reason = None
    if hget(headers, "x-test-interim"):
        auth = "".join(hget(headers, "authorization"))
        conn.send(response(103, [("X-Echo", auth), ("Link", "</s.css>")]))
        reason = auth or None
    if hget(headers, "x-test-chunked"):
        # 7-byte chunks: every value is cut across chunks
        hdrs.append(("Transfer-Encoding", "chunked"))
        conn.send(response(status, hdrs, reason=reason))
        if not head_only:
            for i in range(0, len(body), 7):
                conn.send(b"%x\r\n%s\r\n" % (len(body[i:i + 7]), body[i:i + 7]))
            conn.send(b"0\r\n\r\n")
        return not close
    hdrs.append(("Content-Length", str(len(body))))
    conn.send(response(status, hdrs, b"" if head_only else body,
                       reason=reason))
    return not close


def serve(args, addr, port, tls_ctx):
    def handle(c):
        try:
            peer = c.getpeername()
        except OSError:
            c.close()
            return
        serve_conn(args, c, peer, tls_ctx)
    tcp_serve(args, addr, port, handle)


def tls_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])

    def sni(sock, name, _ctx):
        sock.sg_sni = name
    ctx.sni_callback = sni
    return ctx


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--https", action="append", default=[],
                   help="ADDR:PORT:CERT:KEY")
    p.add_argument("--http", action="append", default=[], help="ADDR:PORT")
    p.add_argument("--name", default="upstream")
    p.add_argument("--log", required=True)
    p.add_argument("--ready")
    p.add_argument("--lifetime", type=float, default=600)
    args = p.parse_args()
    args.lock = threading.Lock()
    args.store = {}
    args.socks = []
    for t in args.https:
        a, port, cert, key = t.split(":", 3)
        serve(args, a, int(port), tls_context(cert, key))
    for t in args.http:
        a, port = t.rsplit(":", 1)
        serve(args, a, int(port), None)
    if args.ready:
        open(args.ready, "w").close()
    end = time.monotonic() + args.lifetime
    while time.monotonic() < end:
        time.sleep(0.5)
    for s in args.socks:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
