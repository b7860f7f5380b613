#!/usr/bin/env bash
# The real-config corpus (tests/real/): published HF configs and ModelZoo params, HF -> CS -> HF and
# CS -> HF from cstorch-style training checkpoints, against reviewed expected files.
set -u
cd "$(dirname "$0")/../.."
exec "${PY:-/usr/bin/python3}" tools/real_run.py
