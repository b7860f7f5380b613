#!/usr/bin/env bash
# The walkthrough in docs/adding-a-model.md still holds: every command it shows runs, in order,
# and prints what the page says it prints (tools/doc_check.py: `…` marks shortened output). A
# rule file, message or option that changes without the page fails here, not in a reader's hands.
. "$(dirname "$0")/lib.inc"
cd "$ROOT" && $PY tools/doc_check.py docs/adding-a-model.md .
