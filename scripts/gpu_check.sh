#!/usr/bin/env bash
# GPU readiness check of `wizardcoder train` (issue 21): two parts of about 5 minutes each on one GPU.
#   bash scripts/gpu_check.sh part1   # gpu-marked tests; packed rows vs each example alone on sdpa, flex and flash
#                                     # (with a leaky control); host syncs per step; tokens/s, peak GiB, MFU per variant
#   bash scripts/gpu_check.sh part2   # straight vs stopped-and-resumed; FSDP (1 process) stopped and resumed;
#                                     # fp16; QLoRA; benchmarks/bench_train.py vs TRL with one attention kernel
#   bash scripts/gpu_check.sh part1 --cpu-dry-run   # the same steps, tiny, on a CPU; what needs a GPU says so
# Nothing but this repository is needed: the model is a random one at SmolLM2-135M's shape, with a tokenizer and
# data made on the spot (no hub). A missing optional package (flash-attn, bitsandbytes, trl, datasets, pytest...)
# skips its step with a message and the rest goes on. Figures go to stdout and, when $OUT is set, to
# $OUT/gpu_check_<part>.json. Exit 1 when a check that ran failed.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
part=${1:-}
case "$part" in
  part1|part2) shift ;;
  *) echo "usage: bash scripts/gpu_check.sh part1|part2 [--cpu-dry-run]" >&2; exit 2 ;;
esac
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
rc=0
if [ "$part" = part1 ]; then
  echo "== gpu-marked tests: pytest -m gpu tests/train"
  if $PY -c "import pytest" 2>/dev/null; then
    timeout 300 $PY -m pytest -q -p no:cacheprovider -m gpu -rs tests/train 2>&1 | tail -15 || rc=1
  else
    echo "  skipped: pytest is not installed (pip install pytest)"
  fi
fi
$PY scripts/gpu_check.py "$part" "$@" || rc=1
exit $rc
