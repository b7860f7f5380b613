#!/usr/bin/env bash
# Shell completion and the man page (issue #17 item 10): `ckconv completion bash|zsh` and
# `ckconv man`, generated from the commands' option tables, installed by `make install`.
. "$(dirname "$0")/lib.inc"
"$CKCONV" completion bash >"$T/ckconv.bash"
check "completion bash: valid bash" bash -n "$T/ckconv.bash"
# complete WORDS...: what the bash completion offers for the last word
complete_bash() {
	bash -c '
		ckconv() { "$CKCONV" "$@"; }
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_ckconv; printf "%s\n" "${COMPREPLY[@]}"' _ "$T/ckconv.bash" "$@"
}
export CKCONV
out=$(complete_bash ckconv conv)
check "bash: commands" test "$(echo $out)" = "convert convert-config"
out=$(complete_bash ckconv convert --tgt)
check "bash: an option of the command" test "$out" = "--tgt-fmt"
out=$(complete_bash ckconv inspect --j)
check "bash: inspect's --json (from its option table)" test "$out" = "--json"
out=$(complete_bash ckconv validate --format "")
check "bash: --format's values" test "$(echo $out)" = "text json github"
out=$(complete_bash ckconv convert --dtype b)
check "bash: --dtype's values" test "$out" = "bf16"
out=$(complete_bash ckconv convert --model lla)
check "bash: --model completes model names from the rules" grep -qx "llama" <<<"$out"
out=$(complete_bash ckconv completion "")
check "bash: completion's shells" test "$(echo $out)" = "bash zsh"
mkdir -p "$T/somedir" && touch "$T/somedir/weights.safetensors"
out=$(complete_bash ckconv convert "$T/somedir/we")
check "bash: an operand completes file names" test "$out" = "$T/somedir/weights.safetensors"

"$CKCONV" completion zsh >"$T/_ckconv"
if command -v zsh >/dev/null; then
	check "completion zsh: valid zsh" zsh -n "$T/_ckconv"
	# _arguments and _describe stubbed: the specs the script hands them for `ckconv convert <TAB>`
	out=$(cd "$T" && zsh -fc 'words=(ckconv convert ""); CURRENT=3; _arguments() { print -l -- "$@" }; _describe() { print -l -- "$@" }; . ./_ckconv')
	check "zsh: convert's options with their values" sh -c "grep -qx -- '--tgt-fmt:tgt-fmt:(hf cs-current)' <<'X' && grep -qx -- '--model:model:_ckconv_models' <<'X2' && grep -qx -- '--force' <<'X3'
$out
X
$out
X2
$out
X3"
	out=$(cd "$T" && zsh -fc 'words=(ckconv ""); CURRENT=2; _describe() { print -l -- "${(@P)2}" }; . ./_ckconv')
	check "zsh: the commands, summaries quoted (an apostrophe, no stray colon)" grep -qx "verify:recheck a packed file's checksums, or prove it lossless against HF" <<<"$out"
else
	notok "zsh is not installed (make deps installs it): the zsh completion is not checked"
fi
check "completion with no shell exits 2" sh -c "'$CKCONV' completion 2>/dev/null; [ \$? -eq 2 ]"
check "completion fish exits 2" sh -c "'$CKCONV' completion fish 2>/dev/null; [ \$? -eq 2 ]"

"$CKCONV" man >"$T/ckconv.1"
check "man: roff without warnings" sh -c "groff -ww -z -man '$T/ckconv.1' 2>&1 | { ! grep .; }"
page=$(MANWIDTH=100 man -l "$T/ckconv.1" 2>/dev/null | col -b)
check "man: every command has a section" sh -c "for c in convert convert-config list inspect diff validate explain verify completion; do grep -q \"^   \$c\$\" <<'X' || exit 1
$page
X
done"
check "man: options from the tables (inspect --json, validate --format)" sh -c "grep -q -- '--json' <<'X' && grep -q -- '--format VALUE' <<'X2'
$page
X
$page
X2"
check "man: CKCONV_RULES and the exit statuses" sh -c "grep -q CKCONV_RULES <<'X' && grep -q '^EXIT STATUS' <<'X2'
$page
X
$page
X2"

# make install writes them (install-doc: no build, the ckconv under test generates them)
make -s -C "$ROOT" install-doc DESTDIR="$T/inst" PREFIX=/usr CKCONV_RUN="$CKCONV" >/dev/null 2>&1
check "make install: the man page" cmp "$T/inst/usr/share/man/man1/ckconv.1" "$T/ckconv.1"
check "make install: the bash completion" cmp "$T/inst/usr/share/bash-completion/completions/ckconv" "$T/ckconv.bash"
check "make install: the zsh completion" cmp "$T/inst/usr/share/zsh/site-functions/_ckconv" "$T/_ckconv"
check "man ckconv finds the installed page" sh -c "MANPATH='$T/inst/usr/share/man' man -w ckconv | grep -q 'man1/ckconv.1'"
check "ckconv help lists every command of the table" sh -c "'$CKCONV' help | grep -q '^  completion ' && '$CKCONV' help | grep -q '^  man '"
check "ckconv help convert prints convert's help" sh -c "'$CKCONV' help convert | grep -q '^usage: ckconv convert SRC'"
