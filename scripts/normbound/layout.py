"""Where every file of a study goes, written once.

The workflow's rules take their outputs, logs and benchmarks from these patterns (paths
relative to the study's folder, with Snakemake's ``{wildcard}`` placeholders); the tests,
the shell scripts and whoever else needs a concrete path fill the same patterns
(:func:`fill`, or the command line below) instead of spelling the path again. A path
changed here is a path changed for every existing study: its files would no longer be
found, and the workflow would compute them again. tests/test_layout.py checks that the
workflow, the docs and the scripts name no other results path.

Standard library only: Snakemake imports this while it parses the workflow.

Command line (``scripts/`` on PYTHONPATH), for shell scripts: the pattern of that name,
its wildcards filled in, e.g.

    python -m normbound.layout BENCHMARKS
    python -m normbound.layout SEED_DIR label_noise=0.04 hidden=100 steps=10000 seed=0
"""

import argparse
import re

RESULTS = "results"
# A study cell's folder name, e.g. noise0.04_h100_steps10000. A single-valued study uses it
# too: one path scheme for every study, and a single value turned into a list keeps its
# cell's results (only the new cells run) instead of moving every file.
CELL = "noise{label_noise}_h{hidden}_steps{steps}"
# Data and baselines depend on the label noise alone: one per noise rate and seed, shared
# by the cells with that rate. The SVC's fitted parameters lie beside its table.
DATA_NPZ = f"{RESULTS}/data/noise{{label_noise}}/seed{{seed}}.npz"
DATA_JSON = f"{RESULTS}/data/noise{{label_noise}}/seed{{seed}}.json"
BASELINES = f"{RESULTS}/baselines/noise{{label_noise}}/seed{{seed}}.csv"
SVC_ARRAYS = f"{RESULTS}/baselines/noise{{label_noise}}/seed{{seed}}_svc.npz"
# Per cell and seed: the training job's files and the robustness job's.
SEED_DIR = f"{RESULTS}/{CELL}/seed{{seed}}"
SEED_NETWORKS = f"{SEED_DIR}/networks.csv"
SEED_VALIDATION = f"{SEED_DIR}/validation.csv"
SEED_CURVES = f"{SEED_DIR}/curves.csv"
SEED_WEIGHTS = f"{SEED_DIR}/weights.npz"
SEED_ROBUSTNESS = f"{SEED_DIR}/robustness.csv"
# All cells and seeds joined.
METRICS = f"{RESULTS}/metrics.csv"
SELECTION = f"{RESULTS}/selection.csv"
CURVES = f"{RESULTS}/curves.csv"
ROBUSTNESS = f"{RESULTS}/robustness.csv"
# Folders of named files: the report's tables and figures, the theory rules' outputs.
TABLES = f"{RESULTS}/tables"
TABLE = f"{TABLES}/{{name}}.csv"
FIGURES = f"{RESULTS}/figures"
FIGURE = f"{FIGURES}/{{name}}.{{ext}}"
# The FIGUREs of the report, each drawn by the function of its name in scripts/figures.py.
FIGURE_NAMES = ("paired_differences", "accuracy_vs_lambda", "norms_vs_lambda", "bound_chain", "before_after",
                "training_curves", "lambda_chosen", "robustness_curves")
THEORY = f"{RESULTS}/theory"
THEORY_FILE = f"{THEORY}/{{name}}.{{ext}}"
# The figures among the THEORY_FILEs, by the rule that draws them (each by the function of its name).
THEORY_FIGURE_NAMES = {"theory_hessian": ("hessian_convergence", "optimiser_steps"),
                       "theory_bounds": ("bound_ratios", "pattern_gap")}
REPORT = f"{RESULTS}/report"
REPORT_HTML = f"{REPORT}/report.html"
REPORT_TEX = f"{REPORT}/report.tex"
REPORT_PDF = f"{REPORT}/report.pdf"
# Where docs/method.md has `snakemake --report` write Snakemake's own report (no rule does).
SNAKEMAKE_REPORT = f"{RESULTS}/snakemake-report.html"
# A log and a benchmark per job: one folder per rule, one file per job, named by the job's
# wildcards (the theory rules' one job: "theory"); a log of a rule of one job is named by
# the rule alone.
LOGS = f"{RESULTS}/logs"
BENCHMARKS = f"{RESULTS}/benchmarks"
JOB_LOG = f"{LOGS}/{{rule}}/{{job}}.log"
RULE_LOG = f"{LOGS}/{{rule}}.log"
DATA_JOB = "noise{label_noise}_seed{seed}"
CELL_JOB = f"{CELL}_seed{{seed}}"
THEORY_JOB = "theory"


def benchmark(rule: str, job: str, folder: str = BENCHMARKS) -> str:
    """The benchmark file of ``rule``'s job ``job`` (names, patterns or globs), under
    ``folder``: BENCHMARKS, or a study's benchmarks folder elsewhere."""
    return f"{folder}/{rule}/{job}.tsv"


BENCHMARK = benchmark("{rule}", "{job}")

# Every file a study may hold: the tests check the workflow, the docs and the scripts
# against this list.
FILES = (DATA_NPZ, DATA_JSON, BASELINES, SVC_ARRAYS, SEED_NETWORKS, SEED_VALIDATION, SEED_CURVES, SEED_WEIGHTS,
         SEED_ROBUSTNESS, METRICS, SELECTION, CURVES, ROBUSTNESS, TABLE, FIGURE, THEORY_FILE, REPORT_HTML, REPORT_TEX,
         REPORT_PDF, SNAKEMAKE_REPORT, JOB_LOG, RULE_LOG, BENCHMARK)


def fill(pattern: str, **values) -> str:
    """``pattern`` with each wildcard replaced by its value (as ``str`` writes it, the
    way Snakemake's wildcards hold the config's values). A value may itself be a pattern:
    ``fill(JOB_LOG, rule="robustness", job=CELL_JOB)`` is the robustness rule's log pattern."""
    return pattern.format_map(values)


def parse(pattern: str, path: str) -> dict | None:
    """The wildcards' values that make ``path`` from ``pattern`` (texts, each without a
    slash), or None where ``path`` is not one of its paths."""
    parts = re.split(r"\{(\w+)\}", pattern)
    regex = "".join(f"(?P<{part}>[^/]+)" if i % 2 else re.escape(part) for i, part in enumerate(parts))
    match = re.fullmatch(regex, path)
    return match.groupdict() if match else None


def sweep_figure_names(swept: list) -> list:
    """The sweep section's FIGUREs where sweep axes ``swept`` have several values (names
    that start with "sweep": a report rendered by hand tells them by that); the width
    ratio where h is swept."""
    return (["sweep"] + (["sweep_width_ratio"] if "hidden" in swept else [])) if swept else []


def cell_folder(cell: dict) -> str:
    """The folder name of ``cell``, a study cell of the checked config
    (:func:`normbound.config.cells`: the schema's defaults filled in)."""
    return fill(CELL, **cell)


def log(rule: str, job: str | None = None) -> str:
    """The log of ``rule``'s job ``job`` (a name or a pattern), or of a rule of one job."""
    return fill(JOB_LOG, rule=rule, job=job) if job else fill(RULE_LOG, rule=rule)


# The module's patterns by name, for the command line.
PATTERNS = {name: value for name, value in globals().items() if name.isupper() and isinstance(value, str)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Print a path of the study's layout, its wildcards filled in.")
    parser.add_argument("name", choices=PATTERNS, help="a pattern of normbound.layout", metavar="NAME")
    parser.add_argument("values", nargs="*", help="wildcard=value, one per wildcard of the pattern")
    args = parser.parse_args(argv)
    values = dict(item.split("=", 1) for item in args.values)
    try:
        print(fill(PATTERNS[args.name], **values))
    except KeyError as err:
        parser.error(f"{args.name} needs a value for {err}: {PATTERNS[args.name]}")


if __name__ == "__main__":
    main()
