#!/usr/bin/env bash
# Runs every unit test binary and every e2e script, then prints "N passed, N failed".
# Each program prints TAP-ish "ok"/"not ok" lines; we count them.
set -u
cd "$(dirname "$0")/.."
: "${CKCONV:=bin/ckconv}" "${UNITS:=build/tests}"
export CKCONV=$(realpath "$CKCONV")
export PY=/usr/bin/python3
export CKCONV_RULES="$PWD/rules"
pass=0; fail=0
run() { # name, command...
	local name=$1; shift
	local out; out=$("$@" 2>&1); local rc=$?
	local p f
	p=$(grep -c '^ok ' <<<"$out"); f=$(grep -c '^not ok ' <<<"$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; out="$out
not ok - $name exited with status $rc"; fi
	pass=$((pass + p)); fail=$((fail + f))
	if [ "$f" -ne 0 ]; then echo "FAIL $name"; grep -v '^ok ' <<<"$out" | grep -v '^[0-9]* passed' | sed 's/^/    /'; 
	else echo "pass $name ($p)"; grep '^skip ' <<<"$out" | sed 's/^/    /'; fi
}
for t in "$UNITS"/test_*; do
	[ -x "$t" ] && run "unit/$(basename "$t")" "$t"
done
for t in tests/e2e/*.sh; do
	name=$(basename "$t" .sh)
	case " ${E2E_EXCLUDE:-} " in *" $name "*) echo "not run here: e2e/$name (${E2E_EXCLUDE_WHY:-excluded})"; continue ;; esac
	[ -f "$t" ] && run "e2e/$name" bash "$t"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
