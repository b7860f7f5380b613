#!/usr/bin/env bash
# Fuzz regressions: every harness of tests/fuzz/ built with cc (no clang, no libFuzzer) against the
# plain driver tests/fuzz/replay.c and fed its seed corpus and its recorded crash inputs
# (tests/fuzz/regressions/NAME/). Each input prints "ok N - NAME: FILE"; a crash kills the driver
# and is reported with its input. CC, OPTFLAGS, EXTRA_CFLAGS, EXTRA_LDFLAGS come from the
# environment (make check sets the sanitizer flags). The project's objects are taken from the
# build that make test just made ($UNITS/..) when they are all there and fresh, else compiled here.
. "$(dirname "$0")/lib.inc"
cd "$ROOT"
CC=${CC:-cc}
PKGS=$(sed -n 's/^PKGS *:= *//p' Makefile) # one list: the Makefile's
CFLAGS="${OPTFLAGS:--O1 -g} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Isrc $(pkg-config --cflags $PKGS) ${EXTRA_CFLAGS:-}"
LIBS="$(pkg-config --libs $PKGS) -lm ${EXTRA_LDFLAGS:-}"

objs=(); fresh=1; obj_dir=$(dirname "${UNITS:-/nonexistent/tests}")
for c in src/*.c; do
	case $c in src/main.c|src/par_mpi.c) continue ;; esac # par_mpi.c: bin/ckconv-mpi only
	o="$obj_dir/$(basename "${c%.c}").o"; objs+=("$o")
	[ -f "$o" ] && [ ! "$c" -nt "$o" ] || fresh=0
done
if [ "$fresh" -eq 0 ]; then
	mkdir -p "$T/obj"; objs=()
	for c in src/*.c; do [ "$c" = src/main.c ] || [ "$c" = src/par_mpi.c ] || objs+=("$T/obj/$(basename "${c%.c}").o"); done
	if ls src/*.c | grep -v '^src/main\.c$' | grep -v '^src/par_mpi\.c$' |
		xargs -P "$(nproc)" -I{} sh -c "$CC $CFLAGS -c -o \"$T/obj/\$(basename {} .c).o\" {} || exit 255" 2>"$T/obj.log"; then
		ok "the project's sources compile for the replay"
	else
		notok "the project's sources compile for the replay"; sed 's/^/#   /' "$T/obj.log" | head -20; exit 1
	fi
fi

for h in tests/fuzz/fuzz_*.c; do
	name=${h#tests/fuzz/fuzz_}; name=${name%.c}
	bin="$T/replay_$name"
	if ! $CC $CFLAGS -Itests/fuzz -DFUZZ_RULES_DIR="\"$ROOT/rules\"" -o "$bin" tests/fuzz/replay.c "$h" "${objs[@]}" $LIBS \
		>"$T/build_$name.log" 2>&1; then
		notok "fuzz harness $name builds with $CC"; sed 's/^/#   /' "$T/build_$name.log" | head -20
		continue
	fi
	# the corpus in one run, each regression in a run of its own (so every known crash is reported);
	# the harnesses' scratch directories go under $T (removed on exit even after a crash)
	for input in "tests/fuzz/corpus/$name" tests/fuzz/regressions/"$name"/*; do
		[ -e "$input" ] || continue
		UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} TMPDIR="$T" "$bin" "$name" "$input" 2>"$T/run_$name.log"
		rc=$?
		if [ "$rc" -ne 0 ]; then
			notok "fuzz replay $name: the driver died with status $rc"
			grep -m1 '^# .*running' <(tac "$T/run_$name.log") | sed 's/^# /#   crashed on: /'
			grep -v '^# .*running' "$T/run_$name.log" | head -30 | sed 's/^/#   /'
		fi
	done
done
