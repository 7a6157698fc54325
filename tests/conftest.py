"""Fixtures shared by the test modules, and the rule for tests that need a system program
(a browser, LaTeX, SLURM): such a test skips with a reason that says what to install; with
NORMBOUND_REQUIRE_SYSTEM=1 (set by .ci/run) every skip counts as a failure instead.

Plain helpers (paths, configs, running the workflow, reading the report) are in helpers.py.
"""

import os
import resource
import signal
import subprocess
import time
from concurrent.futures import Future, ThreadPoolExecutor

# The suite builds its studies side by side (``background``): more processes than cores.
# An OpenMP thread (torch's) that spins while it waits for its peers would then burn a core
# that another process needs, and its peers wait for it while it is descheduled: measured,
# one seed's training took 490 s instead of 20 s. Passive threads sleep instead; the
# arithmetic is the same. Set before torch loads, and inherited by every job of the suite.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
from helpers import (CLUSTER, CLUSTER_TARGETS, HOSTILE_CONFIG, HOSTILE_DATASET, HOSTILE_TARGET,  # noqa: E402
                     REQUIRE_SYSTEM, SLURM_INSTALL, SLURM_PROGRAMS, SWEEP_CONFIG, beside_the_small_study,
                     can_start_cluster, processes, require_program, run_on_cluster, run_workflow, shared_theory,
                     warm_compile_cache, write_config, write_dataset_csv)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_SYSTEM and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped under NORMBOUND_REQUIRE_SYSTEM=1, which forbids skips: {report.longrepr}"


def needed(item) -> set:
    """The fixtures a test needs, with those a parameter names (request.getfixturevalue)."""
    params = item.callspec.params.values() if hasattr(item, "callspec") else ()
    return {*item.fixturenames, *(p for p in params if isinstance(p, str))}


def module_builders(items) -> dict:
    """The studies the test modules of ``items`` build themselves: their ``BACKGROUND`` dicts."""
    return {name: build for module in {getattr(item, "module", None) for item in items}
            for name, build in getattr(module, "BACKGROUND", {}).items()}


def pytest_collection_modifyitems(session, config, items):
    """The tests in three runs, each in its order: those that need none of the studies built
    in the background (conftest's ``background``), which run while the studies build; then
    those that need conftest's studies; last those that need a test module's own study,
    whose builds wait on conftest's and so end last."""
    own, shared = set(module_builders(items)), {*BUILDERS, "second_clean_run", "cluster"}

    def stage(item) -> int:
        needs = needed(item)
        return 2 if needs & own else 1 if needs & shared else 0

    items.sort(key=stage)


class Background:
    """The session's expensive studies, each built once, in a thread of its own, from the
    session's start. One workflow run keeps about one of the machine's two cores busy (its
    jobs mostly wait on each other: data, training, aggregation, tables, figures, report,
    PDF), and a run on the test cluster mostly waits on SLURM: side by side they fill the
    machine, one after another they left it half idle. A builder gets its own folder and
    this object, to wait on the studies it needs (:meth:`result`)."""

    def __init__(self, builders: dict, folders):
        self.builders, self.folders = builders, folders
        self.pool = ThreadPoolExecutor(max_workers=8)
        self.futures, self.paths = {}, {}

    def expect(self, name) -> None:
        """``name`` will be started later: builders may wait on it already."""
        self.futures.setdefault(name, Future())

    def start(self, name) -> None:
        future = self.futures.setdefault(name, Future())
        build, folder = self.builders[name], self.folders.mktemp(name)
        self.paths[name] = folder

        def run():
            try:
                future.set_result(build(folder, self))
            except BaseException as error:  # a skip too: the fixture re-raises it
                future.set_exception(error)

        self.pool.submit(run)

    def failed(self, name, error) -> None:
        """``name`` cannot be built: its fixture raises ``error``."""
        self.futures.setdefault(name, Future()).set_exception(error)

    def files(self, name, paths, wait_for=all) -> bool:
        """Wait until the study ``name`` has written ``paths`` (relative to its folder;
        scripts write a file whole, then rename it; ``wait_for=any``: one of them) or its
        build ended; whether it did (False at once where no test asked for that study)."""
        if name not in self.paths:
            return False
        while True:
            done = self.futures[name].done()  # before looking: a build that ended wrote all it would
            if wait_for((self.paths[name] / path).exists() for path in paths):
                return True
            if done:
                return False
            time.sleep(1)

    def result(self, name):
        """The study ``name``, once built (started now if no test asked for it at the
        session's start); the builder's exception (a skip included) if it raised."""
        if name not in self.futures:
            self.start(name)
        return self.futures[name].result()


@pytest.fixture(scope="session", autouse=True)
def background(request, tmp_path_factory):
    """Start building, side by side, every study that the session's selected tests need:
    conftest's (BUILDERS) and those a test module names in its ``BACKGROUND`` dict
    (fixture name -> builder), then the test cluster and its study where one is needed."""
    wanted = set().union(*map(needed, request.session.items))
    studies = Background({**BUILDERS, **module_builders(request.session.items)}, tmp_path_factory)
    cluster = bool({"cluster_study", "second_clean_run"} & wanted) and can_start_cluster()
    if cluster:
        studies.expect("cluster_study")
    for name in studies.builders:
        if name in wanted and name != "cluster_study":
            studies.start(name)
    # The cluster study needs the test cluster, started here (its fixture stops it at the
    # session's end) once the other studies are on their way.
    if cluster:
        try:
            request.getfixturevalue("cluster")
        except BaseException as error:  # a failed start: the cluster's tests report it
            studies.failed("cluster_study", error)
        else:
            studies.start("cluster_study")
    yield studies
    studies.pool.shutdown(wait=True)


def build_small_study(workdir, studies):
    write_config(workdir)
    run_workflow(workdir)
    return workdir


def build_hostile_study(workdir, studies):
    csv = workdir / "cancer.csv"
    write_dataset_csv(csv)
    write_config(workdir, base=HOSTILE_CONFIG,
                 dataset={"source": str(csv), "target": HOSTILE_TARGET, "name": HOSTILE_DATASET})
    run_workflow(workdir, preexec_fn=beside_the_small_study)
    return workdir / "results"


def build_sweep_study(workdir, studies):
    write_config(workdir, base=SWEEP_CONFIG)
    shared_theory(workdir, studies)
    run_workflow(workdir, preexec_fn=beside_the_small_study)
    return workdir


def build_cluster_study(workdir, studies):
    write_config(workdir)
    warm_compile_cache(studies)
    return workdir, run_on_cluster(workdir)


BUILDERS = {"small_study": build_small_study, "hostile_study": build_hostile_study, "sweep_study": build_sweep_study,
            "cluster_study": build_cluster_study}


@pytest.fixture(scope="session")
def small_study(background):
    """One complete run of the workflow on SMALL_CONFIG (the report and, with LaTeX, its
    PDF included); the folder it ran in."""
    return background.result("small_study")


@pytest.fixture(scope="session")
def hostile_study(background):
    """One complete run on HOSTILE_CONFIG (escaping, divergence and a CSV dataset in one
    study); its results folder."""
    return background.result("hostile_study")


@pytest.fixture(scope="session")
def sweep_study(background):
    """One complete run on SWEEP_CONFIG (two label-noise rates × two widths, the report and,
    with LaTeX, its PDF included); the folder it ran in."""
    return background.result("sweep_study")


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
def cluster_study(background):
    """The small study's CLUSTER_TARGETS run through the SLURM profile on the test
    cluster: its folder and Snakemake's log."""
    if "cluster_study" not in background.futures:  # no cluster on this machine
        for program in SLURM_PROGRAMS:
            require_program(program, SLURM_INSTALL)
        pytest.skip("the test cluster's daemons need root (run the tests as root, as CI does)")
    return background.result("cluster_study")


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


def pytest_terminal_summary(terminalreporter):
    """The session's CPU time beside its wall time: the suite is CPU-bound on 2 cores, so
    this is what a change to its cost moves (README, "Tests")."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    terminalreporter.write_line(f"CPU time: {me.ru_utime + me.ru_stime:.0f} s in the pytest process, "
                                f"{children.ru_utime + children.ru_stime:.0f} s in its child processes")
