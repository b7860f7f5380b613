#!/usr/bin/env bash
# Copy the reference cases the tests use into tests/golden/ (a user's clone has no shared/).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
ref=${1:-$here/../shared/reference}
for c in llama gpt2 mixtral llava dragon; do
	rm -rf "$here/tests/golden/$c"
	mkdir -p "$here/tests/golden/$c"
	cp -r "$ref/$c/hf" "$ref/$c/cs" "$ref/$c/hf_back" "$ref/$c/case.json" "$here/tests/golden/$c/"
	chmod -R u+w "$here/tests/golden/$c"
done
echo "copied into $here/tests/golden"
