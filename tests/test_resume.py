"""A run killed hard in the middle of training resumes and gives the same results.

The workflow is started in its own process group on a config whose training lasts some
seconds; as soon as the training job has started, the whole group gets SIGKILL (no clean-up, no lock
removal, as after a power cut or an out-of-memory kill). Then, as a user would after a
crash, ``--unlock`` and the README command: the run must complete with a
``results/metrics.csv`` byte-identical to that of an uninterrupted run.
"""

import contextlib
import json
import os
import resource
import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, SNAKEMAKE, run_workflow, write_config

# The README command (./normbound report), pointed at a test folder; extra arguments go
# to Snakemake.
def readme_command(workdir, *args, timeout=1200):
    command = [os.path.join(REPO, "normbound"), "report", "--directory", str(workdir),
               "--configfile", os.path.join(str(workdir), "config.yaml"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


# One seed and a short grid, but enough steps that training outlasts the half second
# between the start of training and the kill (test_kill_landed_during_training checks).
LONG_TRAINING = dict(seeds=[0], steps=6000, curve_every=2000, lambdas={"frob": [0.005], "mix": [0.025]})


def _train_log(workdir):
    return os.path.join(workdir, "results", "logs", "train_networks", "seed0.log")


@pytest.fixture(scope="module")
def uninterrupted_metrics(tmp_path_factory):
    """results/metrics.csv of an uninterrupted run of the same config (only as far as it)."""
    workdir = tmp_path_factory.mktemp("uninterrupted")
    write_config(workdir, **LONG_TRAINING)
    run_workflow(workdir, "results/metrics.csv")
    with open(os.path.join(workdir, "results", "metrics.csv"), "rb") as handle:
        return handle.read()


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory):
    """A workdir whose run was SIGKILLed while seed 0's networks were training."""
    workdir = str(tmp_path_factory.mktemp("killed"))
    write_config(workdir, **LONG_TRAINING)
    # run_workflow's command, started without waiting so it can be killed.
    command = [SNAKEMAKE, "--snakefile", os.path.join(REPO, "workflow", "Snakefile"), "--directory", workdir,
               "--configfile", os.path.join(workdir, "config.yaml"), "--cores", "4"]
    with open(os.path.join(workdir, "killed.out"), "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 600
        # The script opens its log right before it trains, after its imports.
        while not os.path.exists(_train_log(workdir)) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        if process.poll() is None:  # else it ended by itself: test_kill_landed_during_training says so
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return workdir


def test_kill_landed_during_training(killed_run):
    # Without this the test could pass by killing too early or too late.
    assert os.path.exists(_train_log(killed_run)), "training never started"
    assert not os.path.exists(os.path.join(killed_run, "results", "seed0", "networks.csv")), "killed too late"
    assert not os.path.exists(os.path.join(killed_run, "results", "metrics.csv"))


READERS = {".csv": pd.read_csv, ".json": lambda p: json.load(open(p)), ".npz": lambda p: dict(np.load(p))}


def test_no_half_written_output_after_kill(killed_run):
    # Every file under its final name reads back whole; the killed job's outputs are
    # absent (its scripts write under a temporary name and rename at the end).
    results = os.path.join(killed_run, "results")
    finals = [os.path.join(root, name) for root, _, names in os.walk(results) for name in names
              if os.path.splitext(name)[1] in READERS and ".tmp" not in name]
    assert any(p.endswith("seed0.npz") for p in finals), "prepare_data had finished before the kill"
    for path in finals:
        READERS[os.path.splitext(path)[1]](path)
    seed0 = os.path.join(results, "seed0")
    assert not [n for n in ("networks.csv", "validation.csv", "curves.csv", "weights.npz")
                if os.path.exists(os.path.join(seed0, n))]


def test_stale_lock_blocks_until_unlocked(killed_run):
    # The one manual step after a crash: the killed Snakemake's lock stops the README
    # command before any job, and --unlock removes it.
    result = readme_command(killed_run, timeout=300)
    assert result.returncode != 0 and "cannot be locked" in result.stdout + result.stderr
    assert not os.path.exists(os.path.join(killed_run, "results", "metrics.csv"))
    assert readme_command(killed_run, "--unlock", timeout=300).returncode == 0


def test_resumed_run_completes_with_identical_metrics(killed_run, uninterrupted_metrics):
    # Unlocking again is harmless and keeps this test independent of the order.
    assert readme_command(killed_run, "--unlock", timeout=300).returncode == 0
    # A second fault: what a script writing in place would leave when killed. Snakemake's
    # incomplete marker (set when the job started) must make the rerun replace it.
    with open(os.path.join(killed_run, "results", "seed0", "networks.csv"), "w") as handle:
        handle.write("seed,model,lam,phase\n0,nn,")
    result = readme_command(killed_run)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    with open(os.path.join(killed_run, "results", "metrics.csv"), "rb") as handle:
        assert handle.read() == uninterrupted_metrics
    # Nothing left to do: every job of the study finished, the report included.
    dry_run = run_workflow(killed_run, "-n", timeout=300)
    assert "Nothing to be done" in dry_run.stdout + dry_run.stderr


@contextlib.contextmanager
def disk_full_after(limit):
    """Inside: a write past ``limit`` bytes of any one file fails (EFBIG), as on a full
    disk; SIGXFSZ, which would kill the process instead, is ignored meanwhile."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


def _table(rows=2000):
    return pd.DataFrame({"seed": np.arange(rows), "value": np.linspace(0, 1, rows)})


def _write_aggregate(folder):
    import normbound

    path = os.path.join(folder, "metrics.csv")
    normbound.write_csv(_table(), path)
    return [path]


def _write_networks(folder):
    import train_networks

    paths = train_networks.output_paths(folder)
    train_networks.write_outputs(_table(), _table(), _table(), {"W": np.ones((20, 100, 30))}, paths)
    return list(paths.values())


def _write_data(folder):
    import prepare_data

    npz, json_path = os.path.join(folder, "seed0.npz"), os.path.join(folder, "seed0.json")
    prepare_data.prepare_data(0, {"source": "breast_cancer", "target": "target"}, 0.04, 0.5, 0.25, npz, json_path)
    return [npz, json_path]


def _write_json(folder):
    import normbound

    path = os.path.join(folder, "theory.json")
    normbound.write_json(path, {"ratios": list(range(2000))})
    return [path]


def _write_figure(folder):
    import figures
    import matplotlib.pyplot as plt

    pdf, png = os.path.join(folder, "figure.pdf"), os.path.join(folder, "figure.png")
    fig = plt.figure()
    plt.plot(np.random.default_rng(0).normal(size=5000))
    figures.save(fig, pdf, png)
    return [pdf, png]


# Every way the scripts write their results (the tables with normbound.write_csv,
# the theory scripts with normbound.write_json).
WRITERS = [_write_aggregate, _write_networks, _write_data, _write_json, _write_figure]


@pytest.mark.parametrize("writer", WRITERS, ids=lambda w: w.__name__[len("_write_"):])
def test_write_failing_midway_leaves_no_file(tmp_path, writer):
    failed, whole = tmp_path / "failed", tmp_path / "whole"
    failed.mkdir()
    whole.mkdir()
    with disk_full_after(1024), pytest.raises(OSError):
        writer(str(failed))
    assert not [name for name in os.listdir(failed) if ".tmp" not in name], "a half-written file under its final name"
    # The same writer with room to write creates every file it names: the check above
    # looked at the right paths.
    assert all(os.path.getsize(path) > 1024 for path in writer(str(whole)))
