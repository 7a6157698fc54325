#!/usr/bin/env bash
# On a machine with CUDA, in one go: the GPU tests (the fast path on the device against
# the reference loop) and the GPU benchmark, which writes benchmarks/cuda.json.
set -euo pipefail
cd "$(dirname "$0")/.."
./normbound test tests/gpu tests/test_training.py -p no:cacheprovider
.venv/bin/python scripts/benchmark.py --device cuda
