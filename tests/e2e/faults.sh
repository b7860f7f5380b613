#!/usr/bin/env bash
# Faults: a conversion that cannot finish leaves the output path untouched, removes its
# temporaries and says why. Faults come from an LD_PRELOAD shim (tests/fault/shim.c).
. "$(dirname "$0")/lib.inc"
G="$ROOT/tests/golden/llama"
${CC:-cc} -shared -fPIC -O1 -o "$T/shim.so" "$ROOT/tests/fault/shim.c" -ldl || { notok "build the fault shim"; exit 1; }
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
SHIM="$T/shim.so"
"$CKCONV" convert "$G/hf" -o "$T/ref.mdl" -q
clean() { # no output and no temporaries next to it
	local left; left=$(ls -A "$T/o" 2>/dev/null)
	[ -z "$left" ] || { echo "# left behind: $left"; return 1; }
}
# expect NAME RC TEXT CMD...: exit status RC (2: a read, write or rename failed), a single error line containing TEXT, nothing in $T/o
expect() {
	local name=$1 want_rc=$2 text=$3; shift 3
	rm -rf "$T/o"; mkdir -p "$T/o"
	local err rc; err=$("$@" 2>&1 >/dev/null); rc=$?
	if [ "$rc" -eq "$want_rc" ] && [ "$(grep -c . <<<"$err")" -eq 1 ] && grep -qF -- "$text" <<<"$err" && clean; then ok "$name"
	else notok "$name"; echo "#   rc=$rc"; sed 's/^/#   /' <<<"$err"; fi
}
expect "ENOSPC while writing the packed file" 2 "No space left on device" \
	env CKFAULT_WRITE_LIMIT=100000 LD_PRELOAD="$SHIM" "$CKCONV" convert "$G/hf" -o "$T/o/x.mdl" -q
expect "ENOSPC while writing HF shards" 2 "No space left on device" \
	env CKFAULT_WRITE_LIMIT=100000 LD_PRELOAD="$SHIM" "$CKCONV" convert "$T/ref.mdl" -o "$T/o/hf" -q
expect "EFBIG under ulimit -f" 2 "File too large" \
	bash -c "ulimit -f 200; exec '$CKCONV' convert '$G/hf' -o '$T/o/x.mdl' -q"
expect "a read error names the file" 2 "Input/output error" \
	env CKFAULT_READ_EIO_AFTER=4 LD_PRELOAD="$SHIM" "$CKCONV" convert "$G/hf" -o "$T/o/x.mdl" -q
expect "a failing rename leaves nothing" 2 "cannot rename" \
	env CKFAULT_RENAME_FAIL=1 "LD_PRELOAD=$SHIM" "$CKCONV" convert "$T/ref.mdl" -o "$T/o/hf" -q

# a shard that shrinks while we read it
mkdir -p "$T/shrink"; cp "$G/hf/"* "$T/shrink/"
rm -rf "$T/o"; mkdir -p "$T/o"
CKFAULT_SLOW_MS=50 LD_PRELOAD="$SHIM" "$CKCONV" convert "$T/shrink" -o "$T/o/x.mdl" -q 2>"$T/err" & pid=$!
sleep 0.6; truncate -s 1000 "$T/shrink/model-00002-of-00002.safetensors"; wait $pid; rc=$?
check "a shard that shrinks mid-run fails (exit 2: a read failed)" sh -c "[ $rc -eq 2 ] && grep -q 'model-00002-of-00002.safetensors' '$T/err'"
check "... and leaves nothing" clean

for sig in INT TERM; do
	rm -rf "$T/o"; mkdir -p "$T/o"
	CKFAULT_SLOW_MS=40 LD_PRELOAD="$SHIM" "$CKCONV" convert "$G/hf" -o "$T/o/x.mdl" -q 2>"$T/err" & pid=$!
	sleep 0.8; kill -$sig $pid; wait $pid; rc=$?
	want=$([ $sig = INT ] && echo 130 || echo 143)
	check "SIG$sig: exit $want" test $rc -eq $want
	check "SIG$sig: says so, leaves nothing" sh -c "grep -q 'interrupted by signal' '$T/err' && [ -z \"\$(ls -A '$T/o')\" ]"
done

# kill -9: nothing at the output path claims to be complete; the next run sweeps the remains
rm -rf "$T/o"; mkdir -p "$T/o"
CKFAULT_SLOW_MS=40 LD_PRELOAD="$SHIM" "$CKCONV" convert "$G/hf" -o "$T/o/x.mdl" -q 2>/dev/null & pid=$!
sleep 1.6; kill -9 $pid; wait $pid 2>/dev/null
check "after kill -9 no output claims to be complete" test ! -e "$T/o/x.mdl" -a ! -e "$T/o/x.yaml"
check "... its temporaries are there" sh -c "ls -A '$T/o' | grep -q '^\\.x\\.mdl\\.ckconv-tmp\\.[0-9]*\\.[0-9a-f]\\{16\\}$'"
out=$("$CKCONV" convert "$G/hf" -o "$T/o/x.mdl" 2>&1)
check "the next run reports the stale temporaries it removes" grep -q "removed .*/\\.x\\.mdl\\.ckconv-tmp\\.[0-9]*\\.[0-9a-f]*, left by an interrupted run" <<<"$out"
check "... and completes with nothing else left" sh -c "[ \"\$(ls -A '$T/o' | tr '\\n' ' ')\" = 'x.mdl x.yaml ' ]"
check "... bit for bit the same as an uninterrupted run" cmp "$T/o/x.mdl" "$T/ref.mdl"

# two conversions racing for one output: one wins, the other fails clearly
rm -rf "$T/o"; mkdir -p "$T/o"
CKFAULT_SLOW_MS=40 LD_PRELOAD="$SHIM" "$CKCONV" convert "$G/hf" -o "$T/o/x.mdl" -q 2>"$T/e1" & p1=$!
sleep 0.4
"$CKCONV" convert "$G/hf" -o "$T/o/x.mdl" -q 2>"$T/e2"; r2=$?
wait $p1; r1=$?
check "racing: the first wins" test $r1 -eq 0
check "racing: the second fails, naming the lock" sh -c "[ $r2 -eq 1 ] && grep -q 'another ckconv is writing this output' '$T/e2'"
check "racing: the output is whole" cmp "$T/o/x.mdl" "$T/ref.mdl"

# --force over an existing output: a failure keeps the old one
"$CKCONV" convert "$T/ref.mdl" -o "$T/keep" -q
before=$(find "$T/keep" -type f -exec md5sum {} + | sort)
env CKFAULT_WRITE_LIMIT=100000 LD_PRELOAD="$SHIM" "$CKCONV" convert "$T/ref.mdl" -o "$T/keep" --force -q 2>/dev/null
check "a failed --force run leaves the previous output as it was" test "$before" = "$(find "$T/keep" -type f -exec md5sum {} + | sort)"
check "... and no temporaries" sh -c "! ls -A '$T' | grep -q 'keep\\.'"
check "output is deterministic: two runs give identical packed files" sh -c "'$CKCONV' convert '$G/hf' -o '$T/d1.mdl' -q && '$CKCONV' convert '$G/hf' -o '$T/d2.mdl' -q && cmp '$T/d1.mdl' '$T/d2.mdl'"
