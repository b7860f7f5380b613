#!/usr/bin/env bash
# Copy the reference cases the tests use into tests/golden/ (a user's clone has no shared/).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
ref=${1:-$here/../shared/reference}
for c in llama gpt2 mixtral llava dragon llama-mup; do
	rm -rf "$here/tests/golden/$c"
	mkdir -p "$here/tests/golden/$c"
	for part in hf hf_bin cs hf_back case.json; do
		[ -e "$ref/$c/$part" ] && cp -r "$ref/$c/$part" "$here/tests/golden/$c/"
	done
	chmod -R u+w "$here/tests/golden/$c"
done
echo "copied into $here/tests/golden"
