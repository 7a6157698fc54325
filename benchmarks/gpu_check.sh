#!/usr/bin/env bash
# On a machine with CUDA, in one go (about 4 minutes on an H100, most of it compiling):
# the GPU tests (the CUDA-graph fast path against the reference loop, divergence on the
# device) with the trainer's CPU tests, then the GPU benchmark, which writes cuda.json to
# $OUT (default: benchmarks/). Uses the python on PATH with torch, numpy, pandas,
# scikit-learn, matplotlib, jinja2 and pytest; needs neither the .venv nor snakemake nor
# the network (it does not call ./normbound, which would build the .venv from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=$(command -v python3 || command -v python)
OUT=${OUT:-benchmarks}
mkdir -p "$OUT"
"$PYTHON" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda, torch.cuda.get_device_name())'
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
export PYTHONPATH=scripts PYTHONUNBUFFERED=1
# The benchmark runs even when a test fails (one run on a lent machine); the exit status is the tests'.
tests=0
"$PYTHON" -m pytest tests/gpu tests/test_training.py -p no:cacheprovider -q --durations=10 || tests=$?
"$PYTHON" scripts/benchmark.py --device cuda --out "$OUT/cuda.json"
cat "$OUT/cuda.json"
exit "$tests"
