"""The workflow on a real SLURM cluster through profiles/slurm (issue 6).

tests/slurm/cluster.sh starts a single-node cluster on this machine (munge, MariaDB and
slurmdbd for accounting, slurmctld, slurmd) for this module and stops it at the end. The
workflow runs on the small config with the profile as a user would use it: only the
partitions and the account are set to the test cluster's. Its results must equal a local
run's, every non-local job must have gone through sbatch (SLURM's accounting says so), and
a training job cancelled with scancel must be retried to the same results.

Snakemake waits forever instead of failing when SLURM's status queries break, so every
run has a timeout after which it is killed (SIGKILL); the cluster's stop then cancels
whatever it left queued.
"""

import filecmp
import os
import re
import shutil
import subprocess
import threading
import time

import pytest
import yaml
from conftest import REPO, require_program, run_workflow, write_config

CLUSTER = os.path.join(REPO, "tests", "slurm", "cluster.sh")
PROFILE = os.path.join(REPO, "profiles", "slurm", "config.yaml")
INSTALL = "apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge slurmdbd mariadb-server"
# What cluster.sh creates: the partitions (CPU and GPU) and the account.
PARTITION, GPU_PARTITION, ACCOUNT = "ci", "ci_gpu", "normbound_ci"
# Measured on 2 busy cores: the study 3.7 min, the fault run 3.3 min; a hang is killed at 10.
RUN_TIMEOUT = 600
RESULT_FILES = ("metrics.csv", "selection.csv")


def sacct(*args) -> list[list[str]]:
    """sacct's rows for this cluster's jobs (allocations, not steps), fields split."""
    output = subprocess.run(["sacct", "-X", "-n", "-P", "--starttime", "now-1days", *args],
                            capture_output=True, text=True, check=True, timeout=60).stdout
    return [line.split("|") for line in output.splitlines()]


@pytest.fixture(scope="module")
def cluster():
    for program in ("slurmctld", "slurmd", "slurmdbd", "sbatch", "sacct", "munged", "mariadbd"):
        require_program(program, INSTALL)
    if os.geteuid() != 0:
        pytest.skip("the test cluster's daemons need root (run the tests as root, as CI does)")
    try:
        started = subprocess.run([CLUSTER, "start"], capture_output=True, text=True, timeout=180)
        assert started.returncode == 0, f"cluster.sh start failed:\n{started.stderr}"
        yield
    finally:
        stopped = subprocess.run([CLUSTER, "stop"], capture_output=True, text=True, timeout=120)
        assert stopped.returncode == 0, f"cluster.sh stop failed:\n{stopped.stderr}"


def cluster_profile(folder) -> str:
    """profiles/slurm with what a user edits set for the test cluster; its folder."""
    with open(PROFILE) as handle:
        profile = yaml.safe_load(handle)
    profile["default-resources"].update(slurm_partition=PARTITION, slurm_account=ACCOUNT)
    profile["set-resources"]["train_networks"]["slurm_partition"] = GPU_PARTITION
    # Not a user's edit: the first status query after 2 s rather than 40 s (the plugin's
    # default, for busy clusters) keeps the test's short jobs short.
    profile["slurm-init-seconds-before-status-checks"] = 2
    folder = os.path.join(folder, "profile")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.yaml"), "w") as handle:
        yaml.safe_dump(profile, handle)
    return folder


def run_on_cluster(workdir, *args) -> str:
    """Run the workflow's default target on the cluster; Snakemake's log."""
    result = run_workflow(workdir, "--profile", cluster_profile(workdir), *args, timeout=RUN_TIMEOUT)
    return result.stderr


def submissions(log: str) -> dict:
    """What Snakemake's log says about a cluster run: the SLURM run id, the Snakemake
    jobs run locally and remotely, the remote ones that were submitted, the SLURM job ids."""
    remote, local, submitted, slurm_ids = set(), set(), set(), set()
    group = set()
    # One block per job announcement, each starting with its time stamp; a group job's
    # members are indented under the group's heading.
    for block in re.split(r"\n(?=\s*\[\w{3} \w{3} )", log):
        announced = re.search(r"^\s*(local)?rule \w+:\n(?:.*\n)*?\s*jobid: (\d+)", block, re.M)
        if announced:
            (local if announced.group(1) else remote).add(int(announced.group(2)))
            if block.startswith("    "):
                group.add(int(announced.group(2)))
        for job, slurm_id in re.findall(r"^Job (\S+) has been submitted with SLURM jobid (\d+)", block, re.M):
            slurm_ids.add(slurm_id)
            # A group job is submitted under a random name and stands for its members.
            if job.isdigit():
                submitted.add(int(job))
            else:
                submitted |= group
                group = set()
    finished = {int(job) for job in re.findall(r"^Finished jobid: (\d+)", log, re.M)}
    run_id = re.search(r"^SLURM run ID: (\S+)", log, re.M).group(1)
    return {"run_id": run_id, "remote": remote, "local": local, "submitted": submitted,
            "slurm_ids": slurm_ids, "finished": finished}


@pytest.fixture(scope="module")
def cluster_study(cluster, tmp_path_factory):
    """The small study run through the SLURM profile: its folder and its Snakemake log."""
    workdir = str(tmp_path_factory.mktemp("slurm_study"))
    write_config(workdir)
    started = time.monotonic()
    log = run_on_cluster(workdir)
    print(f"small study on the test cluster: {time.monotonic() - started:.0f} s")
    return workdir, log


def test_every_cluster_job_went_through_sbatch(cluster_study):
    _, log = cluster_study
    run = submissions(log)
    assert run["finished"] == run["remote"] | run["local"]
    # Snakemake's own account: every job not run locally was submitted ...
    assert run["remote"], "no job was sent to the cluster"
    assert run["remote"] == run["submitted"]
    # ... and SLURM's: each submission is in its accounting, finished.
    rows = sacct("--name", run["run_id"], "--format", "JobID,State,Partition,Account,AllocTRES,Comment")
    assert {row[0] for row in rows} == run["slurm_ids"]
    assert {row[1] for row in rows} == {"COMPLETED"}
    assert {row[3] for row in rows} == {ACCOUNT}
    # Training went to the GPU partition with one GPU (the profile's set-resources) ...
    training = [row for row in rows if row[5].startswith("rule_train_networks")]
    assert len(training) == 2
    assert all(row[2] == GPU_PARTITION and "gres/gpu=1" in row[4] for row in training)
    # ... everything else to the CPU partition, data and baselines as one grouped job.
    assert {row[2] for row in rows if row not in training} == {PARTITION}
    assert any(row[5].startswith("rule_light") for row in rows)


def test_cluster_run_produces_the_report(cluster_study):
    workdir, _ = cluster_study
    assert os.path.getsize(os.path.join(workdir, "results", "report", "report.html")) > 0


def test_cluster_results_equal_a_local_run(cluster_study, small_study):
    workdir, _ = cluster_study
    for name in RESULT_FILES:
        assert filecmp.cmp(os.path.join(workdir, "results", name),
                           os.path.join(small_study, "results", name), shallow=False), name


def _running_job(comment, runner, deadline) -> str:
    """The SLURM id of the running job with this comment, once it runs."""
    while runner.is_alive() and time.monotonic() < deadline:
        output = subprocess.run(["squeue", "-h", "-t", "RUNNING", "-o", "%i %k"],
                                capture_output=True, text=True, check=True, timeout=30).stdout
        for line in output.splitlines():
            slurm_id, _, job_comment = line.partition(" ")
            if job_comment == comment:
                return slurm_id
        time.sleep(0.2)
    raise AssertionError(f"no job {comment} ran before the workflow ended or the deadline")


def test_cancelled_training_job_is_retried(cluster_study, small_study, tmp_path):
    """Seed 1's networks are trained again on the cluster; that job is cancelled with
    scancel while it trains, and the profile's retries must finish the study unchanged."""
    source, _ = cluster_study
    workdir = str(tmp_path / "fault")
    shutil.copytree(source, workdir, symlinks=True)
    train_log = os.path.join(workdir, "results", "logs", "train_networks", "seed1.log")
    os.remove(train_log)

    outcome = {}

    def run():
        try:
            # Seed 1's training and what follows from it run again.
            outcome["log"] = run_on_cluster(workdir, "--forcerun", "results/seed1/networks.csv")
        except BaseException as error:  # re-raised below, in the test's thread
            outcome["error"] = error

    runner = threading.Thread(target=run)
    started = time.monotonic()
    runner.start()
    deadline = started + RUN_TIMEOUT
    slurm_id = _running_job("rule_train_networks_wildcards_1", runner, deadline)
    # The script opens its log right before it trains, after its imports.
    while not os.path.exists(train_log) and runner.is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    subprocess.run(["scancel", slurm_id], check=True, timeout=30)
    runner.join()
    print(f"fault run on the test cluster: {time.monotonic() - started:.0f} s")
    if "error" in outcome:
        raise outcome["error"]

    run = submissions(outcome["log"])
    rows = sacct("--name", run["run_id"], "--format", "JobID,State,Comment")
    # A cancelled job's state reads "CANCELLED by <uid>".
    training = [(row[0], row[1].split()[0]) for row in rows if row[2] == "rule_train_networks_wildcards_1"]
    assert training[0] == (slurm_id, "CANCELLED")
    assert [state for _, state in training[1:]] == ["COMPLETED"]
    for name in RESULT_FILES:
        assert filecmp.cmp(os.path.join(workdir, "results", name),
                           os.path.join(small_study, "results", name), shallow=False), name
