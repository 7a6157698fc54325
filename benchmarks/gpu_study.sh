#!/usr/bin/env bash
# On a machine with CUDA: the default study end to end (config.yaml with device: cuda, so
# one training job per cell: training_jobs auto) from an empty folder, timed, then every job's wall time from Snakemake's benchmark files. Extra
# arguments go to snakemake (e.g. --set-threads train_networks=1). WORK names the study's
# folder (default: a new temporary one), kept for a look afterwards. Uses the python on PATH; where
# snakemake is not installed there, PYTHONPATH must point at it (pip install --target).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=$(command -v python3 || command -v python)
# The lent H100's PyTorch is read-only and lacks bytecode for 781 modules, so every job
# compiled them again (2.5 s a process, profiled): a writable bytecode folder lets the first
# job's compilation serve the others, as on an ordinary install.
export PYTHONPYCACHEPREFIX=${PYTHONPYCACHEPREFIX:-${TMPDIR:-/tmp}/normbound-pycache}
# A path of the study's layout (scripts/normbound/layout.py), e.g. `layout REPORT`.
layout() { PYTHONPATH=scripts "$PYTHON" -m normbound.layout "$@"; }
work=${WORK:-$(mktemp -d)}
mkdir -p "$work"
echo "study folder: $work"
cp config.yaml "$work/"
start=$(date +%s%N)
"$PYTHON" -m snakemake --snakefile workflow/Snakefile --directory "$work" --cores "$(nproc)" --quiet \
    --config device=cuda "$@"
end=$(date +%s%N)
echo "default study, end to end: $(( (end - start) / 1000000 )) ms ($(nproc) cores, $("$PYTHON" -c 'import torch; print(torch.cuda.get_device_name())'))"
benchmarks="$work/$(layout BENCHMARKS)/"
# Unquoted, so that the shell expands the glob (the layout's paths hold no spaces).
for tsv in "$work"/$(layout BENCHMARK rule='*' job='*'); do
    printf '%-44s %8.2f s\n' "${tsv#"$benchmarks"}" "$(tail -n 1 "$tsv" | cut -f 1)"
done
ls "$work/$(layout REPORT)"
