#!/usr/bin/env bash
# tools/fuzz.sh [SECONDS] [NAME...] - build the libFuzzer harnesses (tests/fuzz/fuzz_NAME.c) with
# clang + ASan + UBSan into build-fuzz/ and run each for SECONDS (default 60) on a copy of its
# corpus (tests/fuzz/corpus/NAME/). New corpus entries stay in build-fuzz/corpus/NAME/ (copy the
# interesting ones back by hand); crash files go to build-fuzz/crashes/NAME/. All harnesses run;
# the status is non-zero when any of them crashed (each crash file is named), 2 on a build problem.
# Needs clang and libFuzzer: apt-get install clang libclang-rt-14-dev (Debian 12).
# Environment: FUZZ_CC (clang), FUZZ_FLAGS (extra libFuzzer flags, e.g. "-jobs=2 -workers=2").
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
SECS=${1:-60}
shift $(( $# > 0 ? 1 : 0 ))
CC=${FUZZ_CC:-clang}
OUT=build-fuzz
case $SECS in *[!0-9]*|'') echo "usage: tools/fuzz.sh [SECONDS] [NAME...]" >&2; exit 2;; esac

if [ $# -gt 0 ]; then NAMES=("$@"); else
	NAMES=(); for f in tests/fuzz/fuzz_*.c; do n=${f#tests/fuzz/fuzz_}; NAMES+=("${n%.c}"); done
fi
command -v "$CC" >/dev/null || { echo "fuzz: $CC not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }
mkdir -p "$OUT/obj" "$OUT/tmp"
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d && n; }\n' >"$OUT/probe.c"
if ! "$CC" -fsanitize=fuzzer,address,undefined "$OUT/probe.c" -o "$OUT/probe" 2>"$OUT/probe.log"; then
	cat "$OUT/probe.log" >&2
	echo "fuzz: $CC cannot link -fsanitize=fuzzer: apt-get install libclang-rt-14-dev" >&2
	exit 2
fi

# The Makefile's packages and flags; sanitizers with -fno-sanitize-recover so UB is a crash.
PKGS=$(sed -n 's/^PKGS *:= *//p' Makefile) # one list: the Makefile's
PKG_CFLAGS=$(pkg-config --cflags $PKGS) && PKG_LIBS=$(pkg-config --libs $PKGS) ||
	{ echo "fuzz: pkg-config failed (make deps installs the -dev packages)" >&2; exit 2; }
CFLAGS="-g -O1 -fno-omit-frame-pointer -std=c11 -D_GNU_SOURCE -Isrc $PKG_CFLAGS -fno-sanitize-recover=all"

# Project objects (all of src/ but main.c), rebuilt when a source or any header is newer.
newest_h=$(ls -t src/*.h | head -1)
objs=()
for c in src/*.c; do
	case $c in src/main.c|src/par_mpi.c) continue ;; esac # par_mpi.c: bin/ckconv-mpi only
	o="$OUT/obj/$(basename "${c%.c}").o"
	if [ ! -e "$o" ] || [ "$c" -nt "$o" ] || [ "$newest_h" -nt "$o" ]; then echo "$c $o"; fi
done | xargs -r -P "$(nproc)" -n 2 sh -c "$CC $CFLAGS -fsanitize=fuzzer-no-link,address,undefined -c -o \"\$2\" \"\$1\" || exit 255" sh ||
	{ echo "fuzz: building the project's sources failed" >&2; exit 2; }
for c in src/*.c; do [ "$c" = src/main.c ] || [ "$c" = src/par_mpi.c ] || objs+=("$OUT/obj/$(basename "${c%.c}").o"); done

status=0; crashes=(); summary=(); libhdf5=()
for n in "${NAMES[@]}"; do
	h="tests/fuzz/fuzz_$n.c"; bin="$OUT/fuzz_$n"
	[ -f "$h" ] || { echo "fuzz: no harness $h" >&2; exit 2; }
	if ! $CC $CFLAGS -fsanitize=fuzzer,address,undefined -Itests/fuzz -DFUZZ_RULES_DIR="\"$ROOT/rules\"" \
		-o "$bin" "$h" "${objs[@]}" $PKG_LIBS -lm; then
		echo "fuzz: building $h failed" >&2; exit 2
	fi
	rm -rf "$OUT/corpus/$n" "$OUT/tmp/$n"; mkdir -p "$OUT/corpus/$n" "$OUT/crashes/$n" "$OUT/tmp/$n" "$OUT/logs"
	[ -d "tests/fuzz/corpus/$n" ] && cp tests/fuzz/corpus/"$n"/* "$OUT/corpus/$n/" 2>/dev/null
	dict=(); [ -f "tests/fuzz/$n.dict" ] && dict=(-dict="tests/fuzz/$n.dict")
	# tests/fuzz/NAME.flags: the harness's own libFuzzer flags (fuzz_convert: fork mode, which
	# records a hang inside libhdf5 and goes on; such hangs are counted below, not hidden)
	extra=(); [ -f "tests/fuzz/$n.flags" ] && read -ra extra <"tests/fuzz/$n.flags"
	echo "== $n: ${SECS}s"
	before=$(ls "$OUT/crashes/$n" | wc -l)
	touch "$OUT/logs/$n.log.start"
	# libhdf5's own leaks on corrupt files (tests/fuzz/lsan.supp) are not ckconv's
	export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/tests/fuzz/lsan.supp:print_suppressions=0}
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} TMPDIR="$ROOT/$OUT/tmp/$n" "$bin" "$OUT/corpus/$n" "${dict[@]}" -max_total_time="$SECS" -rss_limit_mb=2048 \
		-timeout=30 -print_final_stats=1 -artifact_prefix="$OUT/crashes/$n/" "${extra[@]}" ${FUZZ_FLAGS:-} >"$OUT/logs/$n.log" 2>&1
	rc=$?
	rm -rf "$OUT/tmp/$n"
	last=$(grep -E '^#[0-9]+' "$OUT/logs/$n.log" | tail -1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/logs/$n.log" | tail -1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last"); ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
	result=ok
	# Fork-mode harnesses (NAME.flags) go on after a crash or hang: each one recorded is re-run
	# alone and sorted by where it happened. Inside libhdf5 (its own parser bugs on a corrupted
	# file, which ckconv cannot fix) it is listed; anywhere else it fails the run.
	lib=(); ours=()
	for f in $(find "$OUT/crashes/$n" -type f ! -name "*.log" -newer "$OUT/logs/$n.log.start" | sort); do
		timeout -s KILL 60 "$bin" -timeout=10 "$f" >"$f.log" 2>&1
		frame=$(grep -E '^ +#[0-9]+ ' "$f.log" | grep -vE '__interceptor_|__asan|__sanitizer|libFuzzer|fuzzer::|libc\.so|AlarmCallback|PrintStackTrace' | head -1)
		case $frame in
		*libhdf5*) lib+=("$f") ;;
		'') grep -q 'timeout after' "$f.log" || ours+=("$f") ;; # no frame: a hang that did not recur
		*) ours+=("$f") ;;
		esac
	done
	[ ${#lib[@]} -eq 0 ] || result="ok in ckconv's code; ${#lib[@]} crash(es)/hang(s) inside libhdf5 (listed below)"
	if [ ${#ours[@]} -gt 0 ]; then status=1; result="CRASH in ckconv's code"; crashes+=("${ours[@]}"); fi
	for f in "${lib[@]}"; do libhdf5+=("$f: $(grep -m1 -E 'ERROR: |timeout after' "$f.log" | sed 's/^==[0-9]*==//')"); done
	if [ "$rc" -ne 0 ]; then
		status=1; result="CRASH (status $rc)"
		new=$(ls -t "$OUT/crashes/$n" | head -$(( $(ls "$OUT/crashes/$n" | wc -l) - before )))
		for f in $new; do crashes+=("$OUT/crashes/$n/$f"); done
		[ -n "$new" ] || crashes+=("(no artifact; see $OUT/logs/$n.log)")
		grep -m1 -E 'ERROR: |runtime error|SUMMARY' "$OUT/logs/$n.log" | sed 's/^/   /'
	fi
	echo "   execs=${execs:-?} cov=${cov:-?} ft=${ft:-?} corpus=${corp:-?} $result"
	summary+=("$(printf '%-10s execs=%-9s cov=%-6s ft=%-6s %s' "$n" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$result")")
done
echo "== summary (${SECS}s each; logs in $OUT/logs/)"
printf '%s\n' "${summary[@]}"
if [ ${#libhdf5[@]} -gt 0 ]; then
	echo "inside libhdf5 (its parser on a corrupted file; not ckconv's code; each stack in FILE.log):"
	printf '  %s\n' "${libhdf5[@]}"
fi
if [ "$status" -ne 0 ]; then
	echo "crash files (reproduce: $OUT/fuzz_NAME FILE):"
	printf '  %s\n' "${crashes[@]}"
fi
exit "$status"
