#!/usr/bin/env python3
"""Runs the data-driven cases of tests/data/proxy against sandgate-proxy,
from a "guest" network namespace (proxy-host.sh sets it up).

A case file, in the manner of curl's test files:

  <testcase>
  <info>what it checks, one line</info>
  <client>
  <mode>tls</mode>            tls (port 443, SNI) | http (port 80) | raw443
  <sni>api.test</sni>         tls: the SNI; "-" sends none
  <alpn>h2</alpn>             tls: ALPN offered (optional)
  <request>
  GET /c-NAME HTTP/1.1
  Host: api.test

  </request>
  </client>
  <verify>
  <status>200</status>        status codes in order ("100 200"), or
                              "closed" for a connection that ends without
                              one, or "handshake-fail"; "200 closed": the
                              answers, then the proxy closes the connection
                              by itself (within 10 s of the request)
  <closed-after>3</closed-after> (optional) with "... closed": not sooner
                              than this many seconds after the last answer
  <upstream>got</upstream>    got | none: did a request for /c-NAME
                              reach the upstream
  <upstream-has>TEXT</upstream-has>    (optional) in what it received
  <upstream-hasnt>TEXT</upstream-hasnt> (optional)
  <reply-has>TEXT</reply-has>  (optional) in what the client got back
  </verify>
  </testcase>

Each line break of the request (but the one before </request>) is sent as
CRLF; with <request nocrlf="1"> the text is sent as it is.
In the request, \\n \\r \\t \\xHH \\\\ are escapes, %repeat[N x TEXT]%
repeats TEXT N times (as in curl's files), and %PH% is the sandbox's own
placeholder (%PHHEX% its 32 hex digits), %VALUE% the secret's value,
%FOREIGN% a placeholder that is not the sandbox's. Prints "ok NAME" or
"FAIL NAME: why" per case; exits 1 when any failed.
"""
import argparse
import json
import os
import re
import socket
import ssl
import sys
import time


def section(text, tag):
    m = re.search(r"<%s(\s[^>]*)?>\n?(.*?)</%s>" % (tag, tag), text, re.S)
    if not m:
        return None, ""
    return m.group(2), m.group(1) or ""


def expand(s, subs):
    s = re.sub(r"%repeat\[(\d+) x (.*?)\]%",
               lambda m: m.group(2) * int(m.group(1)), s)
    for k, v in subs.items():
        s = s.replace(k, v)
    out, i = bytearray(), 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            if n in "nrt\\":
                out += {"n": b"\n", "r": b"\r", "t": b"\t", "\\": b"\\"}[n]
                i += 2
                continue
            if n == "x" and i + 3 < len(s):
                out.append(int(s[i + 2:i + 4], 16))
                i += 4
                continue
        out += c.encode("latin-1")
        i += 1
    return bytes(out)


def statuses_of(data):
    """Status codes of the responses in data, in order, following
    Content-Length and chunked framing: a final response counts once its
    whole body is there."""
    got, i = [], 0
    while i < len(data):
        end = data.find(b"\r\n\r\n", i)
        if end < 0 or not data.startswith(b"HTTP/1.", i):
            break
        head = data[i:end].decode("latin-1").split("\r\n")
        try:
            code = int(head[0].split(" ")[1])
        except (IndexError, ValueError):
            break
        i = end + 4
        if code < 200:
            got.append(code)
            continue
        fields = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            fields[k.strip().lower()] = v.strip()
        # a final response counts once its body is all there
        if "content-length" in fields:
            i += int(fields["content-length"])
            if i > len(data):
                return got
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            while True:
                le = data.find(b"\r\n", i)
                if le < 0:
                    return got
                size = int(data[i:le].split(b";")[0], 16)
                i = le + 2 + size + 2
                if i > len(data):
                    return got
                if size == 0:
                    break
        got.append(code)
        if "content-length" not in fields and \
                fields.get("transfer-encoding", "").lower() != "chunked":
            break
    return got


def run_case(path, args, subs):
    text = open(path).read()
    name = os.path.basename(path).rsplit(".", 1)[0]
    client, _ = section(text, "client")
    verify, _ = section(text, "verify")
    mode = (section(client, "mode")[0] or "tls").strip()
    sni = (section(client, "sni")[0] or "api.test").strip()
    alpn = (section(client, "alpn")[0] or "").strip()
    req, attrs = section(client, "request")
    if req.endswith("\n"):
        req = req[:-1]		# the line break before </request>
    if "nocrlf" not in attrs:
        req = req.replace("\n", "\r\n")
    data = expand(req, subs)
    want = (section(verify, "status")[0] or "").split()
    then_closed = len(want) > 1 and want[-1] == "closed"
    if then_closed:
        want = want[:-1]
    closed_after = float((section(verify, "closed-after")[0] or "0").strip())
    upstream = (section(verify, "upstream")[0] or "").strip()
    has = section(verify, "upstream-has")[0]
    hasnt = section(verify, "upstream-hasnt")[0]
    rhas = section(verify, "reply-has")[0]

    port = 80 if mode == "http" else 443
    got, closed, hs_fail = b"", False, False
    t_answered, t_closed = None, None
    try:
        s = socket.create_connection((args.addr, port), timeout=5)
        if mode == "tls":
            ctx = ssl.create_default_context(cafile=args.cafile)
            if sni == "-":
                ctx.check_hostname = False
            if alpn:
                ctx.set_alpn_protocols(alpn.split(","))
            try:
                s = ctx.wrap_socket(s, server_hostname=None if sni == "-" else sni)
            except (ssl.SSLError, OSError):
                hs_fail = True
        if not hs_fail:
            s.sendall(data)
            deadline = time.time() + 10
            while time.time() < deadline:
                try:
                    s.settimeout(max(0.1, deadline - time.time()))
                    b = s.recv(65536)
                except socket.timeout:
                    break
                except (ssl.SSLError, OSError):
                    closed = True
                    break
                if not b:
                    closed = True
                    t_closed = time.time()
                    break
                got += b
                st = statuses_of(got)
                if want and want[0].isdigit() and len(st) >= len(want):
                    if not then_closed:
                        break
                    if t_answered is None:
                        t_answered = time.time()
        s.close()
    except OSError as e:
        return "FAIL %s: cannot connect: %s" % (name, e)
    st = [str(c) for c in statuses_of(got)]
    if want == ["handshake-fail"]:
        if not hs_fail:
            return "FAIL %s: the TLS handshake worked (got %s)" % (name, st)
    elif want == ["closed"]:
        if st or not closed:
            return "FAIL %s: want a closed connection, got %s %r" % (
                name, st, got[:80])
    elif st != want:
        return "FAIL %s: statuses %s, want %s (%r)" % (name, st, want, got[:200])
    if then_closed:
        if t_closed is None or t_answered is None:
            return "FAIL %s: the connection stayed open" % name
        if t_closed - t_answered < closed_after:
            return "FAIL %s: closed %.1f s after the answer, want %.1f s or more" % (
                name, t_closed - t_answered, closed_after)
    if rhas is not None and expand(rhas.strip(), subs) not in got:
        return "FAIL %s: the reply lacks %r: %r" % (name, rhas.strip(), got[:300])
    # what reached the upstream for this case's path
    time.sleep(0.2)
    recs = []
    lines = open(args.uplog).readlines() if os.path.exists(args.uplog) else []
    for line in lines:
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if re.match(r"/c-%s(-\d+)?$" % re.escape(name),
                    r.get("target", "").split("?")[0]):
            recs.append(r)
    if upstream == "none" and recs:
        return "FAIL %s: the upstream received it: %s" % (name, recs[0].get("raw_head"))
    if upstream == "got" and not recs:
        return "FAIL %s: the upstream received nothing" % name
    blob = json.dumps(recs)
    if has is not None and expand(has.strip(), subs).decode("latin-1") not in \
            " ".join(r.get("raw_head", "") + r.get("body", "") for r in recs):
        return "FAIL %s: the upstream did not get %r: %s" % (name, has.strip(), blob[:300])
    if hasnt is not None and expand(hasnt.strip(), subs).decode("latin-1") in blob:
        return "FAIL %s: the upstream got %r" % (name, hasnt.strip())
    return "ok %s" % name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", required=True)
    ap.add_argument("--uplog", required=True)
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--addr", required=True, help="where api.test is")
    ap.add_argument("--ph", required=True, help="the sandbox's placeholder")
    ap.add_argument("--value", required=True, help="its real value")
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    subs = {"%PH%": args.ph, "%PHHEX%": args.ph[16:], "%VALUE%": args.value,
            "%FOREIGN%": "SANDGATE_SECRET_" + "0123456789abcdef" * 2}
    failed = 0
    for f in sorted(os.listdir(args.cases)):
        if not f.endswith(".case") or (args.only and args.only not in f):
            continue
        line = run_case(os.path.join(args.cases, f), args, subs)
        print(line, flush=True)
        failed += line.startswith("FAIL")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
