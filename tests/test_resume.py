"""A run killed hard in the middle of writing, and a run that hits a full disk, both resume
to the results of an uninterrupted run.

The faults hit one folder in turn, on the small study's config; every file is compared
with the session's uninterrupted run of that config (``small_study``):

1. SIGKILL of the whole run (Snakemake and its jobs, as after a power cut or an
   out-of-memory kill) while seed 0's training job is halfway through writing its second
   output file: its first output is complete by then, so a script writing in place would
   leave a half-written file under its final name. A hook in the job's Python (KILL_HOOK)
   cuts that write at its first call and kills the process group: no timing involved.
2. The killed run's stale lock stops the README command until ``--unlock``.
3. The README command on a full disk: ``results/`` is a small file system of its own
   (tmpfs, root only) with 64 KiB left, so the next result file of any size fails with
   "No space left on device": the run fails.
4. The README command once the disk has room again: it completes, and every table and
   array equals the uninterrupted run's.

The unit tests at the end fill the disk halfway through each way the scripts write.
"""

import os
import resource
import shutil
import signal
import subprocess

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import prepare_data
import pytest
import train_networks
from helpers import (REPO, beside_the_small_study, differing_files, processes, result_files, run_workflow, seed_folder,
                     warm_compile_cache, workflow_command, write_config)
from normbound import io, plots

# Python runs sitecustomize at start-up: put on PYTHONPATH, this cuts the second file a
# process opens for writing in $NORMBOUND_KILL_FOLDER at its first write (half of it goes
# to disk), notes the file in $NORMBOUND_KILL_MARK and SIGKILLs the process's group, which
# is the whole run (Snakemake starts its jobs in its own process group).
KILL_HOOK = '''
import builtins
import io
import os
import signal

FOLDER = os.environ.get("NORMBOUND_KILL_FOLDER")
if FOLDER:
    _open, _written = io.open, []

    class _KillMidWrite:
        def __init__(self, handle, path):
            self._handle, self._path = handle, path

        def write(self, data):
            self._handle.write(data[: max(1, len(data) // 2)])
            self._handle.flush()
            with _open(os.environ["NORMBOUND_KILL_MARK"], "w") as mark:
                mark.write(self._path)
            os.killpg(os.getpgrp(), signal.SIGKILL)

        def __getattr__(self, name):
            return getattr(self._handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._handle.close()

    def _hooked_open(file, mode="r", *args, **kwargs):
        handle = _open(file, mode, *args, **kwargs)
        if isinstance(file, (str, os.PathLike)) and set(mode) & set("wax+"):
            path = os.path.abspath(file)
            if os.path.dirname(path) == FOLDER:
                _written.append(path)
                if len(_written) == 2:
                    return _KillMidWrite(handle, path)
        return handle

    builtins.open = io.open = _hooked_open
'''
TRAINING_OUTPUTS = ("networks.csv", "validation.csv", "curves.csv", "weights.npz")
COMPARED = ("*.csv", "*.json", "*.npz")
# Room left on the full disk: less than any training job, figure or report writes.
ROOM = 64 * 1024
ENOUGH = "256m"


def readme_command(workdir, *args):
    """The README command (./normbound report), pointed at a test folder."""
    command = [os.path.join(REPO, "normbound"), "report", "--directory", str(workdir),
               "--configfile", os.path.join(str(workdir), "config.yaml"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=1200, preexec_fn=beside_the_small_study)


def mount(folder, options):
    """``mount`` a tmpfs on ``folder`` (or change its options); False where it may not."""
    command = ["mount", "-o", options, folder] if "remount" in options else ["mount", "-t", "tmpfs", "-o", options,
                                                                           "tmpfs", folder]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def kill_the_rest(marker) -> None:
    """SIGKILL every process whose environment holds ``marker`` (the killed run's, which
    only its processes inherit): what a power cut stops, outside the run's process group."""
    for pid in processes():
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                inherited = marker.encode() in handle.read().split(b"\0")
        except OSError:  # ended meanwhile, or not ours to read
            continue
        if inherited:
            os.kill(pid, signal.SIGKILL)


def used(folder) -> int:
    stat = os.statvfs(folder)
    return (stat.f_blocks - stat.f_bfree) * stat.f_frsize


def compared(results, reference):
    """The uninterrupted run's files (tables, JSON, arrays) that ``results`` holds under
    the same name, and those of them that differ. Other names (a temporary file a killed
    writer left) are not results."""
    present = [name for name in result_files(reference, *COMPARED) if os.path.exists(os.path.join(results, name))]
    return present, differing_files(results, reference, present)


def run_faults(root, studies) -> dict:
    """The four stages above, in one folder; what each left, for the tests to check (the
    comparisons with the uninterrupted run, ``small_study``, built beside this, at the end)."""
    if os.geteuid() != 0:
        pytest.skip("the full disk is a tmpfs mounted on results/, which needs root (as CI runs)")
    workdir, hook, mark = root / "study", root / "hook", root / "killed_file"
    write_config(workdir)
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(KILL_HOOK)
    results = workdir / "results"
    results.mkdir()
    mounted = mount(results, f"size={ENOUGH}")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs as the full disk: {mounted.stderr.strip()}")
    stages = {}
    try:
        env = {**os.environ, "PYTHONPATH": str(hook), "NORMBOUND_KILL_FOLDER": seed_folder(results, 0),
               "NORMBOUND_KILL_MARK": str(mark)}
        warm_compile_cache(studies)
        # Output to a file, not a pipe: the pipe would stay open as long as any process of
        # the run lives, and torch's compile workers run in a session of their own.
        with open(root / "killed_run.log", "w") as log:
            killed = subprocess.run(workflow_command(workdir), env=env, start_new_session=True, stdout=log,
                                    stderr=subprocess.STDOUT, timeout=900, preexec_fn=beside_the_small_study)
        kill_the_rest(f"NORMBOUND_KILL_MARK={mark}")
        stages["kill"] = dict(returncode=killed.returncode, killed_file=mark.read_text() if mark.exists() else None,
                              outputs=[n for n in TRAINING_OUTPUTS
                                       if os.path.exists(os.path.join(seed_folder(results, 0), n))])
        # What each stage left, compared at the end with the uninterrupted run, which is
        # built beside this one and may not have finished yet.
        shutil.copytree(results, root / "after_kill", symlinks=True)

        stages["locked"] = readme_command(workdir)
        stages["unlock"] = readme_command(workdir, "--unlock")

        assert mount(results, f"remount,size={used(results) + ROOM}").returncode == 0
        stages["disk"] = dict(result=readme_command(workdir))
        shutil.copytree(results, root / "after_disk", symlinks=True)

        assert mount(results, f"remount,size={ENOUGH}").returncode == 0
        stages["resumed"] = readme_command(workdir)
        stages["dry_run"] = run_workflow(workdir, "-n", timeout=300)
        reference = studies.result("small_study") / "results"
        for stage in ("kill", "disk"):
            stages[stage]["different"] = compared(root / f"after_{stage}", reference)[1]
        stages["present"], stages["different"] = compared(results, reference)
        stages["expected"] = result_files(reference, *COMPARED)
        return stages
    finally:
        subprocess.run(["umount", results], check=True, timeout=60)


# Built from the session's start, beside the other studies (conftest's ``background``).
BACKGROUND = {"faults": run_faults}


@pytest.fixture(scope="module")
def faults(background):
    return background.result("faults")


@pytest.mark.slow
def test_kill_landed_between_the_training_jobs_outputs(faults):
    kill = faults["kill"]
    assert kill["returncode"] == -signal.SIGKILL, "the run was not killed: it ended by itself"
    assert kill["killed_file"] is not None, "the hook never cut a write"
    # Some of seed 0's training outputs were written, not all: the kill came mid-job.
    assert 1 <= len(kill["outputs"]) < len(TRAINING_OUTPUTS), kill["outputs"]


@pytest.mark.slow
def test_no_half_written_file_under_a_final_name_after_the_kill(faults):
    # Every file under its final name, the half-written one included if it had its final
    # name, is the uninterrupted run's.
    assert not faults["kill"]["different"], f"half-written or wrong after the kill: {faults['kill']['different']}"


@pytest.mark.slow
def test_stale_lock_blocks_until_unlocked(faults):
    locked = faults["locked"]
    assert locked.returncode != 0 and "cannot be locked" in locked.stdout + locked.stderr
    assert faults["unlock"].returncode == 0, faults["unlock"].stderr[-2000:]


@pytest.mark.slow
def test_full_disk_fails_the_run_and_leaves_nothing_half_written(faults):
    disk = faults["disk"]
    assert disk["result"].returncode != 0, "the run fitted under the limit: the fault never happened"
    assert "No space left on device" in disk["result"].stderr
    assert not disk["different"], f"half-written or wrong after the full disk: {disk['different']}"


@pytest.mark.slow
def test_resumed_run_completes_with_identical_results(faults):
    resumed = faults["resumed"]
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-4000:]
    assert faults["present"] == faults["expected"], "files of the uninterrupted run are missing"
    assert ({"metrics.csv", "selection.csv", "curves.csv", os.path.join(seed_folder("", 0), "weights.npz")}
            <= set(faults["present"]))
    assert not faults["different"], f"differ from an uninterrupted run: {faults['different']}"
    # Nothing left to do: every job of the study finished, the report included.
    dry_run = faults["dry_run"]
    assert "Nothing to be done" in dry_run.stdout + dry_run.stderr


def fails_when_the_disk_is_full(writer, folder, limit) -> bool:
    """Whether ``writer(folder)`` raises OSError when a write past ``limit`` bytes of any
    one file fails (EFBIG), as on a full disk. It runs in a forked child: the file-size
    limit is per process and inherited, so set in the test process it would also cut the
    workflow runs that the suite's background threads start meanwhile."""
    pid = os.fork()
    if pid == 0:  # the child: SIGXFSZ, which would kill it instead, is ignored
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        try:
            writer(folder)
        except OSError:
            os._exit(0)
        except BaseException:
            os._exit(2)
        os._exit(1)
    return os.waitpid(pid, 0)[1] == 0


def _table(rows=2000):
    return pd.DataFrame({"seed": np.arange(rows), "value": np.linspace(0, 1, rows)})


def _write_table(folder):
    path = os.path.join(folder, "metrics.csv")
    io.write_csv(_table(), path)
    return [path]


def _write_training_outputs(folder):
    paths = {name[: name.index(".")]: os.path.join(folder, name) for name in TRAINING_OUTPUTS}
    train_networks.write_outputs(_table(), _table(), _table(), {"W": np.ones((20, 100, 30))}, paths)
    return list(paths.values())


def _write_data(folder):
    npz, json_path = os.path.join(folder, "seed0.npz"), os.path.join(folder, "seed0.json")
    prepare_data.prepare_data(0, {"source": "breast_cancer", "target": "target"}, 0.04, 0.5, 0.25, npz, json_path)
    return [npz, json_path]


def _write_json(folder):
    path = os.path.join(folder, "theory.json")
    io.write_json(path, {"ratios": list(range(2000))})
    return [path]


def _write_figure(folder):
    pdf, png = os.path.join(folder, "figure.pdf"), os.path.join(folder, "figure.png")
    fig = plt.figure()
    plt.plot(np.random.default_rng(0).normal(size=5000))
    plots.save(fig, pdf, png)
    return [pdf, png]


# Every way the scripts write their results: tables (io.write_csv), a training job's four
# outputs, the data arrays and sidecar, JSON (io.write_json), figures (plots.save).
WRITERS = [_write_table, _write_training_outputs, _write_data, _write_json, _write_figure]


@pytest.mark.parametrize("writer", WRITERS, ids=lambda w: w.__name__[len("_write_"):])
def test_write_failing_midway_leaves_no_file(tmp_path, writer):
    failed, whole = tmp_path / "failed", tmp_path / "whole"
    failed.mkdir()
    whole.mkdir()
    assert fails_when_the_disk_is_full(writer, str(failed), 1024)
    assert not [name for name in os.listdir(failed) if ".tmp" not in name], "a half-written file under its final name"
    # The same writer with room to write creates every file it names: the check above
    # looked at the right paths.
    assert all(os.path.getsize(path) > 1024 for path in writer(str(whole)))
