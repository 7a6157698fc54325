"""Fixtures shared by the test modules, and the rule for tests that need a system program
(a browser, LaTeX, SLURM): such a test skips with a reason that says what to install; with
NORMBOUND_REQUIRE_SYSTEM=1 (set by .ci/run) every skip counts as a failure instead.

Plain helpers (paths, configs, running the workflow, reading the report) are in helpers.py.
"""

import pytest
from helpers import HOSTILE_CONFIG, REQUIRE_SYSTEM, run_workflow, write_config


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_SYSTEM and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped under NORMBOUND_REQUIRE_SYSTEM=1, which forbids skips: {report.longrepr}"


@pytest.fixture(scope="session")
def small_study(tmp_path_factory):
    """One complete run of the workflow on SMALL_CONFIG (the report and, with LaTeX, its
    PDF included); the folder it ran in."""
    workdir = tmp_path_factory.mktemp("small_study")
    write_config(workdir)
    run_workflow(workdir)
    return workdir


@pytest.fixture(scope="session")
def hostile_study(tmp_path_factory):
    """One complete run on HOSTILE_CONFIG (escaping and divergence in one study); its
    results folder."""
    workdir = tmp_path_factory.mktemp("hostile")
    write_config(workdir, base=HOSTILE_CONFIG)
    run_workflow(workdir)
    return workdir / "results"


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


# The GPU tests run where there is a GPU (benchmarks/gpu_check.sh); elsewhere they are not
# collected, so a CPU-only CI run neither skips nor fakes them.
collect_ignore_glob = [] if _cuda_available() else ["gpu/*"]
