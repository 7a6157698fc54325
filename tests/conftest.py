"""Shared test helpers: imports, a small study config, running the workflow, and the
rule for tests that need a system program (a browser, LaTeX, SLURM).

Such a test skips with a reason that says what to install; with NORMBOUND_REQUIRE_SYSTEM=1
(set by .ci/run) every skip counts as a failure instead.
"""

import os
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO), "shared")
sys.path.insert(0, os.path.join(REPO, "scripts"))
SNAKEMAKE = os.path.join(os.path.dirname(sys.executable), "snakemake")
REQUIRE_SYSTEM = os.environ.get("NORMBOUND_REQUIRE_SYSTEM") == "1"

# A study small enough for tests (about half a minute): two seeds, three λ per penalty.
SMALL_CONFIG = {
    "seeds": [0, 1],
    "label_noise": 0.04,
    "steps": 300,
    "lambdas": {"frob": [0.001, 0.005, 0.02], "mix": [0.005, 0.025, 0.1]},
    "curve_every": 100,
    "device": "cpu",
    "compile": False,
}


def require_program(program: str, install: str) -> str:
    """The path of ``program``, or skip saying what to install (fail under CI)."""
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} not found; install it with: {install}")
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_SYSTEM and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped under NORMBOUND_REQUIRE_SYSTEM=1, which forbids skips: {report.longrepr}"


def write_config(folder, **overrides) -> str:
    """A config file in ``folder``: SMALL_CONFIG with ``overrides``; returns its path."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "config.yaml")
    with open(path, "w") as handle:
        yaml.safe_dump({**SMALL_CONFIG, **overrides}, handle)
    return path


def run_workflow(workdir, *args, check=True, timeout=900, **kwargs) -> subprocess.CompletedProcess:
    """Run the repository's workflow in ``workdir`` (which holds its config.yaml)."""
    command = [SNAKEMAKE, "--snakefile", os.path.join(REPO, "workflow", "Snakefile"),
               "--directory", str(workdir), "--configfile", os.path.join(str(workdir), "config.yaml"),
               "--cores", "4", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}")
    return result


@pytest.fixture(scope="session")
def small_study(tmp_path_factory):
    """One complete run of the workflow on SMALL_CONFIG; the folder it ran in."""
    workdir = tmp_path_factory.mktemp("small_study")
    write_config(workdir)
    run_workflow(workdir)
    return workdir


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


# The GPU tests run where there is a GPU (benchmarks/gpu_check.sh); elsewhere they are not
# collected, so a CPU-only CI run neither skips nor fakes them.
collect_ignore_glob = [] if _cuda_available() else ["gpu/*"]
