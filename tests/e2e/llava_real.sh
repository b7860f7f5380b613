#!/usr/bin/env bash
# LLaVA's real configs (issue 11 item 5): (a) the image model's config.json as a whole CLIPModel
# config (model_type clip, vision settings under vision_config, a text tower and projections in the
# weights) converts like its vision tower alone, with a note saying the text side is dropped;
# (b)/(c) are in tests/real (trainer-layout ModelZoo params, projection_dim, tune_mm_mlp_adapter).
. "$(dirname "$0")/lib.inc"
G=$ROOT/tests/golden/llava
mkdir -p "$T/clip"
cp -r "$G/hf/text_model" "$T/clip/text_model"
mkdir -p "$T/clip/image_model"
"$PY" - "$G/hf/image_model" "$T/clip/image_model" "$ROOT/tools" <<'PYEOF'
import json, os, sys
sys.path.insert(0, sys.argv[3])
import numpy as np
import real_run as rr
src, out = sys.argv[1], sys.argv[2]
vision = json.load(open(os.path.join(src, "config.json")))
vision.pop("architectures", None)
text = {"model_type": "clip_text_model", "hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2,
        "num_hidden_layers": 1, "vocab_size": 40, "max_position_embeddings": 8, "projection_dim": 48}
cfg = {"architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": 48, "logit_scale_init_value": 2.6592,
       "initializer_factor": 1.0, "text_config": text, "vision_config": vision}
json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=2)
t = {k: np.frombuffer(v[2], dtype={"F32": np.float32, "I64": np.int64}[v[0]]).reshape(v[1])
     for k, v in rr.load_st(os.path.join(src, "model.safetensors")).items()}
rng = np.random.default_rng(5)
for k, shape in (("text_model.embeddings.token_embedding.weight", (40, 16)),
                 ("text_model.embeddings.position_embedding.weight", (8, 16)),
                 ("text_model.final_layer_norm.weight", (16,)), ("text_projection.weight", (48, 16)),
                 ("visual_projection.weight", (48, 48)), ("logit_scale", ())):
    t[k] = rng.standard_normal(shape).astype(np.float32)
rr.save_st(os.path.join(out, "model.safetensors"), t)
PYEOF
check "the CLIPModel config really is a whole CLIPModel config" grep -q '"model_type": "clip"' "$T/clip/image_model/config.json"
check "the vision tower alone converts (reference layout)" "$CKCONV" convert "$G/hf" --model llava --tgt-fmt cs-2.9 -o "$T/plain.mdl" --quiet
err=$("$CKCONV" convert "$T/clip" --model llava --tgt-fmt cs-2.9 -o "$T/clip.mdl" 2>&1); rc=$?
check "a whole CLIPModel config as the image model converts" test "$rc" -eq 0
check "... with a note: its vision_config is converted, the text side dropped" \
	grep -q "model_type 'clip' is a composite config: its 'vision_config' is converted, the rest is dropped as the reference does (.*text_config" <<<"$err"
check "... into the same tensors as the vision tower alone" $CHECK mdl-vs-mdl "$T/clip.mdl" "$T/plain.mdl"
check "... and the same params" $CHECK yaml-eq "$T/clip.yaml" "$T/plain.yaml"
check "back to HF: the image model is a clip_vision_model" "$CKCONV" convert "$T/clip.mdl" --config "$T/clip.yaml" -o "$T/back" --quiet
check "... config" grep -q '"model_type": "clip_vision_model"' "$T/back/image_model/config.json"
"$PY" -c 'import json,sys; c=json.load(open(sys.argv[1])); del c["vision_config"]; json.dump(c,open(sys.argv[1],"w"))' "$T/clip/image_model/config.json"
expect_fail "a composite config without its vision_config is refused, naming it" "has no 'vision_config' section" "$T/bad.mdl" \
	"$CKCONV" convert "$T/clip" --model llava --tgt-fmt cs-2.9 -o "$T/bad.mdl"
