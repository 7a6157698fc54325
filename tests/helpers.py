"""Helpers shared by the test modules (which never import from each other): paths, the
small study's config, running the workflow, the rule for system programs, reading the
report (HTML and PDF), and training grids checked against the reference loop.

Fixtures live in conftest.py; everything here is a plain function or constant.
"""

import copy
import glob
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import pytest
import yaml
from normbound import layout

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SNAKEFILE = os.path.join(REPO, "workflow", "Snakefile")
SCHEMA = os.path.join(REPO, "workflow", "schemas", "config.schema.yaml")
TEMPLATES = os.path.join(REPO, "report")
SNAKEMAKE = os.path.join(os.path.dirname(sys.executable), "snakemake")
REQUIRE_SYSTEM = os.environ.get("NORMBOUND_REQUIRE_SYSTEM") == "1"
LATEX_INSTALL = ("apt-get install --no-install-recommends texlive-latex-base texlive-latex-recommended "
                 "texlive-science latexmk lmodern poppler-utils")

# A study small enough for tests, on the default (compiled) path: every model, three seeds
# (the fewest that an interval is computed from, normbound.summary.MIN_SEEDS),
# three λ per notebook penalty and two per comparator, 300 steps.
SMALL_CONFIG = {
    "seeds": [0, 1, 2],
    "label_noise": 0.04,
    "steps": 300,
    "lambdas": {"frob": [0.001, 0.005, 0.02], "mix": [0.005, 0.025, 0.1], "spec": [0.01, 0.1], "grad": [0.1, 0.3]},
    "curve_every": 100,
    "device": "cpu",
}
# Smaller still, for studies that check what runs rather than what it measures: one
# seed, the notebook's models, one λ per penalty (the notebook's; one for each comparator
# too, for subsets that name them), 20 steps.
TINY_CONFIG = {**SMALL_CONFIG, "seeds": [0], "steps": 20, "curve_every": 10,
               "models": ["rf", "svc", "nn", "nn_frob", "nn_mix"],
               "lambdas": {"frob": [0.005], "mix": [0.025], "spec": [0.1], "grad": [0.3]}}

# A sweep of two label-noise rates × two widths, TINY otherwise (eager: compiling would
# cost more than the 20 steps of its eight training jobs), λ chosen by 3-fold
# cross-validation (the one study that runs it end to end) from two λ per penalty.
SWEEP_CONFIG = {**TINY_CONFIG, "seeds": [0, 1], "label_noise": [0.04, 0.1], "hidden": [100, 20], "compile": False,
                "validation_folds": 3, "lambdas": {**TINY_CONFIG["lambdas"], "frob": [0.005, 0.05], "mix": [0.025, 0.25]}}

# A report title with every character that HTML or TeX would interpret.
NASTY = r'<script>alert("x")</script> & 100% $5 _a #1 {b} \c ~d ^e λ‖'
# The hostile study: a title and dataset name that HTML or TeX would interpret; the data
# from a CSV file (the bundled set written out, its target column renamed); and a learning
# rate under which every penalised network diverges. With lr = 1e25 Adam's first step sets
# every weight to about ±1e25, so the penalised objectives (λ·h·‖W‖_F², λ·‖W‖_Mix², sums of
# ~3000 squares of 1e25) overflow float32 at step 2, while the unpenalised hinge loss stays
# finite: the study holds both kinds.
HOSTILE_TITLE = r"<script>alert(1)</script> & 50% $x$ a_b #1 {c} \par"
HOSTILE_DATASET = r"cells_{a}&b 100% #3 $\relax <b>bold</b>"
HOSTILE_TARGET = "diagnosis"
HOSTILE_CONFIG = {**TINY_CONFIG, "title": HOSTILE_TITLE, "lr": 1e25}
DIVERGED_STEP = 2


def write_dataset_csv(path) -> None:
    """The bundled breast-cancer set as a CSV file, its target 0/1 in HOSTILE_TARGET."""
    import pandas as pd
    from normbound.data import load_breast_cancer

    X, t = load_breast_cancer()
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]).assign(**{HOSTILE_TARGET: (t > 0).astype(int)})
    frame.to_csv(path, index=False)


def require_program(program: str, install: str) -> str:
    """The path of ``program``, or skip saying what to install (a failure under CI)."""
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} not found; install it with: {install}")
    return path


def write_config(folder, base=SMALL_CONFIG, **overrides) -> str:
    """A config file in ``folder``: ``base`` with ``overrides``; returns its path."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "config.yaml")
    with open(path, "w") as handle:
        yaml.safe_dump({**base, **overrides}, handle, allow_unicode=True)
    return path


def edit_config(folder, **changes) -> None:
    """Change keys of the config file in ``folder``."""
    path = os.path.join(folder, "config.yaml")
    with open(path) as handle:
        config = yaml.safe_load(handle)
    config.update(changes)
    with open(path, "w") as handle:
        yaml.safe_dump(config, handle)


def copy_study(study, folder):
    """A private copy of a finished study (results and Snakemake's metadata, modification
    times kept) in ``folder``/study; its path."""
    workdir = os.path.join(folder, "study")
    shutil.copytree(study, workdir, symlinks=True)
    return workdir


def full_config(folder) -> dict:
    """The checked config of the study in ``folder``, defaults filled in, as the
    workflow's rules receive it."""
    from normbound.config import check

    with open(os.path.join(folder, "config.yaml")) as handle:
        return check(yaml.safe_load(handle), SCHEMA)


def workflow_command(workdir, *args, cores=4, snakefile=SNAKEFILE) -> list:
    """The command that runs the repository's workflow (or ``snakefile``'s) in ``workdir`` (its config.yaml)."""
    return [SNAKEMAKE, "--snakefile", str(snakefile), "--directory", str(workdir),
            "--configfile", os.path.join(str(workdir), "config.yaml"), "--cores", str(cores), *args]


def run_workflow(workdir, *args, check=True, timeout=1800, snakefile=SNAKEFILE,
                 **kwargs) -> subprocess.CompletedProcess:
    """Run the workflow in ``workdir``; with ``check``, a failure fails the test with its log.
    ``timeout`` guards against a hang only: the session's studies build side by side on two
    cores, and one of them took over 900 s on a machine loaded by other work."""
    result = subprocess.run(workflow_command(workdir, *args, snakefile=snakefile), capture_output=True, text=True,
                            timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}")
    return result


# --------------------------------------------------------------------------- studies built side by side
# (conftest's ``background``; ``studies`` below is its Background object)


def beside_the_small_study() -> None:
    """``preexec_fn`` of the other studies' workflow runs: a lower priority (nice 10), so
    that the small study, which most tests read (and the other studies wait on for its
    theory outputs and compile cache), finishes first, and its tests run while the others
    build."""
    os.nice(10)


def shared_theory(workdir, studies) -> None:
    """The outputs of theory_hessian and theory_random (exercise 1's JSON and figures, the
    random families' table), which depend on nothing but the bundled dataset, copied from
    the small study once it has them: a study on the bundled data then skips those two
    rules, the session's costliest after training (Snakemake keeps outputs it finds; they
    have no metadata that could trigger a rerun). The small study and the hostile study (a
    CSV dataset) compute their own."""
    names = [("exercise1", "json"), ("random_families", "csv"),
             *((figure, ext) for figure in layout.THEORY_FIGURE_NAMES["theory_hessian"] for ext in ("pdf", "png"))]
    paths = [layout.fill(layout.THEORY_FILE, name=name, ext=ext) for name, ext in names]
    if studies.files("small_study", paths):
        for path in paths:
            os.makedirs(os.path.dirname(workdir / path), exist_ok=True)
            shutil.copy2(studies.paths["small_study"] / path, workdir / path)


def warm_compile_cache(studies) -> None:
    """Wait for one of the small study's training jobs: torch.compile's cache then holds
    the small config's compiled steps. Compiling the same steps cold in several studies at
    once costs each the whole compile (about 45 s of CPU time here)."""
    studies.files("small_study", [layout.fill(layout.SEED_WEIGHTS, seed=seed, **cell_values())
                                  for seed in SMALL_CONFIG["seeds"]], wait_for=any)


# --------------------------------------------------------------------------- result paths
# Where the workflow writes a cell's and a seed's files: normbound.layout's patterns, filled
# under a results folder (a finished study's, or "" for paths relative to it).
def in_results(results, pattern, **values) -> str:
    """``pattern`` of normbound.layout filled with ``values``, under the results folder ``results``."""
    return os.path.join(results, os.path.relpath(layout.fill(pattern, **values), layout.RESULTS))


def cell_values(config=SMALL_CONFIG) -> dict:
    """The config's first cell (a sweep's first value of each swept key; the schema's
    defaults for keys it leaves out): the cell of a single-valued study, and of a sweep's report."""
    from normbound.config import cells, check

    return cells(check(copy.deepcopy(config), SCHEMA))[0]


def cell_folder(config=SMALL_CONFIG, **cell) -> str:
    """The folder name of the config's first cell, or of the cell its values and ``cell`` give."""
    return layout.cell_folder({**cell_values(config), **cell})


def seed_folder(results, seed, config=SMALL_CONFIG, **cell):
    """A training job's folder under ``results`` (networks.csv, weights.npz, ...)."""
    return in_results(results, layout.SEED_DIR, seed=seed, **{**cell_values(config), **cell})


def data_file(results, seed, ext, config=SMALL_CONFIG):
    """A seed's data (``ext`` "npz" or "json") under ``results``, at the config's first noise rate."""
    pattern = {"npz": layout.DATA_NPZ, "json": layout.DATA_JSON}[ext]
    return in_results(results, pattern, seed=seed, label_noise=cell_values(config)["label_noise"])


def baselines_file(results, seed, config=SMALL_CONFIG):
    """A seed's baselines table under ``results``, at the config's first noise rate."""
    return in_results(results, layout.BASELINES, seed=seed, label_noise=cell_values(config)["label_noise"])


def training_job_wildcards(seed, config=SMALL_CONFIG) -> str:
    """A training job's wildcards as the SLURM plugin joins them into a job's comment."""
    return "_".join(map(str, [*cell_values(config).values(), seed]))


# A dry run's job header and wildcards line (indented inside a group job).
DRY_RUN_JOB = re.compile(r"^\s*(?:local)?rule (\w+):$")
DRY_RUN_WILDCARDS = re.compile(r"^\s+wildcards: (.*)$")


def planned_jobs(workdir, *keys) -> set:
    """The jobs Snakemake's dry run in ``workdir`` would run, as ``(rule, *wildcards)``
    tuples with the wildcards ``keys`` (None where a job has not that wildcard)."""
    result = run_workflow(workdir, "-n", timeout=300)
    jobs = []
    for line in result.stdout.splitlines():
        if match := DRY_RUN_JOB.match(line):
            jobs.append((match.group(1), {}))
        elif (match := DRY_RUN_WILDCARDS.match(line)) and jobs:
            jobs[-1][1].update(item.split("=", 1) for item in match.group(1).split(", "))
    return {(rule, *(wildcards.get(key) for key in keys)) for rule, wildcards in jobs}


def read_bytes(path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


# Timings and the machine's load: they differ between any two runs by nature.
UNCOMPARED = tuple(os.path.relpath(folder, layout.RESULTS) for folder in (layout.LOGS, layout.BENCHMARKS))


def result_files(results, *patterns) -> list:
    """Paths under ``results`` matching any of ``patterns``, relative and sorted, the
    timing folders left out."""
    import glob

    found = {os.path.relpath(p, results) for pattern in patterns
             for p in glob.glob(os.path.join(str(results), "**", pattern), recursive=True)}
    return sorted(p for p in found if p.split(os.sep)[0] not in UNCOMPARED)


def differing_files(first, second, names) -> list:
    """Which of ``names`` (relative paths) differ between the results folders ``first``
    and ``second``: tables byte for byte; arrays (.npz, whose zip headers carry the time
    of writing) array by array, bit for bit."""
    import numpy as np

    different = []
    for name in names:
        a, b = os.path.join(first, name), os.path.join(second, name)
        if not name.endswith(".npz"):
            same = read_bytes(a) == read_bytes(b)
        else:
            with np.load(a) as x, np.load(b) as y:
                # Bytes, not values: NaN == NaN and -0.0 vs 0.0 count as they are stored.
                same = sorted(x.files) == sorted(y.files) and all(
                    x[k].dtype == y[k].dtype and x[k].tobytes() == y[k].tobytes() for k in x.files)
        if not same:
            different.append(name)
    return different


# --------------------------------------------------------------------------- the SLURM cluster
CLUSTER = os.path.join(REPO, "tests", "slurm", "cluster.sh")
SLURM_INSTALL = ("apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge slurmdbd "
                 "mariadb-server")
SLURM_PROGRAMS = ("slurmctld", "slurmd", "slurmdbd", "sbatch", "sacct", "scontrol", "munged", "mariadbd")
# What cluster.sh creates: the partitions (CPU and GPU) and the account.
PARTITION, GPU_PARTITION, ACCOUNT = "ci", "ci_gpu", "normbound_ci"
# What the cluster runs of the small study: the results tables and, through the local
# light rules, the report's tables; not the theory, figures or report.
CLUSTER_TARGETS = ("results/metrics.csv", "results/selection.csv", "results/tables/comparison_notebook.csv")
# Snakemake waits forever instead of failing when SLURM's status queries break, so every
# cluster run has a timeout after which it is killed; the cluster's stop then cancels
# whatever it left queued.
CLUSTER_TIMEOUT = 600


def cluster_profile(folder) -> str:
    """profiles/slurm with what a user edits set for the test cluster, written into
    ``folder``/profile; that folder."""
    with open(os.path.join(REPO, "profiles", "slurm", "config.yaml")) as handle:
        profile = yaml.safe_load(handle)
    profile["default-resources"].update(slurm_partition=PARTITION, slurm_account=ACCOUNT)
    profile["set-resources"]["train_networks"]["slurm_partition"] = GPU_PARTITION
    # Not a user's edit: status queries after 2 s and every 2 s rather than after 40 s
    # and every 10 s (the defaults, for busy clusters) keep the test's short jobs short.
    profile["slurm-init-seconds-before-status-checks"] = 2
    profile["seconds-between-status-checks"] = 2
    folder = os.path.join(folder, "profile")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.yaml"), "w") as handle:
        yaml.safe_dump(profile, handle)
    return folder


def run_on_cluster(workdir, *args) -> str:
    """Run CLUSTER_TARGETS of the study in ``workdir`` on the test cluster; Snakemake's log."""
    result = run_workflow(workdir, "--profile", cluster_profile(workdir), *CLUSTER_TARGETS, *args,
                          timeout=CLUSTER_TIMEOUT)
    return result.stderr


def processes() -> dict:
    """Every running process: pid -> command name."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as handle:
                found[int(pid)] = handle.read().strip()
        except OSError:  # it ended meanwhile
            pass
    return found


def can_start_cluster() -> bool:
    """Whether this machine can start the test cluster: its programs, and root."""
    return all(shutil.which(p) for p in SLURM_PROGRAMS) and os.geteuid() == 0


# --------------------------------------------------------------------------- the report
# Elements without an end tag: they never enclose text.
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(HTMLParser):
    """A parsed HTML page: its start tags in order, the text inside each tag name and
    each id (nested elements included) as a browser would show it, and the cells and
    row attributes of each table that has an id."""

    def __init__(self, path):
        super().__init__(convert_charrefs=True)
        self.tags, self.text_in, self._open = [], {}, []
        self.tables, self.row_attributes, self._table = {}, {}, None
        with open(path, encoding="utf-8") as handle:
            self.feed(handle.read())
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "table" and attrs.get("id"):
            self._table = self.tables.setdefault(attrs["id"], [])
            self._attributes = self.row_attributes.setdefault(attrs["id"], [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
            self._attributes.append(attrs)
        elif tag in ("td", "th") and self._table:
            self._table[-1].append("")
        if tag not in VOID:
            self._open.append((tag, attrs.get("id")))

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        while self._open and self._open.pop()[0] != tag:
            pass

    def handle_data(self, data):
        for tag, element_id in self._open:
            for key in (tag, f"#{element_id}" if element_id else None):
                if key:
                    self.text_in.setdefault(key, []).append(data)
        if self._table and self._table[-1] and any(tag in ("td", "th") for tag, _ in self._open):
            self._table[-1][-1] += data

    def text(self, key) -> str:
        """The text inside ``key``: a tag name ("h1") or an id ("#diverged")."""
        return "".join(self.text_in.get(key, []))

    def rows(self, table_id) -> list:
        """The rows of the table ``table_id`` as lists of cell texts, stripped."""
        return [[cell.strip() for cell in row] for row in self.tables.get(table_id, [])]

    def models(self, table_id) -> list:
        """The ``data-model`` of each row of the table ``table_id`` that has one."""
        return [attrs["data-model"] for attrs in self.row_attributes.get(table_id, []) if "data-model" in attrs]


def squeeze(text) -> str:
    """``text`` without whitespace, which HTML and TeX both reflow."""
    return "".join(text.split())


def pdf_text(pdf) -> str:
    """The PDF's text (pdftotext, table layout kept) with runs of white space made one space."""
    out = subprocess.run([require_program("pdftotext", LATEX_INSTALL), "-enc", "UTF-8", "-layout", str(pdf), "-"],
                         capture_output=True, text=True, check=True).stdout
    return re.sub(r"\s+", " ", out)


def render(results, config, outdir):
    """Render both formats of the report of ``results`` (a finished study's results
    folder) with ``config`` into ``outdir``, as the report rule does; the two paths."""
    import figures
    from normbound.config import cells
    from normbound.report.render import make_report

    results, outdir = os.fspath(results), os.fspath(outdir)
    table_dir = in_results(results, layout.TABLES)
    html, tex = os.path.join(outdir, "report.html"), os.path.join(outdir, "report.tex")
    figure = lambda name, ext: in_results(results, layout.FIGURE, name=name, ext=ext)  # noqa: E731
    # The figures the study drew; those whose names start with "sweep" go to the sweep section.
    drawn = {n: (figure(n, "pdf"), figure(n, "png")) for n in figures.FIGURES if os.path.exists(figure(n, "png"))}
    sweep = {n: drawn.pop(n) for n in list(drawn) if n.startswith("sweep")}
    make_report(
        {os.path.splitext(n)[0]: os.path.join(table_dir, n) for n in sorted(os.listdir(table_dir))}, drawn,
        {}, {}, config, cells(config)[0], TEMPLATES,
        sorted(glob.glob(layout.benchmark("*", "*", in_results(results, layout.BENCHMARKS)))), [], html, tex, sweep)
    return html, tex


# --------------------------------------------------------------------------- training
def seed_data(seed=0, **settings) -> dict:
    """The arrays of ``seed`` under the default data protocol (``settings`` override it)."""
    from normbound.data import load_dataset, split_data

    protocol = dict(test_fraction=0.5, label_noise=0.04, validation_fraction=0.25, **settings)
    return split_data(*load_dataset("breast_cancer"), seed, **protocol)[0]


def reference_grid():
    """Every kind of network of the notebook, three λ each, on both training subsets (the
    comparators have twin tests of their own)."""
    from normbound.grid import Grid

    return Grid.study({"frob": [0.0005, 0.005, 0.05], "mix": [0.0025, 0.025, 0.25]})


def comparator_grid():
    """The comparators' networks, three λ each, and nn, on both training subsets."""
    from normbound.grid import Grid

    return Grid.study({"spec": [0.005, 0.05, 0.5], "grad": [0.01, 0.1, 1.0]})


def max_difference(grid, result, data, dtype, steps, seed=0, hidden=100, lr=0.01, lr_schedule="constant") -> dict:
    """Per network of ``grid`` trained on the whole training set: the largest |ΔW| or |Δb|
    between ``result`` (the batched trainer's) and the reference loop's network."""
    from normbound.reference import train_reference

    worst = {}
    for i, (model, lam, subset) in enumerate(zip(grid.models, grid.lams, grid.subsets)):
        if subset == "train":
            W, b = train_reference(model, lam, data, seed, hidden, steps, lr, dtype=dtype, lr_schedule=lr_schedule)
            worst[(model, lam)] = max((W - result.W[i]).abs().max().item(), (b - result.b[i]).abs().max().item())
    return worst
