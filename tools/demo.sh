#!/usr/bin/env bash
# `make demo`: convert the bundled tiny LLaMA HF -> CS -> HF and show what happened.
set -eu
ck=${1:-bin/ckconv}
cd "$(dirname "$0")/.."
out=demo-out
rm -rf "$out" && mkdir -p "$out"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
step "$ck" list --hide-notes
step "$ck" convert examples/tiny-llama --model llama --tgt-fmt cs-2.9 -o "$out/tiny-llama.mdl"
step "$ck" inspect "$out/tiny-llama.mdl"
step cat "$out/tiny-llama.yaml"
step "$ck" convert "$out/tiny-llama.mdl" --config "$out/tiny-llama.yaml" --tgt-fmt hf -o "$out/tiny-llama-hf"
step "$ck" diff examples/tiny-llama "$out/tiny-llama-hf"
printf '\nThe round trip HF -> CS -> HF gave back every tensor bit for bit. Outputs are in %s/.\n' "$out"
