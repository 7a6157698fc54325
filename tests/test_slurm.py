"""The workflow on a real SLURM cluster through profiles/slurm (issue 6).

tests/slurm/cluster.sh starts a single-node cluster on this machine (munge, MariaDB and
slurmdbd for accounting, slurmctld, slurmd) for the session. The small study runs as far
as its results tables through the profile as a user would use it: only the partitions and
the account are set to the test cluster's (conftest's ``cluster_study``, which is also the
determinism test's second clean run). Its results must equal a local run's; every
non-local job must have gone through sbatch (SLURM's accounting says so), the light
per-seed jobs as one grouped job, aggregation and tables in the Snakemake process; a
training job cancelled with scancel, twice, must be retried to the same results; and the
cluster's stop must stop exactly what its start started.
"""

import filecmp
import os
import re
import shutil
import subprocess
import threading
import time

import pytest
from helpers import (ACCOUNT, CLUSTER, CLUSTER_TIMEOUT, GPU_PARTITION, PARTITION, SMALL_CONFIG, processes, run_on_cluster,
                     seed_folder, training_job_wildcards)

pytestmark = pytest.mark.slow
RESULT_FILES = ("metrics.csv", "selection.csv", "robustness.csv")
# Seconds of work: they run in the Snakemake process (the Snakefile's localrules).
LOCAL_RULES = {"aggregate", "tables"}
# Per seed, seconds of work: one grouped job for all seeds (profiles/slurm, group "light").
LIGHT_RULES = {"prepare_data", "train_baselines"}
# profiles/slurm: a failed or cancelled job is submitted again up to twice.
RETRIES = 2
SEEDS = SMALL_CONFIG["seeds"]
# The SLURM comment of seed 1's training job.
TRAINING_JOB_1 = f"rule_train_networks_wildcards_{training_job_wildcards(1)}"


def sacct(*args) -> list[list[str]]:
    """sacct's rows for this cluster's jobs (allocations, not steps), fields split."""
    output = subprocess.run(["sacct", "-X", "-n", "-P", "--starttime", "now-1days", *args],
                            capture_output=True, text=True, check=True, timeout=60).stdout
    return [line.split("|") for line in output.splitlines()]


def run_log(log: str) -> dict:
    """What Snakemake's log says about a cluster run: its SLURM run id, each announced
    job (id -> rule, and whether it was local), the groups submitted (their member job
    ids), the jobs submitted one by one, each submission's SLURM id, the finished jobs."""
    jobs = {int(job): (rule, bool(local)) for local, rule, job in
            re.findall(r"^\s*(local)?rule (\w+):\n(?:\s+\w+: .*\n)*?\s+jobid: (\d+)", log, re.M)}
    groups = [[int(job) for job in re.findall(r"^\s+jobid: (\d+)", block, re.M)]
              for block in re.findall(r"^\[.*\] Group job \w+ .*\n((?:\n|\s+.*\n)*)Job \S+ has been submitted", log, re.M)]
    submitted = re.findall(r"^Job (\S+) has been submitted with SLURM jobid (\d+)", log, re.M)
    return dict(run_id=re.search(r"^SLURM run ID: (\S+)", log, re.M).group(1), jobs=jobs, groups=groups,
                single={int(job) for job, _ in submitted if job.isdigit()}, slurm_ids={i for _, i in submitted},
                finished={int(job) for job in re.findall(r"^Finished jobid: (\d+)", log, re.M)})


def test_every_cluster_job_went_through_sbatch(cluster_study):
    run = run_log(cluster_study[1])
    assert run["finished"] == set(run["jobs"])
    # Snakemake's account: every job not run locally was submitted, alone or in a group ...
    remote = {job for job, (_, local) in run["jobs"].items() if not local}
    assert remote and remote == run["single"] | {job for group in run["groups"] for job in group}
    # ... and SLURM's: each submission is in its accounting, finished.
    rows = sacct("--name", run["run_id"], "--format", "JobID,State,Partition,Account,AllocTRES,Comment")
    assert {row[0] for row in rows} == run["slurm_ids"]
    assert {row[1] for row in rows} == {"COMPLETED"} and {row[3] for row in rows} == {ACCOUNT}
    # Training went to the GPU partition with one GPU (the profile's set-resources) ...
    training = [row for row in rows if row[5].startswith("rule_train_networks")]
    assert len(training) == len(SEEDS)
    assert all(row[2] == GPU_PARTITION and "gres/gpu=1" in row[4] for row in training)
    # ... everything else to the CPU partition.
    assert {row[2] for row in rows if row not in training} == {PARTITION}


def test_light_jobs_of_all_seeds_ran_as_one_grouped_job(cluster_study):
    run = run_log(cluster_study[1])
    light = {job for job, (rule, _) in run["jobs"].items() if rule in LIGHT_RULES}
    assert len(light) == len(LIGHT_RULES) * len(SEEDS), "data and baselines of every seed"
    assert [set(group) for group in run["groups"]] == [light]
    rows = sacct("--name", run["run_id"], "--format", "JobID,Comment")
    assert len([row for row in rows if row[1].startswith("rule_light")]) == 1
    assert not [row for row in rows if any(row[1].startswith(f"rule_{rule}") for rule in LIGHT_RULES)]


def test_aggregation_and_tables_ran_in_the_snakemake_process(cluster_study):
    run = run_log(cluster_study[1])
    local = {rule for rule, is_local in run["jobs"].values() if is_local}
    assert local == LOCAL_RULES
    assert not run["single"] & {job for job, (rule, _) in run["jobs"].items() if rule in LOCAL_RULES}
    comments = [row[1] for row in sacct("--name", run["run_id"], "--format", "JobID,Comment")]
    assert not [c for c in comments if any(rule in c for rule in LOCAL_RULES)]


def test_cluster_results_equal_a_local_run(cluster_study, small_study):
    workdir, _ = cluster_study
    for name in RESULT_FILES:
        assert filecmp.cmp(workdir / "results" / name, small_study / "results" / name, shallow=False), name


def hold_running_job(comment, runner, deadline, held) -> str:
    """Once the job with this comment (and not in ``held``) runs, suspend it, so that it
    is certainly still running when it is cancelled; its SLURM id."""
    while runner.is_alive() and time.monotonic() < deadline:
        output = subprocess.run(["squeue", "-h", "-t", "RUNNING", "-o", "%i %k"],
                                capture_output=True, text=True, check=True, timeout=30).stdout
        for line in output.splitlines():
            slurm_id, _, job_comment = line.partition(" ")
            if job_comment == comment and slurm_id not in held:
                # Fails unless the job is running: it has not finished.
                subprocess.run(["scontrol", "suspend", slurm_id], check=True, timeout=30)
                return slurm_id
        time.sleep(0.2)
    raise AssertionError(f"no job {comment} ran before the workflow ended or the deadline")


def run_cancelled_training(root, studies) -> dict:
    """Seed 1's networks are trained again on the cluster, in a copy of the cluster
    study; the job is cancelled with scancel while it runs, and so is its first retry.
    Snakemake's log, the cancelled jobs' SLURM ids and the folder."""
    workdir = root / "fault"
    shutil.copytree(studies.result("cluster_study")[0], workdir, symlinks=True)
    outcome = {}

    def run():
        try:
            outcome["log"] = run_on_cluster(workdir, "--forcerun", os.path.join(seed_folder("results", 1), "networks.csv"))
        except BaseException as error:  # re-raised below, in the builder's thread
            outcome["error"] = error

    runner = threading.Thread(target=run)
    deadline = time.monotonic() + CLUSTER_TIMEOUT
    runner.start()
    cancelled = []
    try:
        for _ in range(RETRIES):
            cancelled.append(hold_running_job(TRAINING_JOB_1, runner, deadline, cancelled))
            subprocess.run(["scancel", cancelled[-1]], check=True, timeout=30)
    finally:
        runner.join()
    if "error" in outcome:
        raise outcome["error"]
    return dict(log=outcome["log"], cancelled=cancelled, workdir=workdir)


# Built from the session's start, beside the other studies (conftest's ``background``):
# it waits on SLURM most of the time.
BACKGROUND = {"cancelled_training": run_cancelled_training}


@pytest.fixture(scope="module")
def cancelled_training(cluster_study, background):
    return background.result("cancelled_training")


def test_cancelled_training_job_is_retried_twice(cancelled_training, small_study):
    """Seed 1's networks are trained again on the cluster; the job is cancelled with
    scancel while it runs, and so is its first retry: the second retry must finish the
    study unchanged."""
    cancelled = cancelled_training["cancelled"]
    rows = sacct("--name", run_log(cancelled_training["log"])["run_id"], "--format", "JobID,State,Comment")
    # A cancelled job's state reads "CANCELLED by <uid>".
    training = [(row[0], row[1].split()[0]) for row in rows if row[2] == TRAINING_JOB_1]
    assert training == [*((slurm_id, "CANCELLED") for slurm_id in cancelled), (training[-1][0], "COMPLETED")]
    for name in RESULT_FILES:
        assert filecmp.cmp(cancelled_training["workdir"] / "results" / name, small_study / "results" / name,
                           shallow=False), name


def test_stop_stops_exactly_what_start_started(cluster, cancelled_training):
    # After the cluster's last user (the cancelled training; conftest orders the tests
    # that need it after the others, and this one with them, last in this module).
    stopped = subprocess.run([CLUSTER, "stop"], capture_output=True, text=True, timeout=120)
    assert stopped.returncode == 0, stopped.stderr
    alive = processes()
    started = cluster["started"]
    assert {"slurmctld", "slurmd", "slurmdbd"} <= set(started.values()), started
    assert not {pid: name for pid, name in started.items() if alive.get(pid) == name}, "left running"
    # What ran before the start runs on.
    assert alive.get(cluster["munged"]) == "munged", "the machine's munged was stopped"
    # Its configuration is gone from /etc/slurm.
    assert not [name for name in ("slurm.conf", "gres.conf", "slurmdbd.conf")
                if os.path.exists(os.path.join("/etc/slurm", name))]
