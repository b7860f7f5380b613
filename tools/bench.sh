#!/usr/bin/env bash
# `make bench`: time HF -> CS -> HF on a synthetic checkpoint against `cp` of the same bytes.
# (Replaced by the full benchmark of issue 5; this keeps `make bench` honest meanwhile.)
set -eu
ck=$(realpath "${1:-bin/ckconv}")
cd "$(dirname "$0")/.."
dir=bench/cache/tiny
mkdir -p bench
[ -f "$dir/config.json" ] || /usr/bin/python3 tools/make_example.py "$dir" >/dev/null
t() { local s=$(date +%s.%N); "$@" >/dev/null 2>&1; sync; echo "$(date +%s.%N) - $s" | bc; }
rm -rf bench/out && mkdir -p bench/out
cp_t=$(t cp -r "$dir" bench/out/copy)
h2c=$(t "$ck" convert "$dir" -o bench/out/x.mdl -q)
c2h=$(t "$ck" convert bench/out/x.mdl -o bench/out/x-hf -q)
printf '%-12s %8s s\n' cp "$cp_t" "hf->cs" "$h2c" "cs->hf" "$c2h"
