#!/usr/bin/env bash
# Carried files (src/carry.c): only the names the rules list travel, both ways; each carries an
# xxHash64 recorded in the packed file's provenance, checked on the way back and by verify; a
# symlinked tokenizer file is followed only inside the source tree or the HF cache's blob store.
. "$(dirname "$0")/lib.inc"
G="$ROOT/tests/golden"

cp -r "$G/llava/hf" "$T/in"
echo '{"version": "1.0", "model": {"type": "BPE"}}' >"$T/in/text_model/tokenizer.json"
echo '{"crop_size": 336}' >"$T/in/image_model/preprocessor_config.json"
"$CKCONV" convert "$T/in" -o "$T/l.mdl" -q
rec=$($PY - "$T/l.mdl" <<'PY'
import h5py, json, sys
p = json.loads(h5py.File(sys.argv[1], "r").attrs["__ckconv__"])
print(" ".join(sorted(p["carried"])))
PY
)
check "the packed file records the carried files under their relative paths (got: $rec)" test "$rec" = "image_model/preprocessor_config.json text_model/tokenizer.json"
check "verify checks the carried files too" sh -c "'$CKCONV' verify '$T/l.mdl' | grep -q '2 carried files, every recorded checksum matches'"

# a planted modeling_evil.py does not travel back
echo 'import os; os.system("id")' >"$T/l.hf-files/text_model/modeling_evil.py"
err=$("$CKCONV" convert "$T/l.mdl" -o "$T/back" 2>&1 >/dev/null)
check "CS -> HF copies only what the rules list" sh -c "[ -f '$T/back/text_model/tokenizer.json' ] && [ ! -e '$T/back/text_model/modeling_evil.py' ]"
check "... naming what it left behind" grep -q "modeling_evil.py: not carried (no rule lists it)" <<<"$err"
check "... and the tokenizer is the original" cmp "$T/in/text_model/tokenizer.json" "$T/back/text_model/tokenizer.json"
rm "$T/l.hf-files/text_model/modeling_evil.py"

# a carried file changed after packing is refused, on the way back and by verify
cp "$T/l.hf-files/text_model/tokenizer.json" "$T/tok.saved"
echo '{"version": "evil"}' >"$T/l.hf-files/text_model/tokenizer.json"
expect_fail "a carried file that does not match its record is refused" "tokenizer.json: xxHash64" "$T/b2" \
	"$CKCONV" convert "$T/l.mdl" -o "$T/b2" -q
check "... and verify names it" sh -c "! '$CKCONV' verify '$T/l.mdl' >'$T/vout' 2>'$T/verr'; grep -q 'text_model/tokenizer.json: carried file damaged' '$T/vout' && grep -q '1 of 2 carried files' '$T/verr'"
cp "$T/tok.saved" "$T/l.hf-files/text_model/tokenizer.json"
echo '{}' >"$T/l.hf-files/text_model/special_tokens_map.json"
expect_fail "a listed file that was not recorded is refused" "special_tokens_map.json: not among the carried files recorded" "$T/b3" \
	"$CKCONV" convert "$T/l.mdl" -o "$T/b3" -q
rm "$T/l.hf-files/text_model/special_tokens_map.json" "$T/l.hf-files/text_model/tokenizer.json"
expect_fail "a recorded file that is missing is refused" "text_model/tokenizer.json: recorded when the packed file was written, but missing" "$T/b4" \
	"$CKCONV" convert "$T/l.mdl" -o "$T/b4" -q
cp "$T/tok.saved" "$T/l.hf-files/text_model/tokenizer.json"

# the HF cache layout: snapshots/REV/... -> ../../blobs/HASH is followed
C="$T/cache/models--x--llava"
mkdir -p "$C/blobs" "$C/snapshots/0123abc"
cp -r "$G/llava/hf/." "$C/snapshots/0123abc/"
echo '{"version": "cached"}' >"$C/blobs/5f3a"
ln -s ../../../blobs/5f3a "$C/snapshots/0123abc/text_model/tokenizer.json"
check "a tokenizer file linked into the HF cache's blob store is carried" sh -c "'$CKCONV' convert '$C/snapshots/0123abc' -o '$T/c.mdl' -q && cmp '$C/blobs/5f3a' '$T/c.hf-files/text_model/tokenizer.json' && [ ! -L '$T/c.hf-files/text_model/tokenizer.json' ]"
echo secret >"$T/cache/secret.txt"
ln -sf ../../../../secret.txt "$C/snapshots/0123abc/text_model/tokenizer.json"
expect_fail "a link out of the source and the blob store is refused" "outside the source directory and the HF cache's blob store; refusing to follow it" "$T/c2.mdl" \
	"$CKCONV" convert "$C/snapshots/0123abc" -o "$T/c2.mdl" -q
mkdir -p "$T/in/shared"; mv "$T/in/text_model/tokenizer.json" "$T/in/shared/tok.json"
ln -s ../shared/tok.json "$T/in/text_model/tokenizer.json"
check "a link inside the source tree is followed" sh -c "'$CKCONV' convert '$T/in' -o '$T/s.mdl' -q && cmp '$T/in/shared/tok.json' '$T/s.hf-files/text_model/tokenizer.json'"
ln -sf /etc/passwd "$T/in/text_model/tokenizer.json"
expect_fail "a link to /etc/passwd is refused" "a symbolic link to /etc/passwd, outside the source directory; refusing to follow it" "$T/s2.mdl" \
	"$CKCONV" convert "$T/in" -o "$T/s2.mdl" -q
mkfifo "$T/in/text_model/tokenizer_config.json"; rm -f "$T/in/text_model/tokenizer.json"
# opening the FIFO would block for ever: the timeout only bounds that failure, and is long enough
# for a whole run under valgrind on a loaded machine (10 s was not)
expect_fail "a FIFO among the listed names is refused, never opened" "tokenizer_config.json: not a regular file; refusing to carry it" "$T/s3.mdl" \
	timeout 60 "$CKCONV" convert "$T/in" -o "$T/s3.mdl" -q
