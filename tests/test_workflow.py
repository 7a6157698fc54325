"""The workflow as a whole: lint-clean, the default config's dry run lists every job,
parsing imports nothing heavy, and CUDA is checked where training runs, not at parse time."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
import train_networks
from helpers import (REPO, SNAKEFILE, SNAKEMAKE, TINY_CONFIG, cell_folder, data_file, run_workflow, seed_data, seed_folder,
                     write_config)
from normbound.train import NoCudaError

# What parsing must not import: each costs seconds, and every dry run, lint and cluster
# job's re-parse would pay for it.
HEAVY = ("torch", "sklearn", "matplotlib", "scipy")
# No GPU for torch, whatever the machine has.
NO_CUDA = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}


def snakemake(*args, env=None, python_options=()):
    """Snakemake in the repository, on the default config."""
    return subprocess.run([sys.executable, *python_options, SNAKEMAKE, *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env=env)


def test_lint_is_clean():
    result = snakemake("--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr


def job_counts(output) -> dict:
    """Jobs per rule from a dry run's summary table."""
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", output, re.M)}


def test_dry_run_lists_the_whole_default_study():
    result = snakemake("-n", "--forceall", "--quiet", "rules")
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout + result.stderr)
    for rule in ("prepare_data", "train_baselines", "train_networks", "robustness"):
        assert counts.get(rule) == 10, (rule, counts)
    for rule in ("aggregate", "theory_hessian", "theory_random", "theory_bounds", "tables", "figures", "report", "all"):
        assert counts.get(rule) == 1, (rule, counts)


def test_parsing_imports_nothing_heavy():
    result = snakemake("-n", "--forceall", python_options=("-X", "importtime"))
    assert result.returncode == 0, result.stderr[-3000:]
    # -X importtime writes one line per module: "import time: self | cumulative | name".
    modules = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "snakemake" in modules and "normbound.config" in modules, "not the import trace of the parse"
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert not heavy, f"parsing the workflow imports {heavy}"


def test_cuda_config_dry_runs_on_a_cluster_login_node_without_cuda(tmp_path):
    # The SLURM profile as a user runs it from a login node: training goes to a GPU node.
    write_config(tmp_path, base=TINY_CONFIG, device="cuda")
    result = subprocess.run([SNAKEMAKE, "--snakefile", SNAKEFILE, "--directory", str(tmp_path),
                             "--profile", os.path.join(REPO, "profiles", "slurm"), "--dry-run"],
                            capture_output=True, text=True, timeout=300, env=NO_CUDA)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert job_counts(result.stdout).get("train_networks") == len(TINY_CONFIG["seeds"])


def test_training_without_cuda_fails_at_once_saying_why(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    settings = dict(models=["nn"], hidden=4, init_scale=0.1, lr=0.01, steps=10, lambdas=TINY_CONFIG["lambdas"],
                    curve_every=0, device="cuda", batch_size=32, compile=False)
    with pytest.raises(NoCudaError) as error:
        train_networks.train_seed(seed_data(), 0, **settings)
    message = str(error.value)
    assert "\n" not in message and "device: cuda" in message and "no CUDA device" in message


@pytest.mark.slow
def test_training_job_without_cuda_fails_with_the_reason(tmp_path):
    write_config(tmp_path, base=TINY_CONFIG, device="cuda")
    networks = os.path.join(seed_folder("results", 0, TINY_CONFIG), "networks.csv")
    result = run_workflow(tmp_path, networks, check=False, env=NO_CUDA)
    assert result.returncode != 0
    # The reason, on one line, in what Snakemake prints; the job stopped before training.
    reason = next((line for line in result.stderr.splitlines() if "NoCudaError" in line), "")
    assert "device: cuda was asked for" in reason and "no CUDA device" in reason, result.stderr[-3000:]
    # A setting that does not fit the machine is not a bug: no stack trace.
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    # With device: cuda a cell's seeds train in one job (training_jobs: auto), logged under the cell's name.
    log = (tmp_path / "results" / "logs" / "train_networks" / f"{cell_folder(TINY_CONFIG)}.log").read_text()
    assert "trained" not in log and not (tmp_path / networks).exists()
    # The data job before it ran: the config was accepted, the training job failed.
    assert np.load(data_file(tmp_path / "results", 0, "npz", TINY_CONFIG))["X_train"].shape[1] == 30
