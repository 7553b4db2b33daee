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
  <upstream-head>                (optional) the exact head it received,
  GET /c-NAME HTTP/1.1           line breaks as in <request>
  ...
  </upstream-head>
  <reply-has>TEXT</reply-has>  (optional) in what the client got back
  <reply-hasnt>TEXT</reply-hasnt> (optional)
  <audit>TEXT</audit>          (optional) the proxy's audit event to wait
                               for: a new line of the audit log holding
                               TEXT; "none" when the case makes none. By
                               default "path=/c-NAME" when the request
                               line names the case's path, else the first
                               status ("status=400")
  </verify>
  </testcase>

Every case, whatever it checks, also checks that nothing the client got
back gives a secret value back: the reply, each body decoded of its
chunked framing and of its content coding (gzip, deflate, br, zstd), and
each WebSocket message, are decoded as they are, %XX, %XX with '+', JSON
escapes and HTML references, CR and LF taken out, and searched for each
value as it is and inside every base64 string at each of its phases
(both alphabets). After the client part the runner waits for the case's
audit event (a barrier: the proxy has decided and said so) before it
reads the upstream's log.

Each line break of the request (but the one before </request>) is sent as
CRLF; with <request nocrlf="1"> the text is sent as it is.
In the request, \\n \\r \\t \\xHH \\\\ are escapes, %repeat[N x TEXT]%
repeats TEXT N times (as in curl's files), and %PH% is the sandbox's own
placeholder (%PHHEX% its 32 hex digits), %VALUE% the secret's value,
%PH2% and %VALUE2% those of its second secret, %B64BASIC% the base64 of
"user:%PH%" (what a client puts after "Basic"), %FOREIGN% a placeholder
that is not the sandbox's. Prints "ok NAME" or "FAIL NAME: why" per case;
exits 1 when any failed.
"""
import argparse
import base64
import html
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse
import zlib


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


# --- does a reply give a value back? -----------------------------------------

def unjson(b):
    """JSON and JavaScript escapes decoded, bytes to bytes."""
    out, i, n = bytearray(), 0, len(b)
    simple = {ord("b"): b"\b", ord("f"): b"\f", ord("n"): b"\n",
              ord("r"): b"\r", ord("t"): b"\t"}
    while i < n:
        c = b[i]
        if c == 0x5c and i + 1 < n:
            e = b[i + 1]
            if e == ord("u"):
                m = re.match(rb"[0-9a-fA-F]{4}", b[i + 2:i + 6])
                if not m:
                    i += 1
                    continue
                cp = int(m.group(0), 16)
                i += 6
                if 0xd800 <= cp <= 0xdbff:
                    m2 = re.match(rb"\\u([0-9a-fA-F]{4})", b[i:i + 6])
                    if m2 and 0xdc00 <= int(m2.group(1), 16) <= 0xdfff:
                        lo = int(m2.group(1), 16)
                        out += chr(0x10000 + ((cp - 0xd800) << 10) +
                                   (lo - 0xdc00)).encode()
                        i += 6
                        continue
                if 0xd800 <= cp <= 0xdfff:
                    cp = 0xfffd     # a lone surrogate, as JSON decoders do
                out += chr(cp).encode()
                continue
            out += simple.get(e, bytes([e]))
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out)


def views(b):
    """The bytes as they are and decoded in each way the proxy promises
    to see through, CR and LF taken out."""
    vs = [b, urllib.parse.unquote_to_bytes(b),
          urllib.parse.unquote_to_bytes(b.replace(b"+", b" ")), unjson(b),
          html.unescape(b.decode("latin-1")).encode("utf-8", "replace")]
    return [v.replace(b"\r", b"").replace(b"\n", b"") for v in vs]


def b64_runs_have(b, value):
    for alpha in (rb"[A-Za-z0-9+/]+", rb"[A-Za-z0-9_-]+"):
        for m in re.finditer(alpha, b):
            run = m.group(0).replace(b"-", b"+").replace(b"_", b"/")
            for ph in range(4):
                part = run[ph:]
                if len(part) % 4 == 1:
                    part = part[:-1]	# a lone character: no whole byte
                part += b"=" * (-len(part) % 4)
                try:
                    if value in base64.b64decode(part):
                        return True
                except ValueError:
                    pass
    return False


def decompressed(body, coding):
    """body decoded of every coding it may be in (tried, whatever the
    label says, for gzip and deflate; br and zstd by label or magic)."""
    out = []
    for wbits in (16 + 15, 15, -15):
        try:
            d = zlib.decompressobj(wbits)
            out.append(d.decompress(body) + d.flush())
        except zlib.error:
            pass
    progs = []
    if "br" in coding:
        progs.append(["brotli", "-d", "-c"])
    if "zstd" in coding or body[:4] == b"\x28\xb5\x2f\xfd":
        progs.append(["zstd", "-d", "-q", "-c"])
    for prog in progs:
        try:
            r = subprocess.run(prog, input=body, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, timeout=10)
            out.append(r.stdout)
        except (OSError, subprocess.TimeoutExpired):
            pass
    return out


def ws_payloads(data):
    """Payloads of the frames in data (either side's), each alone, each
    message joined, and all joined."""
    out, msg, allp, i = [], b"", b"", 0
    while i + 2 <= len(data):
        b0, b1 = data[i], data[i + 1]
        n, j = b1 & 0x7f, i + 2
        if n == 126:
            n, j = int.from_bytes(data[j:j + 2], "big"), j + 2
        elif n == 127:
            n, j = int.from_bytes(data[j:j + 8], "big"), j + 8
        key = None
        if b1 & 0x80:
            key, j = data[j:j + 4], j + 4
        p = data[j:j + n]
        if key:
            p = bytes(c ^ key[k & 3] for k, c in enumerate(p))
        out.append(p)
        allp += p
        msg = p if (b0 & 0x0f) in (1, 2) else msg + p
        if b0 & 0x80:
            out.append(msg)
        i = j + n
    return out + [allp]


def parts_of(got):
    """Everything in a reply worth decoding: the whole, each head, each
    body decoded of its framing and its coding, WebSocket payloads."""
    parts, i = [got], 0
    while i < len(got):
        end = got.find(b"\r\n\r\n", i)
        if end < 0 or not got.startswith(b"HTTP/1.", i):
            break
        head = got[i:end].decode("latin-1").split("\r\n")
        parts.append(got[i:end])
        try:
            code = int(head[0].split(" ")[1])
        except (IndexError, ValueError):
            break
        i = end + 4
        if code == 101:
            parts += ws_payloads(got[i:])
            break
        if code < 200:
            continue
        fields = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            fields[k.strip().lower()] = v.strip()
        body = b""
        if "content-length" in fields:
            n = int(fields["content-length"])
            body, i = got[i:i + n], i + n
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            while True:
                le = got.find(b"\r\n", i)
                if le < 0:
                    break
                try:
                    size = int(got[i:le].split(b";")[0], 16)
                except ValueError:
                    break
                body += got[le + 2:le + 2 + size]
                i = le + 2 + size + 2
                if size == 0:
                    break
        else:
            body, i = got[i:], len(got)
        parts.append(body)
        parts += decompressed(body, fields.get("content-encoding", ""))
    return parts


def gives_back(got, values):
    """The value the reply gives back, and how, or None."""
    for part in parts_of(got):
        for k, v in enumerate(views(part)):
            for value in values:
                if value in v:
                    return value, "view %d" % k
                if b64_runs_have(v, value):
                    return value, "base64 in view %d" % k
    return None


# --- the audit barrier --------------------------------------------------------

def audit_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []


def wait_audit(path, start, texts, timeout=10.0):
    """Waits for a line after the first start lines that holds one of
    texts."""
    end = time.time() + timeout
    delay = 0.01
    while True:
        if any(t in ln for ln in audit_lines(path)[start:] for t in texts):
            return True
        if time.time() > end:
            return False
        time.sleep(delay)   # polling a file another process appends to
        delay = min(delay * 2, 0.2)


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
    uhead, uhead_attrs = section(verify, "upstream-head")
    rhas = section(verify, "reply-has")[0]
    rhasnt = section(verify, "reply-hasnt")[0]
    audit = (section(verify, "audit")[0] or "").strip()
    if not audit:
        # the request's path when its head was read, else the status the
        # proxy answered with
        audit = ["path=/c-" + name]
        if want and want[0].isdigit() and want[0] != "101":
            audit.append("status=" + want[0])
    else:
        audit = [audit]
    audit_start = len(audit_lines(args.audit))

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
    back = gives_back(got, args.values)
    if back is not None:
        return "FAIL %s: the reply gives a secret value back (%s)" % (
            name, back[1])
    # what the reply says: as it came, and its bodies without framing
    said = [got] + parts_of(got)[1:]
    if rhas is not None and not any(expand(rhas.strip(), subs) in p
                                     for p in said):
        return "FAIL %s: the reply lacks %r: %r" % (name, rhas.strip(), got[:300])
    if rhasnt is not None and any(expand(rhasnt.strip(), subs) in p
                                  for p in said):
        return "FAIL %s: the reply has %r" % (name, rhasnt.strip())
    # the proxy decided and audited it: what reached the upstream is in
    # its log (it logs a request before it answers)
    if audit != ["none"] and not wait_audit(args.audit, audit_start, audit):
        return "FAIL %s: no audit event with %s" % (name, " or ".join(audit))
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
    if uhead is not None:
        if uhead.endswith("\n"):
            uhead = uhead[:-1]
        want_head = expand(uhead.replace("\n", "\r\n"), subs).decode("latin-1")
        heads = [r.get("raw_head", "") for r in recs]
        if want_head not in heads:
            return "FAIL %s: the upstream's head is not %r: %r" % (
                name, want_head, heads[:1])
    return "ok %s" % name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", required=True)
    ap.add_argument("--uplog", required=True)
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--addr", required=True, help="where api.test is")
    ap.add_argument("--secret", action="append", required=True,
                    help="PLACEHOLDER=VALUE of the sandbox's secrets, "
                    "in order (the first is %PH%)")
    ap.add_argument("--audit", required=True,
                    help="the file the proxy's audit events go to")
    ap.add_argument("--sub", action="append", default=[],
                    help="%NAME%=TEXT: one more substitution")
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    pairs = [sec.split("=", 1) for sec in args.secret]
    args.values = [v.encode() for _, v in pairs]
    subs = {"%PH%": pairs[0][0], "%PHHEX%": pairs[0][0][16:],
            "%VALUE%": pairs[0][1],
            "%B64BASIC%": base64.b64encode(
                ("user:" + pairs[0][0]).encode()).decode(),
            "%FOREIGN%": "SANDGATE_SECRET_" + "0123456789abcdef" * 2}
    # the placeholder in two WebSocket fragments masked with 01 02 03 04,
    # as \\xHH escapes (expand() turns them into bytes)
    key = b"\x01\x02\x03\x04"
    for tag, part in (("%PHMASKA%", pairs[0][0][:26]),
                      ("%PHMASKB%", pairs[0][0][26:])):
        subs[tag] = "".join("\\x%02x" % (c ^ key[k & 3])
                            for k, c in enumerate(part.encode()))
    if len(pairs) > 1:
        subs.update({"%PH2%": pairs[1][0], "%VALUE2%": pairs[1][1]})
    for sub in args.sub:
        k, _, v = sub.partition("=")
        subs[k] = v
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
