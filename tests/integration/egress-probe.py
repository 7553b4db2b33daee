#!/usr/bin/env python3
"""Runs inside a sandbox (the default image) for gateway-egress.sh: one
probe per command line argument group, one result line each.

  tcp HOST PORT          "open <first line>" | "refused" | "timeout" | "error E"
  tcpsrc SRC HOST PORT   the same, from source address SRC (spoofing)
  udp HOST PORT          sends one datagram: "sent" | "refused" | "error E"
  ping HOST              ICMP echo: "reply" | "timeout" | "error E"
  udp6 HOST PORT         one IPv6 datagram: "sent" | "error E"
  resolve NAME           "addr A B ..." | "none" | "error E"
  resolve6 NAME          the same for IPv6 (AAAA)
  connrate HOST PORT SECS   connections per second (connect, read, close;
                         HOST is resolved once, before the clock starts)
  bulk HOST PORT MIB     MB/s sending MIB MiB (the peer counts them)
Every probe has a timeout of 3 s or less (bulk: 120 s).
"""
import os
import socket
import struct
import sys
import time


def tcp(host, port, src=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        if src:
            s.setsockopt(socket.SOL_IP, 15, 1)  # IP_FREEBIND
            s.bind((src, 0))
        s.connect((host, int(port)))
        data = s.recv(200).decode("utf-8", "replace").strip()
        return "open " + (data.splitlines()[0] if data else "")
    except ConnectionRefusedError:
        return "refused"
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return "error %s" % e.errno
    finally:
        s.close()


def udp(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    try:
        s.connect((host, int(port)))
        s.send(b"probe")
        try:
            s.recv(100)
        except socket.timeout:
            pass
        return "sent"
    except ConnectionRefusedError:
        return "refused"
    except OSError as e:
        return "error %s" % e.errno
    finally:
        s.close()


def udp6(host, port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        s.sendto(b"probe6", (host, int(port)))
        return "sent"
    except OSError as e:
        return "error %s" % e.errno
    finally:
        s.close()


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ping(host):
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    except OSError as e:
        return "error %s" % e.errno
    s.settimeout(2)
    try:
        ident = os.getpid() & 0xFFFF
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
        pkt = struct.pack("!BBHHH", 8, 0, csum(hdr + b"sandgate"), ident, 1) + b"sandgate"
        s.sendto(pkt, (host, 0))
        end = time.monotonic() + 2
        while time.monotonic() < end:
            b, a = s.recvfrom(1500)
            ihl = (b[0] & 15) * 4
            t, _, _, i, _ = struct.unpack("!BBHHH", b[ihl:ihl + 8])
            if t == 0 and i == ident and a[0] == host:
                return "reply"
        return "timeout"
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return "error %s" % e.errno
    finally:
        s.close()


def resolve(name):
    try:
        infos = socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)
    except socket.gaierror:
        return "none"
    addrs = sorted(set(i[4][0] for i in infos))
    return "addr " + " ".join(addrs) if addrs else "none"


def resolve6(name):
    try:
        infos = socket.getaddrinfo(name, None, socket.AF_INET6, socket.SOCK_STREAM)
    except socket.gaierror:
        return "none"
    return "addr " + " ".join(sorted(set(i[4][0] for i in infos)))


def connrate(host, port, secs):
    host = socket.gethostbyname(host)   # once, outside the timing
    n = 0
    end = time.monotonic() + float(secs)
    t0 = time.monotonic()
    while time.monotonic() < end:
        s = socket.create_connection((host, int(port)), timeout=3)
        s.recv(100)
        s.close()
        n += 1
    return "%.1f" % (n / (time.monotonic() - t0))


def bulk(host, port, mib):
    buf = b"\0" * (1 << 16)
    total = int(mib) << 20
    host = socket.gethostbyname(host)
    s = socket.create_connection((host, int(port)), timeout=120)
    t0 = time.monotonic()
    sent = 0
    while sent < total:
        sent += s.send(buf)
    s.shutdown(socket.SHUT_WR)
    got = s.recv(100)
    dt = time.monotonic() - t0
    s.close()
    if int(got.strip() or 0) != sent:
        return "error short %s of %d" % (got.strip(), sent)
    return "%.1f" % (sent / 1e6 / dt)


def main(argv):
    ops = {"tcp": (2, tcp), "tcpsrc": (3, lambda a, h, p: tcp(h, p, a)),
           "udp": (2, udp), "udp6": (2, udp6), "ping": (1, ping),
           "resolve": (1, resolve), "resolve6": (1, resolve6), "connrate": (3, connrate),
           "bulk": (3, bulk)}
    i = 0
    while i < len(argv):
        n, fn = ops[argv[i]]
        print(fn(*argv[i + 1:i + 1 + n]), flush=True)
        i += 1 + n
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
