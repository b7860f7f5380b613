#!/usr/bin/env bash
# Outputs as a transaction (src/txn.c): one lock per output base name, sweeps that touch only
# ckconv's own temporaries of dead runs, --force that keeps the old output until the new one is
# complete (both directions, a failure at any rename included), directories made with the
# umask, and signals that stop a run stuck inside a library call.
. "$(dirname "$0")/lib.inc"
G="$ROOT/tests/golden"
${CC:-cc} -shared -fPIC -O1 -o "$T/shim.so" "$ROOT/tests/fault/shim.c" -ldl || { notok "build the fault shim"; exit 1; }
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
SHIM="$T/shim.so"
# state DIR: every entry (hidden ones too) with its checksum, sorted
state() { (cd "$1" && find . -mindepth 1 -printf '%y %p\n' | LC_ALL=C sort && find . -type f -exec md5sum {} + | LC_ALL=C sort); }

"$CKCONV" convert "$G/llama/hf" -o "$T/ref.mdl" -q

# one lock per base name: x.mdl and x.h5 share x.yaml, so they share the lock
mkdir -p "$T/o"
CKFAULT_SLOW_MS=40 LD_PRELOAD="$SHIM" "$CKCONV" convert "$G/llama/hf" -o "$T/o/x.mdl" -q 2>"$T/e1" & p1=$!
sleep 0.5
"$CKCONV" convert "$G/llama/hf" -o "$T/o/x.h5" -q 2>"$T/e2"; r2=$?
wait $p1; r1=$?
check "x.mdl and x.h5 take one lock: the first wins" test $r1 -eq 0
check "... the second fails naming x.ckconv-lock" sh -c "[ $r2 -eq 1 ] && grep -q 'x.ckconv-lock is locked' '$T/e2'"
check "... and the first's output is whole" cmp "$T/o/x.mdl" "$T/ref.mdl"

# the sweep: only ckconv's own names, only of dead runs
rm -rf "$T/o"; mkdir -p "$T/o"
sh -c 'exit 0' & dead=$!; wait $dead
echo stale >"$T/o/.x.mdl.ckconv-tmp.$dead.0123456789abcdef"
echo live >"$T/o/.x.mdl.ckconv-tmp.$$.0123456789abcdef"
echo mine >"$T/o/x.yaml.tmpBackup"
mkdir -p "$T/o/x.hf-files.ckconv-old-notes"; echo notes >"$T/o/x.hf-files.ckconv-old-notes/n.txt"
echo mine >"$T/o/x.mdl.ckconv-tmp-keep"
out=$("$CKCONV" convert "$G/llama/hf" -o "$T/o/x.mdl" 2>&1)
check "a dead run's temporary is removed and reported" grep -q "removed .*/\\.x\\.mdl\\.ckconv-tmp\\.$dead\\.0123456789abcdef, left by an interrupted run (pid $dead)" <<<"$out"
check "... a live run's is kept" test -e "$T/o/.x.mdl.ckconv-tmp.$$.0123456789abcdef"
check "... user files that look like temporaries are kept" sh -c "[ -e '$T/o/x.yaml.tmpBackup' ] && [ -e '$T/o/x.hf-files.ckconv-old-notes/n.txt' ] && [ -e '$T/o/x.mdl.ckconv-tmp-keep' ]"
check "... and the conversion is whole" cmp "$T/o/x.mdl" "$T/ref.mdl"

# --force never replaces what ckconv could not have written
check "-o /dev/null --force is refused (a character device)" sh -c "! '$CKCONV' convert '$T/ref.mdl' -o /dev/null --force -q 2>'$T/err' && grep -q '/dev/null: exists and is a character device' '$T/err' && [ -c /dev/null ]"
check "... and nothing was created in /dev" sh -c "! ls -A /dev | grep -q 'null.ckconv'"

# --force removes the old OUT.hf-files when the new source carries none
cp -r "$G/llava/hf" "$T/lin"
echo '{"version": "1.0"}' >"$T/lin/text_model/tokenizer.json"
"$CKCONV" convert "$T/lin" -o "$T/l.mdl" -q
check "carried files are written" test -f "$T/l.hf-files/text_model/tokenizer.json"
"$CKCONV" convert "$G/llava/hf" -o "$T/l.mdl" --force -q
check "--force from a source carrying none removes the old OUT.hf-files" test ! -e "$T/l.hf-files"
check "... and leaves nothing else" sh -c "[ \"\$(ls -A '$T' | grep '^\\.\\?l\\.' | tr '\\n' ' ')\" = 'l.mdl l.yaml ' ]"

# a failure at any rename of a --force commit leaves exactly the old outputs (both directions)
"$CKCONV" convert "$T/lin" -o "$T/f.mdl" -q
"$CKCONV" convert "$T/f.mdl" -o "$T/fhf" -q
cp "$G/llava/hf/text_model/config.json" "$T/cfg.json"
before_cs=$(state "$T" | grep ' \./\.\?f\.')
before_hf=$(state "$T/fhf")
bad="" failed=0
for k in 1 2 3 4 5 6 7 8; do
	CKFAULT_RENAME_FAIL_AT=$k LD_PRELOAD="$SHIM" "$CKCONV" convert "$G/llava/hf" -o "$T/f.mdl" --force -q 2>/dev/null; rc=$?
	now=$(state "$T" | grep ' \./\.\?f\.')
	if [ $rc -ne 0 ] && [ "$now" != "$before_cs" ]; then bad+=" HF->CS rename $k;"; fi
	[ $rc -eq 0 ] && break
	failed=$((failed + 1))
done
check "HF -> CS --force: a failing rename at any point ($failed tried) leaves the old outputs exactly${bad:+ ($bad)}" test -z "$bad" -a $failed -ge 3
check "... and the run that gets through replaces them (no hf-files: the new source has none)" sh -c "[ $rc -eq 0 ] && [ ! -e '$T/f.hf-files' ]"
bad="" failed=0
for k in 1 2 3 4 5 6 7 8; do
	CKFAULT_RENAME_FAIL_AT=$k LD_PRELOAD="$SHIM" "$CKCONV" convert "$T/ref.mdl" -o "$T/fhf" --force --model llama -q 2>/dev/null; rc=$?
	if [ $rc -ne 0 ] && [ "$(state "$T/fhf")" != "$before_hf" ]; then bad+=" CS->HF rename $k;"; fi
	[ $rc -ne 0 ] && ls -A "$T" | grep -q '^\.fhf\.' && bad+=" temporaries left at $k;"
	[ $rc -eq 0 ] && break
	failed=$((failed + 1))
done
check "CS -> HF --force: a failing rename at any point ($failed tried) leaves the old output exactly${bad:+ ($bad)}" test -z "$bad" -a $failed -ge 2
check "... and the run that gets through replaces it" sh -c "[ $rc -eq 0 ] && [ -f '$T/fhf/config.json' ] && [ ! -d '$T/fhf/text_model' ]"

# output directories honour the umask, as mkdir does
(umask 022 && "$CKCONV" convert "$T/ref.mdl" -o "$T/m022" -q)
(umask 027 && "$CKCONV" convert "$T/ref.mdl" -o "$T/m027" -q)
check "umask 022: the HF directory is 0755" test "$(stat -c %a "$T/m022")" = 755
check "umask 027: the HF directory is 0750" test "$(stat -c %a "$T/m027")" = 750
(umask 022 && "$CKCONV" convert "$T/lin" -o "$T/u.mdl" -q)
check "umask 022: OUT.hf-files and its component directory are 0755" sh -c "[ \$(stat -c %a '$T/u.hf-files') = 755 ] && [ \$(stat -c %a '$T/u.hf-files/text_model') = 755 ]"

# signals stop a run stuck for good inside a read (a library call that never returns)
for d in "cs $G/llama/hf $T/s/x.mdl" "hf $T/ref.mdl $T/s/hf"; do
	set -- $d
	for sig in TERM HUP INT; do
		rm -rf "$T/s"; mkdir -p "$T/s"
		CKFAULT_HANG_READ_AFTER=2 LD_PRELOAD="$SHIM" timeout -s KILL 20 "$CKCONV" convert "$2" -o "$3" -q 2>"$T/err" & pid=$!
		sleep 1; kill -$sig $pid; wait $pid; rc=$?
		want=$(case $sig in INT) echo 130 ;; TERM) echo 143 ;; HUP) echo 129 ;; esac)
		check "to $1, stuck in a read: SIG$sig stops it with exit $want (got $rc)" test $rc -eq $want
		check "... saying so in one line, leaving nothing (no temporary, no lock)" sh -c "[ \"\$(grep -c . '$T/err')\" = 1 ] && grep -q 'interrupted by signal' '$T/err' && [ -z \"\$(ls -A '$T/s')\" ]"
	done
done
