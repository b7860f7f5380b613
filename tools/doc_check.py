#!/usr/bin/env python3
"""Checks that a walkthrough in Markdown still holds: runs its console blocks, compares outputs.

usage: doc_check.py DOC.md [ROOT]

A walkthrough (docs/adding-a-model.md) shows commands with their real output. This runs every
```console block in order, as one session (a later command may read what an earlier one wrote),
from ROOT (the repository root), and prints one TAP line per command:

* `$ CMD` lines are commands (bash); `/tmp/` in them is a fresh scratch directory, and a leading
  `bin/ckconv` is $CKCONV (the suite's binary: the sanitizer build under make check).
* The lines up to the next command are its expected output, stdout and stderr together. Each must
  equal the next line of one of the two streams (an interleaving: stdout is buffered in a pipe, so
  the order between the streams is not kept). A line holding `…` stands for any number of lines
  (the doc marks shortened output so); without one, no output may be left over at the end.
* `<!-- doc-check: skip REASON -->` on the line before a block: not run (it would write into the
  repository, or repeats a whole suite); the reason is required and is printed.
* `<!-- doc-check: file PATH -->` on the line before any fenced block: the block must equal the
  file PATH (relative to ROOT), byte for byte, newline at the end aside.

Exit status is not compared: the doc shows output, and error lines say what went wrong themselves.
Elapsed times (`in 0.0s`) are compared as `in <t>s`: they depend on the machine (and valgrind).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^```(\S*)\s*$")
MARK = re.compile(r"^<!-- doc-check: (skip|file) (.+?) -->$")
ELLIPSIS = "\u2026"
ELAPSED = re.compile(r"\bin \d+(?:\.\d+)?s\b")


def timeless(line):
    """line with its elapsed times made alike (they vary with the machine)"""
    return ELAPSED.sub("in <t>s", line)


def blocks(text):
    """(kind, lang, body lines, directive, line number) for each fenced block."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        prev = lines[i - 1] if i else ""
        d = MARK.match(prev)
        start = i + 1
        j = start
        while j < len(lines) and lines[j] != "```":
            j += 1
        yield m.group(1), lines[start:j], (d.group(1), d.group(2)) if d else None, start
        i = j + 1


def commands(body):
    """[(command, [expected lines])] of one console block."""
    out = []
    for line in body:
        if line.startswith("$ "):
            out.append((line[2:], []))
        elif out:
            out[-1][1].append(timeless(line.rstrip()))
    return out


def matches(expected, out, err):
    """None when expected is an interleaving of out and err (… skipping), else what differs."""
    pos = [0, 0]
    streams = [out, err]
    skipping = False
    for want in expected:
        if ELLIPSIS in want:
            skipping = True
            continue
        hit = None
        for s in (0, 1):
            seq, p = streams[s], pos[s]
            if skipping:
                if want in seq[p:]:
                    hit = (s, seq.index(want, p))
                    break
            elif p < len(seq) and seq[p] == want:
                hit = (s, p)
                break
        if hit is None:
            return "expected line not found: %r" % want
        pos[hit[0]] = hit[1] + 1
        skipping = False
    if not skipping:
        rest = out[pos[0]:] + err[pos[1]:]
        if rest:
            return "output left over: %r" % rest[0]
    return None


def run(cmd, root, scratch, ckconv):
    cmd = cmd.replace("/tmp/", scratch + "/")
    if cmd.startswith("bin/ckconv "):
        cmd = ckconv + cmd[len("bin/ckconv"):]
    p = subprocess.run(["bash", "-c", cmd], cwd=root, capture_output=True, text=True)
    norm = lambda s: [timeless(l.rstrip().replace(scratch + "/", "/tmp/")) for l in s.split("\n")][:-1] if s else []
    return norm(p.stdout), norm(p.stderr)


def main():
    doc = sys.argv[1]
    root = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else ".")
    ckconv = os.environ.get("CKCONV", "bin/ckconv")
    scratch = tempfile.mkdtemp(prefix="doc-check.")
    n = bad = 0
    try:
        for lang, body, directive, line in blocks(open(doc, encoding="utf-8").read()):
            where = "%s:%d" % (doc, line)
            if directive and directive[0] == "skip":
                print("skip %s: %s" % (where, directive[1]))
                continue
            if directive and directive[0] == "file":
                n += 1
                text = open(os.path.join(root, directive[1]), encoding="utf-8").read()
                same = text.rstrip("\n") == "\n".join(body).rstrip("\n")
                print("%s %d - %s: block equals %s" % ("ok" if same else "not ok", n, where, directive[1]))
                bad += not same
                continue
            if lang != "console":
                continue
            for k, (cmd, expected) in enumerate(commands(body)):
                n += 1
                out, err = run(cmd, root, scratch, ckconv)
                why = matches(expected, out, err)
                print("%s %d - %s: $ %s" % ("ok" if why is None else "not ok", n, where, cmd[:90]))
                if why:
                    bad += 1
                    print("#   " + why)
                    for l in (out + err)[:30]:
                        print("#   | " + l)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
