# Every name and path of the study, declared once; the config checks; small helpers.
# Scripts receive their paths through input/output/params and never work them out.
# Parsing imports nothing heavy: normbound.config is torch-free (tests check it).
import os
import sys

import yaml
from snakemake.logging import logger

sys.path.insert(0, os.path.join(workflow.basedir, "..", "scripts"))
from normbound import BASELINES, NETWORKS, PENALTY  # noqa: E402
from normbound.config import ConfigError, check  # noqa: E402

try:
    check(config, os.path.join(workflow.basedir, "schemas", "config.schema.yaml"))
except ConfigError as err:
    # One paragraph naming the key: no schema dump, and no trace line pointing at this
    # file, while the mistake is in the user's config.
    logger.error(f"Invalid config: {err}")
    sys.exit(1)

SEEDS = config["seeds"]
TRAINED_BASELINES = [m for m in BASELINES if m in config["models"]]
TRAINED_NETWORKS = [m for m in NETWORKS if m in config["models"]]
TRAINED_SVC = "svc" in config["models"]
# The classifiers whose robustness is measured: the networks and the SVC (not the random
# forest: piecewise constant, nothing to certify or follow a gradient of; README).
ROBUSTNESS_MEASURED = bool(TRAINED_NETWORKS) or TRAINED_SVC

# ----------------------------------------------------------------------------- paths
RESULTS = "results"
DATA = f"{RESULTS}/data/seed{{seed}}"
SEED_DIR = f"{RESULTS}/seed{{seed}}"
LOGS = f"{RESULTS}/logs"
BENCHMARKS = f"{RESULTS}/benchmarks"
TABLES = f"{RESULTS}/tables"
FIGURES = f"{RESULTS}/figures"
THEORY = f"{RESULTS}/theory"
REPORT = f"{RESULTS}/report"
# Per seed: the SVC's fitted parameters as arrays, and each test point's certified radii
# and attack distance; all seeds' points joined.
SVC_ARRAYS = f"{SEED_DIR}/svc.npz"
SEED_ROBUSTNESS = f"{SEED_DIR}/robustness.csv"
ROBUSTNESS = f"{RESULTS}/robustness.csv"
SCRIPTS = "../../scripts"
REPORT_TEMPLATES = os.path.join(workflow.basedir, "..", "report")
# The pinned environment, for --software-deployment-method conda (relative to rules/).
ENV = "../../environment.yml"

# ----------------------------------------------------------------------------- names
# The report's tables and figures; each script draws exactly the names it is given.
TABLE_NAMES = ["comparison_chosen", "comparison_notebook", "paired_differences", "lambda_selection", "convergence",
               "fidelity", "fidelity_settings", "diverged", "robustness", "robustness_gap"]
FIGURE_NAMES = ["accuracy_vs_lambda", "norms_vs_lambda", "bound_chain", "before_after", "training_curves",
                "lambda_chosen", "robustness_curves"]
THEORY_FIGURE_NAMES = {
    "theory_hessian": ["hessian_convergence", "optimiser_steps"],
    "theory_bounds": ["bound_ratios", "pattern_gap"],
}

# The config keys each stage reads: a rule's params, so that changing a key reruns
# exactly the stages that read it.
STAGE_KEYS = {
    "data": ("dataset", "label_noise", "test_fraction", "validation_fraction"),
    "baselines": ("models",),
    "networks": ("models", "hidden", "init_scale", "lr", "lr_schedule", "steps", "lambdas", "curve_every",
                 "device", "batch_size", "compile"),
}
# The robustness block's keys that the attack reads; its ε are the report's (tables, figures).
ATTACK_KEYS = ("restarts", "steps")
# The notebook's settings (report/notebook_reference.yaml): a change reruns the tables.
with open(os.path.join(REPORT_TEMPLATES, "notebook_reference.yaml")) as _handle:
    NOTEBOOK_REFERENCE = yaml.safe_load(_handle)


wildcard_constraints:
    seed=r"\d+",


def settings(stage):
    """The part of the config that ``stage`` reads."""
    return {key: config[key] for key in STAGE_KEYS[stage]}


def per_seed(pattern):
    """``pattern`` expanded over the configured seeds."""
    return expand(pattern, seed=SEEDS)


def figure_files(folder, names):
    """Named outputs ``<name>_pdf`` (for LaTeX) and ``<name>_png`` (HTML) per figure."""
    return {f"{name}_{ext}": f"{folder}/{name}.{ext}" for name in names for ext in ("pdf", "png")}


def captioned(files, category):
    """``files`` with each PNG registered in Snakemake's own report, under its caption."""
    return {
        key: report(path, caption=f"../../report/captions/{key[:-4]}.rst", category=category)
        if key.endswith("_png")
        else path
        for key, path in files.items()
    }
