"""Reads Prometheus' text format (version 0.0.4) on stdin, strictly, and
answers questions about it.

promparse.py EXPR...: each EXPR is a Python expression over `m`, a dict
from "name" or 'name{k="v",...}' (labels sorted by key) to the value, and
`has(name)`, true when a family of that name was declared. Prints each
result on its own line. Exits 1 with the line when the text is not valid:
a sample before its # TYPE, a bad name, label or value, a histogram whose
buckets do not add up."""
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
SAMPLE = re.compile(r"^(%s)(?:\{(.*)\})? (\S+)$" % NAME)

types = {}
m = {}
for n, line in enumerate(sys.stdin.read().split("\n"), 1):
    if line == "":
        continue
    if line.startswith("# HELP "):
        continue
    if line.startswith("# TYPE "):
        _, _, name, typ = line.split(" ", 3)
        if typ not in ("counter", "gauge", "histogram", "summary", "untyped"):
            sys.exit("line %d: bad type: %s" % (n, line))
        types[name] = typ
        continue
    if line.startswith("#"):
        continue
    s = SAMPLE.match(line)
    if not s:
        sys.exit("line %d: not a sample: %r" % (n, line))
    name, labels, value = s.groups()
    base = re.sub(r"_(bucket|sum|count|total)$", "", name)
    if name not in types and base not in types and \
            re.sub(r"_(bucket|sum|count)$", "", name) not in types:
        sys.exit("line %d: %s has no # TYPE before it" % (n, name))
    pairs = []
    if labels:
        rest = labels
        while rest:
            lm = re.match(LABEL + r"(,|$)", rest)
            if not lm:
                sys.exit("line %d: bad labels: %r" % (n, labels))
            pairs.append((lm.group(1), lm.group(2)))
            rest = rest[lm.end():]
    try:
        v = float(value)
    except ValueError:
        sys.exit("line %d: bad value: %r" % (n, value))
    key = name + ("{%s}" % ",".join('%s="%s"' % p for p in sorted(pairs))
                  if pairs else "")
    if key in m:
        sys.exit("line %d: %s twice" % (n, key))
    m[key] = v

# histograms: cumulative buckets ending in +Inf equal to _count
for name, typ in types.items():
    if typ != "histogram":
        continue
    buckets = sorted(((float(k.split('le="')[1].split('"')[0]), v)
                      for k, v in m.items() if k.startswith(name + "_bucket{")))
    if not buckets or buckets[-1][0] != float("inf"):
        sys.exit("%s: no +Inf bucket" % name)
    if any(b[1] < a[1] for a, b in zip(buckets, buckets[1:])):
        sys.exit("%s: buckets are not cumulative" % name)
    if buckets[-1][1] != m.get(name + "_count"):
        sys.exit("%s: +Inf bucket != _count" % name)


def has(name):
    return name in types


for expr in sys.argv[1:]:
    print(eval(expr, {"m": m, "has": has}))
