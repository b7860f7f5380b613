#!/usr/bin/env bash
# Tied duplicates a checkpoint leaves out (`tied:` in key rules, issue 15): real HF safetensors
# hold one name of each tied group (save_pretrained drops the model's _tied_weights_keys), so T5
# has shared.weight but no embed_tokens nor a tied lm_head, BERT/RoBERTa no decoder weight or
# bias, ESM-2 no decoder weight. tools/drop_tied.py writes the golden HF inputs that way; each
# converts to exactly the reference's CS tensors and back to its hf_back. The CS side: a
# cstorch-written file without a tied twin converts to HF as the complete one does. A tie the
# config turns off is not filled.
. "$(dirname "$0")/lib.inc"
G="$ROOT/tests/golden"
drop() { "$PY" "$ROOT/tools/drop_tied.py" "$@"; }

# case: the keys save_pretrained drops from its golden HF input
for spec in "t5:decoder.embed_tokens.weight encoder.embed_tokens.weight lm_head.weight" \
	"bert:cls.predictions.decoder.bias cls.predictions.decoder.weight" \
	"roberta:lm_head.decoder.bias lm_head.decoder.weight" \
	"esm-2:lm_head.decoder.weight"; do
	c=${spec%%:*} want=${spec#*:}
	got=$(drop "$G/$c/hf" "$T/$c" | tr '\n' ' ')
	check "$c: save_pretrained leaves out $want" test "${got% }" = "$want"
	check "$c: hf without its tied duplicates -> cs" "$CKCONV" convert "$T/$c" -o "$T/$c.mdl" -q
	check "$c: packed tensors equal the reference's (from the complete hf)" $CHECK mdl-vs-st "$T/$c.mdl" "$G/$c/cs/model.safetensors"
	n=$("$CKCONV" convert "$T/$c" -o "$T/$c-dbg.mdl" --debug 2>&1 | grep -c '(absent) <- .* (tied twin, rule ')
	check "$c: --debug names each absent key and its twin" test "$n" -eq "$(wc -w <<<"$want")"
	check "$c: cs -> hf" "$CKCONV" convert "$T/$c.mdl" -o "$T/$c-back" -q
	check "$c: every tensor back, tied duplicates included, equals hf_back" $CHECK st-vs-st "$T/$c-back" "$G/$c/hf_back"
done

# a tie the config turns off is no tie: the absent key is not made up from the embedding
hf_variant t5-untied "$T/t5" '{"tie_word_embeddings": false}'
check "t5 untied, lm_head absent: converts" "$CKCONV" convert "$T/t5-untied" -o "$T/t5-untied.mdl" -q
check "... the embeddings still from shared.weight (HF T5 always ties them)" \
	sh -c "'$CKCONV' inspect '$T/t5-untied.mdl' | grep -c 'word_embeddings.weight' | grep -qx 2"
check "... but no lm_head: untied, it is not the embedding" sh -c "! '$CKCONV' inspect '$T/t5-untied.mdl' | grep -q lm_head"
hf_variant bert-untied "$T/bert" '{"tie_word_embeddings": false}'
check "bert untied, decoder.weight absent: converts (the bias still from its twin)" \
	"$CKCONV" convert "$T/bert-untied" -o "$T/bert-untied.mdl" -q
check "... without a classifier weight" sh -c "! '$CKCONV' inspect '$T/bert-untied.mdl' | grep -q 'bert_mlm_head.classifier.ffn.0.linear_layer.weight'"

# CS side: a cstorch-written (LZ4, chunked) file without the tied twins
strip() { # SRC.safetensors OUT.mdl KEY...: SRC without KEYs, written as cstorch writes a checkpoint
	local src=$1 out=$2; shift 2
	"$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import stfile
t = stfile.read(sys.argv[2])
for k in sys.argv[4:]: t.pop(k)
stfile.write(sys.argv[3], t)' "$ROOT/tools" "$src" "$T/strip.st" "$@"
	"$PY" "$ROOT/tools/make_cstorch_h5.py" "$T/strip.st" "$out" >/dev/null
}
strip "$G/t5/cs/model.safetensors" "$T/t5-cs.mdl" model.decoder_embeddings.word_embeddings.weight model.lm_head.weight
check "t5 cs without decoder embedding and lm_head: the file lacks them" \
	sh -c "test \$('$CKCONV' inspect '$T/t5-cs.mdl' | grep -c 'decoder_embeddings.word_embeddings\|lm_head') = 0"
check "t5 cs (cstorch LZ4) without them -> hf" "$CKCONV" convert "$T/t5-cs.mdl" --config "$G/t5/cs/params.yaml" -o "$T/t5-cs" -q
check "... equals hf_back, decoder.embed_tokens and lm_head included" $CHECK st-vs-st "$T/t5-cs" "$G/t5/hf_back"
strip "$G/bert/cs/model.safetensors" "$T/bert-cs.mdl" model.bert_mlm_head.classifier.ffn.0.linear_layer.weight
check "bert cs (cstorch LZ4) without the classifier weight -> hf" \
	"$CKCONV" convert "$T/bert-cs.mdl" --config "$G/bert/cs/params.yaml" -o "$T/bert-cs" -q
check "... equals hf_back, cls.predictions.decoder.weight included" $CHECK st-vs-st "$T/bert-cs" "$G/bert/hf_back"
params_edit "$G/bert/cs/params.yaml" "$T/bert-unshared.yaml" '{"share_embedding_weights": false}'
check "bert cs unshared without the classifier weight -> hf" \
	"$CKCONV" convert "$T/bert-cs.mdl" --config "$T/bert-unshared.yaml" -o "$T/bert-cs-unshared" -q
check "... no decoder weight made up from the embedding" \
	sh -c "! '$CKCONV' inspect '$T/bert-cs-unshared' | grep -q 'cls.predictions.decoder.weight'"

# the rule language: twins are literal keys, on a side the rule has
mkdir -p "$T/rules"
cat >"$T/rules/bad-tied.yaml" <<'EOF'
keys:
  - {hf: a.<L>.weight, cs: b.<L>.weight, tied: {hf: c.weight}}
EOF
check "tied on a rule with placeholders is refused at load, at the twin" \
	sh -c "'$CKCONV' validate '$T/rules/bad-tied.yaml' | grep -q 'bad-tied.yaml:2:53: error: tied: the rule.s hf keys must be literal (no placeholders)'"
cat >"$T/rules/bad-tied2.yaml" <<'EOF'
keys:
  - {hf: a.weight, tied: {cs: c.weight}}
EOF
check "tied on a side the rule has no keys on is refused" \
	sh -c "'$CKCONV' validate '$T/rules/bad-tied2.yaml' | grep -q 'bad-tied2.yaml:2:31: error: tied: the rule has no cs keys to tie'"

# explain shows the tie: where an absent key is read from, and what a twin stands in for
ex() { "$CKCONV" explain "$@" 2>&1; }
check "explain: an absent tied key is read from its twin, under the tie's when" \
	grep -qx '  tied     absent from the checkpoint, it is read from its twin bert.embeddings.word_embeddings.weight (while cs.model.share_embedding_weights)' \
	<<<"$(ex --model bert cls.predictions.decoder.weight)"
check "explain: ... with --config, whether the tie holds" \
	grep -q '^  tied     absent from the checkpoint, it is read from its twin .* (while cs.model.share_embedding_weights = true)$' \
	<<<"$(ex --model bert --config "$G/bert/hf/config.json" cls.predictions.decoder.weight)"
check "explain: a tie the config turns off says so" \
	grep -q 'share_embedding_weights = false: no tie, the key must be in the checkpoint)$' \
	<<<"$(ex --model bert --config "$T/bert-untied/config.json" cls.predictions.decoder.weight)"
check "explain: the twin names what it stands in for (once, though the rule is included twice)" \
	test "$(ex --model bert bert.embeddings.word_embeddings.weight | grep -c '^  tied     stands in for cls.predictions.decoder.weight ([^ ]*bert-mlm.yaml:[0-9]*:[0-9]*) when a checkpoint leaves that out (while cs.model.share_embedding_weights)$')" = 1
check "explain: a key that is the twin of its own rule's other key" \
	grep -q '^  tied     stands in for cls.predictions.decoder.bias ([^ ]*bert-mlm.yaml:[0-9]*:[0-9]*) when a checkpoint leaves that out$' \
	<<<"$(ex --model bert cls.predictions.bias)"
check "explain: T5's shared.weight stands in for both embeddings and the tied head" \
	test "$(ex --model t5 shared.weight | grep -c '^  tied     stands in for \(encoder.embed_tokens.weight\|decoder.embed_tokens.weight\|lm_head.weight\) ')" = 3
check "explain: from CS, the CS twin" \
	grep -q '^  tied     absent from the checkpoint, it is read from its twin encoder_embeddings.word_embeddings.weight' \
	<<<"$(ex --model t5 --from cs decoder_embeddings.word_embeddings.weight)"
check "explain: an untied key shows no tie" sh -c "! '$CKCONV' explain --model bert bert.encoder.layer.0.output.dense.weight | grep -q tied"
