"""Fixtures shared by the test modules, and the rule for tests that need a system program
(a browser, LaTeX, SLURM): such a test skips with a reason that says what to install; with
NORMBOUND_REQUIRE_SYSTEM=1 (set by .ci/run) every skip counts as a failure instead.

Plain helpers (paths, configs, running the workflow, reading the report) are in helpers.py.
"""

import os
import signal
import subprocess

import pytest
from helpers import (CLUSTER, CLUSTER_TARGETS, HOSTILE_CONFIG, HOSTILE_DATASET, HOSTILE_TARGET, REQUIRE_SYSTEM,
                     SLURM_INSTALL, SLURM_PROGRAMS, SWEEP_CONFIG, can_start_cluster, processes, require_program,
                     run_on_cluster, run_workflow, write_config, write_dataset_csv)


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
    """One complete run on HOSTILE_CONFIG (escaping, divergence and a CSV dataset in one
    study); its results folder."""
    workdir = tmp_path_factory.mktemp("hostile")
    csv = workdir / "cancer.csv"
    write_dataset_csv(csv)
    write_config(workdir, base=HOSTILE_CONFIG,
                 dataset={"source": str(csv), "target": HOSTILE_TARGET, "name": HOSTILE_DATASET})
    run_workflow(workdir)
    return workdir / "results"


@pytest.fixture(scope="session")
def sweep_study(tmp_path_factory):
    """One complete run on SWEEP_CONFIG (two label-noise rates × two widths, the report and,
    with LaTeX, its PDF included); the folder it ran in."""
    workdir = tmp_path_factory.mktemp("sweep_study")
    write_config(workdir, base=SWEEP_CONFIG)
    run_workflow(workdir)
    return workdir


MUNGED_PID = "/run/munge/munged.pid"
# What cluster.sh may start (other processes on the machine may start meanwhile).
CLUSTER_DAEMONS = {"munged", "mariadbd", "slurmdbd", "slurmctld", "slurmscriptd", "slurmd"}


def start_munged() -> int:
    """munged as a SLURM host runs it (the key, then the daemon as the munge user); its pid."""
    subprocess.run("[ -s /etc/munge/munge.key ] || runuser -u munge -- mungekey --create; "
                   "mkdir -p /run/munge && chown munge: /run/munge && runuser -u munge -- munged",
                   shell=True, check=True, timeout=60)
    with open(MUNGED_PID) as handle:
        return int(handle.read())


@pytest.fixture(scope="session")
def cluster():
    """tests/slurm/cluster.sh's single-node SLURM cluster for the session, and what it
    started: ``started`` (pid -> name of the daemons the start added) and ``munged``
    (the pid of a munged that ran before, as on a SLURM host, started here when none did:
    cluster.sh must use it and leave it running)."""
    for program in SLURM_PROGRAMS:
        require_program(program, SLURM_INSTALL)
    if os.geteuid() != 0:
        pytest.skip("the test cluster's daemons need root (run the tests as root, as CI does)")
    # The session stops the cluster at its end: one that runs already is someone else's.
    running = {"slurmctld", "slurmd", "slurmdbd"} & set(processes().values())
    if running:
        pytest.fail(f"SLURM daemons run already ({', '.join(sorted(running))}): another test session's "
                    "cluster? This session would stop it; run tests/slurm/cluster.sh stop when it is done")
    ours = None if "munged" in processes().values() else start_munged()
    with open(MUNGED_PID) as handle:
        munged = int(handle.read())
    before = processes()
    try:
        started = subprocess.run([CLUSTER, "start"], capture_output=True, text=True, timeout=180)
        assert started.returncode == 0, f"cluster.sh start failed:\n{started.stderr}"
        yield dict(munged=munged, started={pid: name for pid, name in processes().items()
                                           if pid not in before and name in CLUSTER_DAEMONS})
    finally:
        stopped = subprocess.run([CLUSTER, "stop"], capture_output=True, text=True, timeout=120)
        if ours:
            os.kill(ours, signal.SIGTERM)
        assert stopped.returncode == 0, f"cluster.sh stop failed:\n{stopped.stderr}"


@pytest.fixture(scope="session")
def cluster_study(cluster, tmp_path_factory):
    """The small study's CLUSTER_TARGETS run through the SLURM profile on the test
    cluster: its folder and Snakemake's log."""
    workdir = tmp_path_factory.mktemp("slurm_study")
    write_config(workdir)
    return workdir, run_on_cluster(workdir)


@pytest.fixture(scope="session")
def second_clean_run(request, tmp_path_factory):
    """A second clean run of the small study, CLUSTER_TARGETS only: the cluster run where
    the test cluster can start (it is made anyway, for test_slurm), else a local run."""
    if can_start_cluster():
        return request.getfixturevalue("cluster_study")[0]
    workdir = tmp_path_factory.mktemp("second_run")
    write_config(workdir)
    run_workflow(workdir, *CLUSTER_TARGETS)
    return workdir


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


# The GPU tests run where there is a GPU (benchmarks/gpu_check.sh); elsewhere they are not
# collected, so a CPU-only CI run neither skips nor fakes them.
collect_ignore_glob = [] if _cuda_available() else ["gpu/*"]
