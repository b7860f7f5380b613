#!/usr/bin/env bash
# Copy reference cases into tests/golden/ (a user's clone has no shared/).
#   tools/copy_golden.sh CASE...   copy (or refresh) those cases
#   tools/copy_golden.sh           refresh every case already in tests/golden/ that came from the reference
# REF=DIR overrides where the reference vectors are (default ../shared/reference).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
ref=${REF:-$here/../shared/reference}
cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
	for d in "$here"/tests/golden/*/; do
		c=$(basename "$d")
		[ -f "$ref/$c/case.json" ] && cases+=("$c")
	done
fi
for c in "${cases[@]}"; do
	[ -f "$ref/$c/case.json" ] || { echo "copy_golden: $ref/$c/case.json: no such reference case" >&2; exit 1; }
	rm -rf "$here/tests/golden/$c"
	mkdir -p "$here/tests/golden/$c"
	for part in hf hf_bin cs hf_back case.json; do
		[ -e "$ref/$c/$part" ] && cp -r "$ref/$c/$part" "$here/tests/golden/$c/"
	done
	chmod -R u+w "$here/tests/golden/$c"
done
echo "copied ${cases[*]} into $here/tests/golden"
