"""Write an HF checkpoint directory as transformers' save_pretrained writes safetensors: tied
duplicates left out (numpy only; no ckconv code, no transformers).

  drop_tied.py SRC_DIR OUT_DIR     config.json copied, model.safetensors without the dropped keys;
                                   prints the dropped keys, one a line

Safetensors cannot hold two names for one storage, so save_pretrained (modeling_utils.py,
transformers 4.3x-4.4x) drops names from every group of tensors sharing storage: it walks the
group's names sorted, and each name matching one of the model class's `_tied_weights_keys`
patterns (re.search) is dropped while it is not the last name of the group left. The groups are
what the model ties at load (tie_weights, shared modules); they are listed here per architecture,
with the class's `_tied_weights_keys`, as modeling_t5.py, modeling_bert.py, modeling_roberta.py
and modeling_esm.py define them. A group whose tie the config turns off (tie_word_embeddings:
false) is no group: both tensors are written.
"""
import json, os, re, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stfile  # noqa: E402

# architecture -> (_tied_weights_keys, [(tied only when tie_word_embeddings, [names sharing storage])])
TIES = {
    "T5ForConditionalGeneration": (
        ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"],
        [(False, ["shared.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight"]),
         (True, ["shared.weight", "lm_head.weight"])]),
    "BertForPreTraining": (
        ["predictions.decoder.bias", "cls.predictions.decoder.weight"],
        [(True, ["bert.embeddings.word_embeddings.weight", "cls.predictions.decoder.weight"]),
         (False, ["cls.predictions.bias", "cls.predictions.decoder.bias"])]),
    "RobertaForMaskedLM": (
        ["lm_head.decoder.weight", "lm_head.decoder.bias"],
        [(True, ["roberta.embeddings.word_embeddings.weight", "lm_head.decoder.weight"]),
         (False, ["lm_head.bias", "lm_head.decoder.bias"])]),
    "EsmForMaskedLM": (
        ["lm_head.decoder.weight"],
        [(True, ["esm.embeddings.word_embeddings.weight", "lm_head.decoder.weight"])]),
}


def groups(arch, tie):
    """The storage groups: groups sharing a name are one storage (T5's shared.weight)."""
    out = []
    for needs_tie, names in TIES[arch][1]:
        if needs_tie and not tie:
            continue
        merged = set(names)
        for g in [g for g in out if g & merged]:
            merged |= g
            out.remove(g)
        out.append(merged)
    return out


def dropped(arch, tie, present):
    patterns = TIES[arch][0]
    drop = set()
    for g in groups(arch, tie):
        names = sorted(n for n in g if n in present)
        found = 0
        for n in names:
            if any(re.search(p, n) for p in patterns):
                found += 1
                if found < len(names):
                    drop.add(n)
    return drop


def main(src, out):
    cfg = json.load(open(os.path.join(src, "config.json")))
    arch = cfg["architectures"][0]
    ts = stfile.read_dir(src)
    drop = dropped(arch, cfg.get("tie_word_embeddings", True), ts)
    os.makedirs(out, exist_ok=True)
    json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=2)
    stfile.write(os.path.join(out, "model.safetensors"), {k: v for k, v in ts.items() if k not in drop})
    for n in sorted(drop):
        print(n)


if __name__ == "__main__":
    main(*sys.argv[1:3])
