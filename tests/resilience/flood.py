#!/usr/bin/python3
"""Opens many unauthenticated connections to an SSH server and holds them.

    flood.py HOST PORT SOURCE... [--count N] [--mode silent|slow|mixed]
             [--settle S]

Connections go round-robin from the SOURCE addresses (each bound before
connect), all opened at once without waiting. Modes: silent sends nothing
(half-open), slow sends a client banner and then nothing (a handshake that
never finishes); mixed alternates. Within --settle seconds each connection
is classified by what the server does first: it sends bytes (its banner:
admitted) or closes (refused). Prints one JSON line with the counts and
the refused count per source, then holds every connection until stdin
closes, and prints a second JSON line: how many the server ended while
held (its pre-authentication deadlines). Bounded everywhere: every wait
has a deadline.
"""
import json
import selectors
import socket
import sys
import threading
import time


def main():
    args = sys.argv[1:]
    opts = {"--count": "100", "--mode": "silent", "--settle": "15"}
    pos = []
    i = 0
    while i < len(args):
        if args[i] in opts:
            opts[args[i]] = args[i + 1]
            i += 2
        else:
            pos.append(args[i])
            i += 1
    if len(pos) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    host, port, sources = pos[0], int(pos[1]), pos[2:]
    count, mode = int(opts["--count"]), opts["--mode"]
    settle = float(opts["--settle"])

    sel = selectors.DefaultSelector()
    conns = []  # [sock, source, state]: connecting, open, admitted, refused, failed
    for k in range(count):
        src = sources[k % len(sources)]
        fam = socket.AF_INET6 if ":" in src else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.bind((src, 0))
            s.connect_ex((host, port))
        except OSError:
            s.close()
            conns.append([None, src, "failed"])
            continue
        c = [s, src, "connecting"]
        conns.append(c)
        sel.register(s, selectors.EVENT_WRITE | selectors.EVENT_READ, c)

    deadline = time.monotonic() + settle
    pending = sum(1 for c in conns if c[2] == "connecting")
    while pending > 0 and time.monotonic() < deadline:
        for key, ev in sel.select(timeout=0.2):
            c = key.data
            s = c[0]
            if c[2] == "connecting" and ev & selectors.EVENT_WRITE:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err != 0:
                    c[2] = "failed"
                    sel.unregister(s)
                    pending -= 1
                    continue
                c[2] = "open"
                sel.modify(s, selectors.EVENT_READ, c)
                if mode == "slow" or (mode == "mixed" and
                                      conns.index(c) % 2 == 1):
                    try:
                        s.send(b"SSH-2.0-flood\r\n")
                    except OSError:
                        pass
            if ev & selectors.EVENT_READ and c[2] in ("connecting", "open"):
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                c[2] = "admitted" if data else "refused"
                sel.unregister(s)
                pending -= 1
    # unanswered: still in the listen queue, or its SYN to be retried
    counts = {"opened": count, "admitted": 0, "refused": 0, "failed": 0,
              "unanswered": 0}
    refused_by = {}
    for c in conns:
        st = c[2]
        if st in ("connecting", "open"):
            st = "unanswered"
        counts[st] += 1
        if st == "refused":
            refused_by[c[1]] = refused_by.get(c[1], 0) + 1
    counts["refused_by"] = refused_by
    print(json.dumps(counts), flush=True)

    # hold the admitted ones until stdin closes; count those the server
    # ends meanwhile
    held = [c for c in conns if c[2] == "admitted"]
    for c in held:
        sel.register(c[0], selectors.EVENT_READ, c)
    # stdin may be a file (not pollable): a thread waits for its end
    stop = threading.Event()

    def wait_stdin():
        while sys.stdin.readline():
            pass
        stop.set()

    threading.Thread(target=wait_stdin, daemon=True).start()
    ended = 0
    last = False
    while not last:
        last = stop.is_set()  # one more pass after stdin ended: drain
        for key, ev in sel.select(timeout=0.2):
            c = key.data
            try:
                data = c[0].recv(65536)
            except OSError:
                data = b""
            if not data:
                ended += 1
                sel.unregister(c[0])
    print(json.dumps({"held": len(held), "ended_by_server": ended}),
          flush=True)
    for c in conns:
        if c[0] is not None:
            c[0].close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
