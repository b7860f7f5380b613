#!/usr/bin/env bash
# Expansion bounds (src/bounds.h, docs/security.md "Shapes and expansion"): the issue's small
# inputs that expanded to hundreds of MiB, at full size, each refused with one line, fast and
# within a stated peak RSS (/usr/bin/time). Small versions live in tests/bad/2NN-*.
. "$(dirname "$0")/lib.inc"
rss_measured
[ -x /usr/bin/time ] || { notok "/usr/bin/time is installed (Debian package time)"; exit 1; }
BAD="$ROOT/tests/bad"
# under make valgrind CKCONV is the valgrind wrapper: measure the binary itself (bad_corpus.sh
# runs the small versions under valgrind)
RUN=${CKCONV_REAL:-$CKCONV}
# refused NAME TEXT MAX_KB MAX_S CMD...: CMD fails with one line containing TEXT, peaking below
# MAX_KB of RSS and finishing within MAX_S seconds
refused() {
	local name=$1 want=$2 kb=$3 secs=$4; shift 4
	/usr/bin/time -f '%M %e' -o "$T/usage" "$@" >/dev/null 2>"$T/err"
	local rc=$? rss s lines
	read -r rss s < <(tail -n 1 "$T/usage"); lines=$(grep -c '' "$T/err")
	if [ "$rc" -eq 1 ] && [ "$lines" -eq 1 ] && grep -qF -- "$want" "$T/err" && [ "$rss" -lt "$kb" ] &&
		awk -v s="$s" -v m="$secs" 'BEGIN { exit !(s <= m) }'; then
		ok "$name (peak ${rss} KB, ${s} s)"
	else
		notok "$name"; echo "#   rc=$rc lines=$lines peak=${rss} KB (limit $kb) time=${s} s (limit $secs)"; head -c 400 "$T/err" | sed 's/^/#   /'
	fi
}
case_args() { # the case folder's args with IN and OUT filled in
	sed "s#IN#$1#g; s#OUT#$T/out#g" "$1/args"
}

# an 8 KiB .bin whose stride-0 view is a 256 MiB tensor (the issue: 24 s and 2.1 GB at 2 GiB)
mkdir -p "$T/bin" "$T/out"
$PY - "$T/bin" "$ROOT/tools" <<'PY'
import json, sys, os
sys.path.insert(0, sys.argv[2])
from make_shape_cases import bin_bytes
import numpy as np
d = sys.argv[1]
V, E = 65536, 1024  # [V, E] f32 = 256 MiB from one row of E floats
cfg = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": V, "n_embd": E, "n_layer": 1,
       "n_head": 8, "n_positions": 8}
open(os.path.join(d, "config.json"), "w").write(json.dumps(cfg))
open(os.path.join(d, "pytorch_model.bin"), "wb").write(
    bin_bytes({"transformer.wte.weight": ("0", 0, (V, E), (0, 1))}, {"0": np.zeros(2048, "<f4")}))
PY
check "the stride-0 .bin is small" test "$(stat -c %s "$T/bin/pytorch_model.bin")" -lt 16384
refused "an 8 KiB .bin expanding to 256 MiB is refused" "repeats its elements" 40000 2 \
	"$RUN" convert "$T/bin" --model gpt2 -o "$T/out/x.mdl"

# a small packed file whose dataset was never written: 256 MiB of fill value
cp "$BAD"/2*-amp-mdl-never-written/x.mdl "$T/fill.mdl"
cp "$BAD"/2*-amp-mdl-never-written/x.yaml "$T/fill.yaml"
$PY - "$T/fill.mdl" <<'PY'
import json, sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f:
    name = next(k for k in f if k.endswith("word_embeddings.weight"))
    attrs = dict(f[name].attrs)
    del f[name]
    shape = (1 << 20, 64)  # f32: 256 MiB
    d = f.create_dataset(name, shape=shape, dtype="<f4")
    attrs["shapes"] = np.array([shape], dtype="<i8")
    d.attrs.update(attrs)
    m = json.loads(f.attrs[name + ".__metadata__"])
    m[name + ".__metadata__"]["shapes"] = [list(shape)]
    f.attrs[name + ".__metadata__"] = json.dumps(m)
PY
check "the never-written .mdl is small" test "$(stat -c %s "$T/fill.mdl")" -lt 1048576
refused "a small .mdl with a never-written 256 MiB dataset is refused" "its data was never written" 40000 2 \
	"$RUN" convert "$T/fill.mdl" --config "$T/fill.yaml" -o "$T/out/hf"

# the MoE stack [0, 2^20, 0] (zero bytes; 520 MB in planning before), with and without shape: rules
for d in "$BAD"/2*-shape-mixtral-moe-stack "$BAD"/2*-amp-mixtral-unstack-unbounded; do
	read -ra argv < <(case_args "$d")
	refused "$(basename "$d"): planning stays small" "1048576" 40000 2 "$RUN" "${argv[@]}"
done
# 512 MiB of causal masks asked for by the params
d=$(echo "$BAD"/2*-amp-gpt2-generated-mask)
read -ra argv < <(case_args "$d")
refused "$(basename "$d"): refused before anything is generated" "the rules' generators would make" 40000 2 "$RUN" "${argv[@]}"

# every key rule that moves a tensor (both sides named) states its shape, except those whose
# size the config does not determine (listed here, and in docs/security.md)
check "every two-sided key rule in rules/ states shape:" $PY - "$ROOT/rules" <<'PY'
import glob, os, sys, yaml
EXEMPT = ("self_attn.q_norm.", "self_attn.k_norm.")  # per-head or per-model: the config does not say
missing = []
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.yaml"))):
    for k in yaml.safe_load(open(path)).get("keys") or []:
        if "include" in k or "hf" not in k or "cs" not in k or "shape" in k:
            continue
        hf = k["hf"] if isinstance(k["hf"], str) else k["hf"][0]
        if not any(x in hf for x in EXEMPT):
            missing.append("%s: %s" % (os.path.basename(path), hf))
if missing:
    sys.exit("no shape: for " + "; ".join(missing))
PY
