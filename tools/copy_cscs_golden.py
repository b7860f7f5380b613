#!/usr/bin/python3
"""copy_cscs_golden.py - copy the CS <-> CS reference vectors (../shared/reference/cscs by default)
into tests/golden/cscs. A file whose bytes another copied file already has (a chain's in/ is the
previous case's out/) becomes a relative symlink to it, so the copy stays about 2 MB.
usage: copy_cscs_golden.py [SRC] [DST]"""
import hashlib
import os
import shutil
import sys

here = os.path.dirname(os.path.abspath(__file__))
src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "../../../shared/reference/cscs")
dst = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "../tests/golden/cscs")
seen = {}
for root, dirs, files in sorted(os.walk(src)):
    dirs.sort()
    rel = os.path.relpath(root, src)
    os.makedirs(os.path.join(dst, rel), exist_ok=True)
    for name in sorted(files):
        s, d = os.path.join(root, name), os.path.join(dst, rel, name)
        if os.path.lexists(d):
            os.unlink(d)
        h = hashlib.sha256(open(s, "rb").read()).hexdigest()
        if h in seen and name != "README.md":
            os.symlink(os.path.relpath(seen[h], os.path.dirname(d)), d)
        else:
            shutil.copyfile(s, d)
            os.chmod(d, 0o644)
            seen[h] = d
