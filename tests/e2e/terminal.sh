#!/usr/bin/env bash
# The progress line on a real terminal (tmux, 80 and 120 columns): it never wraps, never
# scrolls (one progress row at any moment), and after the run the screen shows one final line
# per part. The run is slowed with the fault shim so the line is seen mid-way.
. "$(dirname "$0")/lib.inc"
G="$ROOT/tests/golden"
# the fault shim is preloaded before the sanitizer runtime under make check
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
${CC:-cc} -shared -fPIC -O1 -o "$T/shim.so" "$ROOT/tests/fault/shim.c" -ldl || { notok "build the fault shim"; exit 1; }
SOCK="ckconv-e2e-$$"
trap 'tmux -L "$SOCK" kill-server 2>/dev/null; rm -rf "$T"' EXIT

for cols in 80 120; do
	rm -rf "$T/o"; mkdir -p "$T/o"
	cat >"$T/run.sh" <<SH
CKCONV_RULES='$CKCONV_RULES' CKFAULT_SLOW_MS=120 LD_PRELOAD='$T/shim.so' '$CKCONV' convert '$G/llama/hf' -o '$T/o/x.mdl' >/dev/null
echo "rc=\$?"
sleep 60
SH
	tmux -L "$SOCK" -f /dev/null new-session -d -x $cols -y 20 "bash '$T/run.sh'"
	wide=0 rows=0 seen=0
	# up to 60 s for the run (it ends the loop as soon as it prints rc=): ~3 s alone, far longer
	# under valgrind on a loaded machine
	for i in $(seq 1 240); do
		sleep 0.25
		screen=$(tmux -L "$SOCK" capture-pane -p)
		p=$(grep -c '^packed ' <<<"$screen")
		[ "$p" -gt 0 ] && seen=$((seen + 1))
		[ "$p" -gt 1 ] && rows=1
		w=$(grep '^packed ' <<<"$screen" | awk -v c=$cols 'length($0) >= c { print }' | head -1)
		[ -n "$w" ] && wide=1
		# a wrapped progress line continues on the next row: tmux marks it, capture -J joins it
		j=$(tmux -L "$SOCK" capture-pane -p -J | grep '^packed ' | awk -v c=$cols 'length($0) >= c { print }' | head -1)
		[ -n "$j" ] && wide=1
		grep -q '^rc=' <<<"$screen" && break
	done
	screen=$(tmux -L "$SOCK" capture-pane -p)
	tmux -L "$SOCK" kill-server 2>/dev/null
	check "$cols columns: the run finished" grep -q '^rc=0' <<<"$screen"
	check "$cols columns: the progress line was seen mid-run ($seen samples)" test $seen -ge 2
	check "$cols columns: it never reached the last column or wrapped" test $wide -eq 0
	check "$cols columns: never more than one progress row on the screen (no scrolling)" test $rows -eq 0
	check "$cols columns: after the run no progress row is left, one final line" sh -c "! grep -q '^packed ' <<'X'
$screen
X
[ \$(grep -c '^ckconv: packed: 22 tensors' <<'X'
$screen
X
) = 1 ]"
done

# not a terminal (a log, CI): a plain line now and then (every 10 s; CKCONV_PROGRESS_SECONDS here)
rm -rf "$T/o"; mkdir -p "$T/o"
CKCONV_PROGRESS_SECONDS=0.3 CKFAULT_SLOW_MS=60 LD_PRELOAD="$T/shim.so" "$CKCONV" convert "$G/llama/hf" -o "$T/o/x.mdl" 2>"$T/log" >/dev/null
check "into a log: plain progress lines while it runs, no carriage returns" sh -c "[ \$(grep -c '^ckconv: packed: [0-9]*%, [0-9]*/22 tensors, .* of 385.5 KiB, .*/s, ETA [0-9]:[0-9][0-9]:[0-9][0-9]\$' '$T/log') -ge 2 ] && ! grep -q \$'\\r' '$T/log'"
check "... then the summary line" grep -q '^ckconv: packed: 22 tensors, 385.5 KiB in' "$T/log"
