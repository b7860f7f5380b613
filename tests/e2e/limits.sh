#!/usr/bin/env bash
# Metadata limits (src/bounds.h, docs/security.md): inputs too large to keep in tests/bad/, made
# here, each refused with one short line, quickly and within a stated peak RSS (/usr/bin/time).
. "$(dirname "$0")/lib.inc"
rss_measured
[ -x /usr/bin/time ] || { notok "/usr/bin/time is installed (Debian package time)"; exit 1; }
BAD="$ROOT/tests/bad"
# bounded NAME TEXT MAX_KB MAX_BYTES CMD...: CMD fails with one line containing TEXT, at most
# MAX_BYTES long, and peaks below MAX_KB of RSS
bounded() {
	local name=$1 want=$2 kb=$3 len=$4; shift 4
	/usr/bin/time -f %M -o "$T/rss" "$@" >/dev/null 2>"$T/err"
	local rc=$? rss lines bytes
	rss=$(tail -n 1 "$T/rss"); lines=$(grep -c '' "$T/err"); bytes=$(wc -c <"$T/err")
	if [ "$rc" -eq 1 ] && [ "$lines" -eq 1 ] && grep -qF -- "$want" "$T/err" && [ "$rss" -lt "$kb" ] && [ "$bytes" -le "$len" ]; then
		ok "$name (peak ${rss} KB, ${bytes}-byte message)"
	else
		notok "$name"; echo "#   rc=$rc lines=$lines peak=${rss} KB (limit $kb) message=$bytes bytes (limit $len)"; head -c 300 "$T/err" | sed 's/^/#   /'
	fi
}

# spec_bomb FILE DEPTH KEY_BYTES LEAVES: a copy of a small packed file whose __spec__ nests DEPTH
# dicts of one KEY_BYTES-long key each over a dict of LEAVES leaves
spec_bomb() {
	cp "$BAD/96-mdl-spec-key-too-long/x.mdl" "$1"
	$PY - "$@" <<'PY'
import json, sys, h5py
path, depth, klen, leaves = sys.argv[1], *map(int, sys.argv[2:])
leaf = lambda: {"type": None, "context": None, "children_spec": []}
node = {"type": "builtins.dict", "context": json.dumps([str(i) for i in range(leaves)]),
        "children_spec": [leaf() for _ in range(leaves)]}
for d in range(depth):
    node = {"type": "builtins.dict", "context": json.dumps(["k%d" % d + "y" * klen]), "children_spec": [node]}
with h5py.File(path, "r+") as f:
    f.attrs["__spec__"] = json.dumps([{}, json.dumps([1, node])])
PY
}

# a 1 MiB string aliased 1000 times: 1 GiB once expanded (took 1-2 GB before the byte bound)
$PY - "$T/bomb.yaml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("big: &a " + "x" * (1 << 20) + "\nmany:\n" + "- *a\n" * 1000 + "model: {name: gpt2}\n")
PY
bounded "a 1 MiB string aliased 1000 times is refused in little memory" "(aliases expanded)" 65536 1100 \
	"$CKCONV" convert "$BAD/50-params-alias-bomb/x.mdl" --config "$T/bomb.yaml" -o "$T/o1"

# a 1.3 MiB __spec__: 60 nested 20 KB keys over 2000 leaves (2.4 GB and a 2 KB line before)
spec_bomb "$T/spec.mdl" 60 20000 2000
bounded "a __spec__ of deep 20 KB keys is refused with a short line" "is longer than 4096 bytes" 131072 600 \
	"$CKCONV" convert "$T/spec.mdl" --config "$BAD/96-mdl-spec-key-too-long/x.yaml" -o "$T/o2"

# keys under the per-key bound that together pass CK_MAX_KEYS_TOTAL: 18000 leaves below a 4000-byte key
spec_bomb "$T/spec2.mdl" 1 4000 18000
bounded "a __spec__ whose keys total more than 64 MiB is refused" "keys total more than 64 MiB" 262144 600 \
	"$CKCONV" convert "$T/spec2.mdl" --config "$BAD/96-mdl-spec-key-too-long/x.yaml" -o "$T/o3"

# 100k shard names in a weight_map: looked up by hash, not scanned (25 s before; now well under 1 s)
mkdir -p "$T/shards"
cp "$ROOT/tests/golden/gpt2/hf/config.json" "$T/shards/"
$PY - "$T/shards/model.safetensors.index.json" <<'PY'
import json, sys
wm = {"k%d.weight" % i: "shard-%06d.safetensors" % i for i in range(100000)}
json.dump({"metadata": {}, "weight_map": wm}, open(sys.argv[1], "w"))
PY
start=$(date +%s%N)
expect_fail "an index of 100k shard names is read in linear time" "shard 'shard-000000.safetensors' not found" "$T/o4.mdl" \
	"$CKCONV" convert "$T/shards" --model gpt2 -o "$T/o4.mdl"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "100k shard names take under 5 s (took $ms ms)" test "$ms" -lt 5000

# inputs that are not regular files (a FIFO blocks a plain open forever): one line, at once
mkdir -p "$T/fifo/hf" "$T/fifo/idx" "$T/fifo/cs" "$T/fifo/rules"
cp "$ROOT/tests/golden/gpt2/hf/model.safetensors" "$T/fifo/hf/"
mkfifo "$T/fifo/hf/config.json"
nonblocking() { # name, culprit, command...
	local name=$1 want="$2: not a regular file (a FIFO)"; shift 2
	expect_fail "$name" "$want" "$T/never" timeout 10 "$@"
}
nonblocking "config.json as a FIFO" "$T/fifo/hf/config.json" "$CKCONV" convert "$T/fifo/hf" --model gpt2 -o "$T/never"
cp "$ROOT/tests/golden/llama/hf/"*.safetensors "$ROOT/tests/golden/llama/hf/config.json" "$T/fifo/idx/"
mkfifo "$T/fifo/idx/model.safetensors.index.json"
nonblocking "a shard index as a FIFO" "$T/fifo/idx/model.safetensors.index.json" "$CKCONV" convert "$T/fifo/idx" --model llama -o "$T/never"
cp "$BAD/57-mdl-no-success/x.mdl" "$T/fifo/cs/x.mdl"
mkfifo "$T/fifo/cs/x.yaml" "$T/fifo/cs/p.mdl"
nonblocking "params YAML as a FIFO" "$T/fifo/cs/x.yaml" "$CKCONV" convert "$T/fifo/cs/x.mdl" --config "$T/fifo/cs/x.yaml" -o "$T/never"
nonblocking "a packed file as a FIFO" "$T/fifo/cs/p.mdl" "$CKCONV" inspect "$T/fifo/cs/p.mdl"
cp "$ROOT"/rules/*.yaml "$T/fifo/rules/"
rm "$T/fifo/rules/gpt2-lm.yaml"; mkfifo "$T/fifo/rules/gpt2-lm.yaml"
nonblocking "an included rule file as a FIFO" "$T/fifo/rules/gpt2-lm.yaml" "$CKCONV" convert "$ROOT/tests/golden/gpt2/hf" --model gpt2 --rules "$T/fifo/rules" -o "$T/never"

# a config.json that is a symlink to someone's file: the JSON error quotes none of its bytes
mkdir -p "$T/link/hf"
printf 'TOKEN=hunter2-secret\n' >"$T/link/secret"
ln -s ../secret "$T/link/hf/config.json"
cp "$ROOT/tests/golden/gpt2/hf/model.safetensors" "$T/link/hf/"
"$CKCONV" convert "$T/link/hf" --model gpt2 -o "$T/never" 2>"$T/link/err"
check "a symlinked config.json's bytes are not quoted" test -s "$T/link/err" -a -z "$(grep -e TOKEN -e hunter "$T/link/err")"
