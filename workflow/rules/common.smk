# Every name of the study, declared once (its paths: normbound.layout); the config checks;
# small helpers.
# Scripts receive their paths through input/output/params and never work them out.
# Parsing imports nothing heavy: normbound.config is torch-free (tests check it).
import os
import re
import sys

import yaml
from snakemake.logging import logger

sys.path.insert(0, os.path.join(workflow.basedir, "..", "scripts"))
from normbound import BASELINES, NETWORKS, SWEEP_AXES, layout  # noqa: E402
from normbound.report.sections import TABLES as REPORT_TABLES  # noqa: E402
from normbound.config import (ConfigError, attack_settings, axis_values, cells, check, report_cell, stage_settings,  # noqa: E402
                              swept, table_settings)

try:
    check(config, os.path.join(workflow.basedir, "schemas", "config.schema.yaml"))
except ConfigError as err:
    # One paragraph naming the key: no schema dump, and no trace line pointing at this
    # file, while the mistake is in the user's config.
    logger.error(f"Invalid config: {err}")
    sys.exit(1)

SEEDS = config["seeds"]
# One training job per cell instead of per seed and cell (config training_jobs; auto: on
# CUDA, where every process pays its own CUDA start and graph capture). Known at parse time,
# so a login node without a GPU plans the same jobs as the GPU node runs.
PER_CELL = config["training_jobs"] == "per_cell" or (config["training_jobs"] == "auto" and config["device"] == "cuda")
# The study cells: one value of each sweep axis (label_noise, hidden, steps), every
# combination of the config's lists. A single-valued config is one cell.
CELLS = cells(config)
SWEPT = swept(config)
# The cell that the report's single-cell sections (tables, figures, theory) show: each
# swept key's first value, so the user picks it by order.
REPORT_CELL = report_cell(config)
# A wildcard's text -> the config's value, per sweep axis: rules get the value itself
# (an int stays an int), never a number parsed back from a path.
AXIS_VALUES = {key: {str(value): value for value in axis_values(config, key)} for key in SWEEP_AXES}
TRAINED_BASELINES = [m for m in BASELINES if m in config["models"]]
TRAINED_NETWORKS = [m for m in NETWORKS if m in config["models"]]
TRAINED_SVC = "svc" in config["models"]
# The classifiers whose robustness is measured: the networks and the SVC (not the random
# forest: piecewise constant, nothing to certify or follow a gradient of; README).
ROBUSTNESS_MEASURED = bool(TRAINED_NETWORKS) or TRAINED_SVC

# ----------------------------------------------------------------------------- paths
# Every path of a study is normbound.layout's (the rules write layout.X); these are the
# repository's own files that the rules read.
SCRIPTS = "../../scripts"
REPORT_TEMPLATES = os.path.join(workflow.basedir, "..", "report")
# The pinned environment, for --software-deployment-method conda (relative to rules/).
ENV = "../../environment.yml"

# ----------------------------------------------------------------------------- names
# The report's tables and figures; each script draws exactly the names it is given.
TABLE_NAMES = list(REPORT_TABLES)
FIGURE_NAMES = list(layout.FIGURE_NAMES)
SWEEP_FIGURE_NAMES = layout.sweep_figure_names(SWEPT)
SWEEP_TABLE_NAMES = ["sweep"] if SWEPT else []
THEORY_FIGURE_NAMES = layout.THEORY_FIGURE_NAMES

# The notebook's settings (report/notebook_reference.yaml): a change reruns the tables.
with open(os.path.join(REPORT_TEMPLATES, "notebook_reference.yaml")) as _handle:
    NOTEBOOK_REFERENCE = yaml.safe_load(_handle)


def one_of(names):
    """A wildcard constraint that matches exactly one of ``names``."""
    return "|".join(map(re.escape, names))


wildcard_constraints:
    seed=r"\d+",
    label_noise=one_of(AXIS_VALUES["label_noise"]),
    hidden=one_of(AXIS_VALUES["hidden"]),
    steps=one_of(AXIS_VALUES["steps"]),


def job_settings(stage):
    """normbound.config.stage_settings of ``stage`` as a rule's params, each sweep axis at
    the job's cell's value (a function of its wildcards): a rule's params hold its own
    cell only, so a new cell leaves the others' jobs as they are."""
    return lambda wildcards: stage_settings(config, stage, {key: AXIS_VALUES[key][value]
                                                            for key, value in wildcards.items() if key in SWEEP_AXES})


def cell_wildcards(cell):
    """A cell's values as wildcard texts (the keys of AXIS_VALUES)."""
    return {key: str(value) for key, value in cell.items()}


def per_seed(pattern, cell=REPORT_CELL):
    """``pattern`` expanded over the configured seeds, in ``cell``."""
    return expand(pattern, seed=SEEDS, **cell_wildcards(cell))


# Every (cell, seed) of the study, cells in the config's order, seeds within: the order of
# the aggregation's inputs and of its ``cells`` param.
CELL_SEEDS = [(cell, seed) for cell in CELLS for seed in SEEDS]


def per_cell_and_seed(pattern):
    """``pattern`` for every (cell, seed) of CELL_SEEDS, one path each (a path repeats
    where ``pattern`` does not name every axis)."""
    return expand(pattern, zip, seed=[seed for _, seed in CELL_SEEDS],
                  **{key: [str(cell[key]) for cell, _ in CELL_SEEDS] for key in SWEEP_AXES})


def figure_files(pattern, names):
    """Named outputs ``<name>_pdf`` (for LaTeX) and ``<name>_png`` (HTML) per figure, in
    ``pattern``'s folder (layout.FIGURE or layout.THEORY_FILE)."""
    return {f"{name}_{ext}": layout.fill(pattern, name=name, ext=ext) for name in names for ext in ("pdf", "png")}


def captioned(files, category):
    """``files`` with each PNG registered in Snakemake's own report, under its caption."""
    return {
        key: report(path, caption=f"../../report/captions/{key[:-4]}.rst", category=category)
        if key.endswith("_png")
        else path
        for key, path in files.items()
    }
