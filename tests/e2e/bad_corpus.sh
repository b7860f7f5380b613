#!/usr/bin/env bash
# The bad-input corpus, tests/bad/NN-name/ (layout: tests/bad/README.md). Each case runs once on a
# scratch copy of its inputs and must: exit with status 1; write exactly one line to stderr,
# "ckconv: error: ...", containing the text in `expect`; write nothing to stdout (or, with an
# `expect-stdout` file, a listing containing its text, as verify's); leave OUT (and
# the working directory) exactly as before, so no output, temporary or lock file; and leave every
# input byte-identical, with no file added next to them.
. "$(dirname "$0")/lib.inc"
BAD="$ROOT/tests/bad"

# snap DIR: every path with its type, and every file's checksum, sorted
snap() { (cd "$1" && find . -mindepth 1 -printf '%y %p\n' | LC_ALL=C sort && find . -type f -exec sha256sum {} + | LC_ALL=C sort); }

# expand WORD: IN and OUT at the start of a word become the case's scratch folders
expand() {
	case $1 in
	IN | IN/*) printf '%s\n' "$w/in${1#IN}" ;;
	OUT | OUT/*) printf '%s\n' "$w/out${1#OUT}" ;;
	*) printf '%s\n' "$1" ;;
	esac
}

run_case() { # case folder
	local d=$1 name why="" rc lines want word
	local -a argv=()
	name=$(basename "$d")
	w="$T/$name"
	mkdir -p "$w/in" "$w/out" "$w/cwd"
	(cd "$d" && find . -mindepth 1 -maxdepth 1 ! -name args ! -name expect ! -name expect-stdout ! -name env ! -name exit ! -name out-before -exec cp -a {} "$w/in/" \;)
	[ -d "$d/out-before" ] && cp -a "$d/out-before/." "$w/out/"
	snap "$w/in" >"$w/in.before"
	snap "$w/out" >"$w/out.before"
	read -ra words <"$d/args"
	for word in "${words[@]}"; do argv+=("$(expand "$word")"); done
	want=$(head -n 1 "$d/expect")
	local -a envs=()
	[ -f "$d/env" ] && mapfile -t envs <"$d/env" # NAME=VALUE lines for this run (e.g. a short sandbox limit)
	(cd "$w/cwd" && exec env "${envs[@]}" "$CKCONV" "${argv[@]}" >"$w/stdout" 2>"$w/stderr" </dev/null)
	rc=$?
	lines=$(grep -c '' "$w/stderr")
	want_rc=1; [ -f "$d/exit" ] && want_rc=$(cat "$d/exit")
	[ "$rc" -eq "$want_rc" ] || why+=" exit status $rc, expected $want_rc;"
	[ "$lines" -eq 1 ] && [ -z "$(tail -c 1 "$w/stderr")" ] || why+=" stderr has $lines lines, expected one;"
	head -n 1 "$w/stderr" | grep -q '^ckconv: error: ' || why+=" stderr does not start with 'ckconv: error: ';"
	[ -n "$want" ] && grep -qF -- "$want" "$w/stderr" || why+=" stderr lacks the expected text: $want;"
	if [ -f "$d/expect-stdout" ]; then
		grep -qF -- "$(head -n 1 "$d/expect-stdout")" "$w/stdout" || why+=" stdout lacks: $(head -n 1 "$d/expect-stdout");"
	elif [ -s "$w/stdout" ]; then
		why+=" stdout is not empty;"
	fi
	snap "$w/out" | cmp -s - "$w/out.before" || why+=" OUT changed: $(snap "$w/out" | diff "$w/out.before" - | grep '^[<>]' | head -3 | tr '\n' ' ');"
	[ -z "$(ls -A "$w/cwd")" ] || why+=" files appeared in the working directory: $(ls -A "$w/cwd" | head -3 | tr '\n' ' ');"
	snap "$w/in" | cmp -s - "$w/in.before" || why+=" inputs changed: $(snap "$w/in" | diff "$w/in.before" - | grep '^[<>]' | head -3 | tr '\n' ' ');"
	if [ -z "$why" ]; then
		ok "bad/$name"
	else
		notok "bad/$name:$why"
		echo "#   ckconv ${argv[*]}"
		sed 's/^/#   stderr: /' "$w/stderr" | head -10
		sed 's/^/#   stdout: /' "$w/stdout" | head -5
	fi
	rm -rf "$w"
}

cases=0
for d in "$BAD"/[0-9]*/; do
	d=${d%/}
	if [ ! -f "$d/args" ] || [ ! -f "$d/expect" ]; then
		notok "bad/$(basename "$d"): a case needs both 'args' and 'expect'"
		continue
	fi
	run_case "$d"
	cases=$((cases + 1))
done
check "the corpus holds at least 40 cases (found $cases)" test "$cases" -ge 40
