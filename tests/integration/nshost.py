#!/usr/bin/env python3
"""A test host for the egress tests: run it inside a network namespace the
test made (ip netns exec NS nshost.py ...). It serves, until --lifetime
seconds have passed (then it exits by itself):

  --tcp ADDR:PORT:TEXT   accept TCP and send TEXT and a newline, then close
  --sink ADDR:PORT       accept TCP and read everything (bulk benchmarks);
                         the byte count of each connection is appended to
                         the log as "sink N"
  --udp ADDR:PORT        record every datagram as "udp PORT BYTES" in the log
  --dns ADDR             a DNS server on ADDR:53 (UDP): answers A queries
                         from --map NAME=IPV4 (TTL 30), NXDOMAIN otherwise,
                         and records every question as "dns NAME TYPE"
  --log FILE             where records go (one line each, flushed)
  --ready FILE           created once every socket listens
"""
import argparse
import os
import socket
import struct
import sys
import threading
import time


def log(args, line):
    with args.lock:
        with open(args.log, "a") as f:
            f.write(line + "\n")


def tcp_serve(args, addr, port, handle):
    """Listens on addr:port and runs handle(conn) in a thread per
    connection until the socket is closed at the end of the lifetime."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(64)
    s.settimeout(1)
    args.socks.append(s)

    def run():
        while True:
            try:
                c, _ = s.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=handle, args=(c,), daemon=True).start()
    threading.Thread(target=run, daemon=True).start()


def tcp_text(args, addr, port, text):
    def one(c):
        try:
            c.sendall(text.encode() + b"\n")
        except OSError:
            pass
        c.close()
    tcp_serve(args, addr, port, one)


def tcp_sink(args, addr, port):
    def one(c):
        n = 0
        c.settimeout(30)
        try:
            while True:
                b = c.recv(1 << 16)
                if not b:
                    break
                n += len(b)
            c.sendall(b"%d\n" % n)
        except OSError:
            pass
        c.close()
        log(args, "sink %d" % n)
    tcp_serve(args, addr, port, one)


def udp_rec(args, addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    s.settimeout(1)
    args.socks.append(s)

    def run():
        while True:
            try:
                b, _ = s.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            log(args, "udp %d %d" % (port, len(b)))
    threading.Thread(target=run, daemon=True).start()


def qname(msg, off):
    labels = []
    while True:
        if off >= len(msg):
            raise ValueError("short")
        n = msg[off]
        off += 1
        if n == 0:
            return ".".join(labels), off
        if n & 0xC0:
            raise ValueError("pointer")
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n


def dns_server(args, addr, names):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 53))
    s.settimeout(1)
    args.socks.append(s)

    def run():
        while True:
            try:
                msg, peer = s.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                qid, flags, qd = struct.unpack("!HHH", msg[:6])
                name, off = qname(msg, 12)
                qtype, qclass = struct.unpack("!HH", msg[off:off + 4])
            except (ValueError, struct.error):
                continue
            log(args, "dns %s %d" % (name.lower(), qtype))
            question = msg[12:off + 4]
            ip = names.get(name.lower().rstrip("."))
            if ip is None:
                hdr = struct.pack("!HHHHHH", qid, 0x8183, 1, 0, 0, 0)
                s.sendto(hdr + question, peer)
                continue
            if qtype != 1:
                hdr = struct.pack("!HHHHHH", qid, 0x8180, 1, 0, 0, 0)
                s.sendto(hdr + question, peer)
                continue
            hdr = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0)
            ans = struct.pack("!HHHIH", 0xC00C, 1, 1, 30, 4) + socket.inet_aton(ip)
            s.sendto(hdr + question + ans, peer)
    threading.Thread(target=run, daemon=True).start()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tcp", action="append", default=[])
    p.add_argument("--sink", action="append", default=[])
    p.add_argument("--udp", action="append", default=[])
    p.add_argument("--dns")
    p.add_argument("--map", action="append", default=[])
    p.add_argument("--log", required=True)
    p.add_argument("--ready")
    p.add_argument("--lifetime", type=float, default=600)
    args = p.parse_args()
    args.lock = threading.Lock()
    args.socks = []
    for t in args.tcp:
        a, port, text = t.split(":", 2)
        tcp_text(args, a, int(port), text)
    for t in args.sink:
        a, port = t.split(":")
        tcp_sink(args, a, int(port))
    for t in args.udp:
        a, port = t.split(":")
        udp_rec(args, a, int(port))
    if args.dns:
        names = dict(m.split("=", 1) for m in args.map)
        dns_server(args, args.dns, names)
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
