"""An HTTP/1.1 server for a guest, behind sandgate-front (gateway-expose.sh).

    python3 exposeserver.py PORT

  GET /echo...   the request as the guest saw it: path, headers, the
                 peer's port (one per connection from the front), JSON
  GET /stream    a chunked body of three chunks
  GET /big       4 MiB of a known pattern (sha256 in X-Sha256)
  GET /ws        a WebSocket echo (RFC 6455, text and binary, close)
  POST /...      the body's length and sha256, JSON (Content-Length or
                 chunked)
  anything else  "hello from the sandbox"
Standard library only: the default image has python3 and nothing more.
"""
import base64
import hashlib
import http.server
import json
import socketserver
import struct
import sys

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def big():
    return (b"0123456789abcdef" * 65536) * 4


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_body(self, code, body, ctype="application/json", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        if self.path.startswith("/echo"):
            d = {"path": self.path,
                 "headers": [[k, v] for k, v in self.headers.items()],
                 "peer": self.client_address[1]}
            self.send_body(200, json.dumps(d).encode())
        elif self.path == "/stream":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(3):
                c = ("chunk%d\n" % i).encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/big":
            b = big()
            self.send_body(200, b, "application/octet-stream",
                           [("X-Sha256", hashlib.sha256(b).hexdigest())])
        elif self.path == "/ws":
            self.websocket()
        else:
            self.send_body(200, b"hello from the sandbox\n", "text/plain")

    def do_POST(self):
        h = hashlib.sha256()
        n = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                d = self.rfile.read(size)
                self.rfile.readline()
                h.update(d)
                n += len(d)
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left > 0:
                d = self.rfile.read(min(left, 65536))
                if not d:
                    break
                h.update(d)
                n += len(d)
                left -= len(d)
        self.send_body(200, json.dumps({"len": n,
                                        "sha256": h.hexdigest()}).encode())

    def websocket(self):
        key = self.headers.get("Sec-WebSocket-Key", "")
        acc = base64.b64encode(hashlib.sha1(
            (key + WS_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", acc)
        self.end_headers()
        self.wfile.flush()
        while True:
            hdr = self.rfile.read(2)
            if len(hdr) < 2:
                return
            op, ln = hdr[0] & 15, hdr[1] & 127
            if ln == 126:
                ln = struct.unpack("!H", self.rfile.read(2))[0]
            elif ln == 127:
                ln = struct.unpack("!Q", self.rfile.read(8))[0]
            mask = self.rfile.read(4) if hdr[1] & 128 else b"\0\0\0\0"
            data = bytes(b ^ mask[i % 4] for i, b in
                         enumerate(self.rfile.read(ln)))
            if op == 8:
                self.wfile.write(b"\x88\x00")
                self.wfile.flush()
                return
            out = bytes([0x80 | op])
            if len(data) < 126:
                out += bytes([len(data)])
            elif len(data) < 65536:
                out += bytes([126]) + struct.pack("!H", len(data))
            else:
                out += bytes([127]) + struct.pack("!Q", len(data))
            self.wfile.write(out + data)
            self.wfile.flush()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    Server(("0.0.0.0", int(sys.argv[1])), Handler).serve_forever()
