#!/usr/bin/env bash
# CS -> HF from full *training* checkpoints as cstorch saves them (issue 11, "also keep working"):
# model + optimizer (state keyed by int) + lr_scheduler/schedulers + global_step + __metadata__ + None
# and string leaves, LZ4-chunked datasets, tied weights as LinkedObject aliases, deferred constant
# tensors (NestedObject of a DeferredFullTensor: no dataset), and sideband sparsity (params
# sparsity {type: sideband}: NaN weights become 0, as the reference's post_model_convert does).
# Fixtures: tools/make_training_ckpt.py (h5py + numpy) from the golden packed tensors.
. "$(dirname "$0")/lib.inc"
G=$ROOT/tests/golden
MK="$PY $ROOT/tools/make_training_ckpt.py"
"$PY" "$ROOT/tools/make_cstorch_h5.py" "$G/gpt2/cs/model.safetensors" "$T/gpt2.mdl" >/dev/null
"$PY" "$ROOT/tools/make_cstorch_h5.py" "$G/llama/cs/model.safetensors" "$T/llama.mdl" >/dev/null
cv() { "$CKCONV" convert "$@" --quiet; }
# f32 view of one HF tensor: python prints what the check needs
hf() { "$PY" - "$ROOT/tools" "$@" <<'PYEOF'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import real_run as rr
d, what = sys.argv[2], sys.argv[3]
t = rr.load_dir(d)
f = lambda k: np.frombuffer(t[k][2], dtype=np.float32)
if what == "const":
    ok = (f(sys.argv[4]) == float(sys.argv[5])).all()
elif what == "same":
    ok = t[sys.argv[4]][2] == t[sys.argv[5]][2]
elif what == "nans":
    ok = sum(int(np.isnan(f(k)).sum()) for k in t if t[k][0] == "F32") == int(sys.argv[4])
sys.exit(0 if ok else 1)
PYEOF
}

$MK --trainer "$T/gpt2.mdl" "$T/train.mdl"
check "the fixture holds optimizer state keyed by int, schedulers, global_step, metadata" "$PY" -c '
import h5py, json, sys
f = h5py.File(sys.argv[1], "r"); a = f.attrs
assert "optimizer.state.0.exp_avg" in f and "optimizer.state.1.exp_avg_sq" in f
for k in ("lr_scheduler.last_epoch", "schedulers.0.last_epoch", "global_step", "__metadata__.0.version", "grad_scaler"):
    assert k + ".__metadata__" in a, k
assert json.loads(a["global_step.__metadata__"])["global_step.__metadata__"]["scalar_value"] == 10
assert f["model.model.lm_head.weight"]._filters.get("32004") is not None or "32004" in str(f["model.model.lm_head.weight"]._filters), "not LZ4"
' "$T/train.mdl"
check "a training checkpoint (trainer layout, model.model.*) converts" cv "$T/train.mdl" --config "$G/gpt2/cs/params.yaml" -o "$T/o1"
check "... to the tensors of the model alone, bit for bit" $CHECK st-vs-st "$T/o1/model.safetensors" "$G/gpt2/hf_back/model.safetensors"
$MK "$T/gpt2.mdl" "$T/flat.mdl"
check "the flat layout (model.*) too" cv "$T/flat.mdl" --config "$G/gpt2/cs/params.yaml" -o "$T/o2"
check "... bit for bit" $CHECK st-vs-st "$T/o2/model.safetensors" "$G/gpt2/hf_back/model.safetensors"
$MK --trainer "$T/llama.mdl" "$T/llama-train.mdl"
check "a llama training checkpoint converts" cv "$T/llama-train.mdl" --config "$G/llama/cs/params.yaml" -o "$T/o3"
check "... bit for bit" $CHECK st-vs-st "$T/o3/model.safetensors" "$G/llama/hf_back/model.safetensors"

$MK --trainer --tie lm_head.weight=embedding_layer.word_embeddings.weight "$T/gpt2.mdl" "$T/tied.mdl"
check "the tied fixture stores lm_head as a LinkedObject, without a dataset" "$PY" -c '
import h5py, json, sys
f = h5py.File(sys.argv[1], "r"); k = "model.model.lm_head.weight"
m = json.loads(f.attrs[k + ".__metadata__"])[k + ".__metadata__"]
assert m["__LINKED__"] and m["key"] == "model.model.embedding_layer.word_embeddings.weight" and k not in f
' "$T/tied.mdl"
check "tied weights (LinkedObject) convert" cv "$T/tied.mdl" --config "$G/gpt2/cs/params.yaml" -o "$T/o4"
check "... lm_head is the embedding" hf "$T/o4" same lm_head.weight transformer.wte.weight

$MK --trainer --deferred transformer_decoder.layers.0.norm1.weight=1.0 --deferred transformer_decoder.layers.1.norm3.bias=0 \
	"$T/gpt2.mdl" "$T/deferred.mdl"
check "the deferred fixture has no dataset for them, only a NestedObject" "$PY" -c '
import h5py, json, sys
f = h5py.File(sys.argv[1], "r"); k = "model.model.transformer_decoder.layers.0.norm1.weight"
m = json.loads(f.attrs[k + ".__metadata__"])
assert k not in f and m["__objects__"] == [k + ".0"] and m[k + ".0.__metadata__"]["__TYPE__"] == "DeferredFullTensor"
' "$T/deferred.mdl"
check "deferred constant tensors (DeferredFullTensor) convert" cv "$T/deferred.mdl" --config "$G/gpt2/cs/params.yaml" -o "$T/o5"
check "... ln_1.weight of layer 0 is all 1.0" hf "$T/o5" const transformer.h.0.ln_1.weight 1.0
check "... ln_2.bias of layer 1 is all 0" hf "$T/o5" const transformer.h.1.ln_2.bias 0
check "... every other tensor bit for bit" "$PY" -c '
import sys; sys.path.insert(0, sys.argv[1])
import real_run as rr
a = rr.load_dir(sys.argv[2]); b = rr.load_st(sys.argv[3])
assert set(a) == set(b) and all(a[k] == b[k] for k in b if k not in ("transformer.h.0.ln_1.weight", "transformer.h.1.ln_2.bias"))
' "$ROOT/tools" "$T/o5" "$G/gpt2/hf_back/model.safetensors"

K=transformer_decoder.layers.0.ffn.ffn.0.linear_layer.weight
$MK --trainer --nan $K "$T/gpt2.mdl" "$T/sparse.mdl"
{ cat "$G/gpt2/cs/params.yaml"; printf 'sparsity:\n  type: sideband\n'; } >"$T/sideband.yaml"
out=$("$CKCONV" convert "$T/sparse.mdl" --config "$T/sideband.yaml" -o "$T/o6" 2>&1); rc=$?
check "sideband sparsity converts" test "$rc" -eq 0
check "... saying NaN weights become 0" grep -q "sparsity type sideband: NaN (pruned) weights are written as 0" <<<"$out"
check "... and no NaN is left" hf "$T/o6" nans 0
check "... the two pruned weights are 0, the rest as before" "$PY" -c '
import sys; sys.path.insert(0, sys.argv[1])
import numpy as np, real_run as rr
a = rr.load_dir(sys.argv[2]); b = rr.load_st(sys.argv[3]); k = "transformer.h.0.mlp.c_fc.weight"
x = np.frombuffer(a[k][2], dtype=np.float32); y = np.frombuffer(b[k][2], dtype=np.float32)
assert list(np.nonzero(x != y)[0]) == [0, x.size - 1] and (x[x != y] == 0).all()
assert all(a[n] == b[n] for n in b if n != k)
' "$ROOT/tools" "$T/o6" "$G/gpt2/hf_back/model.safetensors"
{ cat "$G/gpt2/cs/params.yaml"; printf 'trainer:\n  init:\n    sparsity:\n      type: sideband\n'; } >"$T/sideband-trainer.yaml"
check "trainer.init.sparsity sideband is read too" cv "$T/sparse.mdl" --config "$T/sideband-trainer.yaml" -o "$T/o7"
check "... no NaN left" hf "$T/o7" nans 0
check "without sideband sparsity NaN stays NaN (as the reference: only sideband is finalized)" \
	cv "$T/sparse.mdl" --config "$G/gpt2/cs/params.yaml" -o "$T/o8"
check "... both NaN kept" hf "$T/o8" nans 2

# a DeferredFullTensor whose metadata is not usable is refused by name, never guessed
"$PY" - "$T/deferred.mdl" "$T/bad-fill.mdl" "$T/bad-name.mdl" <<'PYEOF'
import json, shutil, sys
import h5py
src, bad_fill, bad_name = sys.argv[1:4]
k = "model.model.transformer_decoder.layers.0.norm1.weight"
for out, edit in ((bad_fill, "fill"), (bad_name, "name")):
    shutil.copyfile(src, out)
    with h5py.File(out, "r+") as f:
        m = json.loads(f.attrs[k + ".__metadata__"])
        if edit == "fill":
            m[k + ".0.__metadata__"]["fill_value"] = "one"
        else:
            m["__objects__"] = [k + ".x"]
            m[k + ".x.__metadata__"] = m.pop(k + ".0.__metadata__")
        f.attrs[k + ".__metadata__"] = json.dumps(m)
PYEOF
expect_fail "a DeferredFullTensor without a numeric fill_value is refused" 'DeferredFullTensor lacks shape, dtype or a numeric fill_value' \
	"$T/o9" "$CKCONV" convert "$T/bad-fill.mdl" --config "$G/gpt2/cs/params.yaml" -o "$T/o9"
expect_fail "a DeferredFullTensor outside a NestedObject is refused" "a DeferredFullTensor outside a NestedObject" \
	"$T/o10" "$CKCONV" convert "$T/bad-name.mdl" --config "$G/gpt2/cs/params.yaml" -o "$T/o10"
