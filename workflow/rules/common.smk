# Paths, wildcard constraints and the config checks that a schema cannot express.
import os
import sys

sys.path.insert(0, os.path.join(workflow.basedir, "..", "scripts"))
import normbound as nb  # noqa: E402

try:
    nb.check_config(config)
except nb.ConfigError as err:
    raise WorkflowError(str(err)) from None

SEEDS = config["seeds"]
RESULTS = "results"
DATA = f"{RESULTS}/data/seed{{seed}}"
SEED_DIR = f"{RESULTS}/seed{{seed}}"
LOGS = f"{RESULTS}/logs"
BENCHMARKS = f"{RESULTS}/benchmarks"
METRICS = f"{RESULTS}/metrics.csv"
SCRIPTS = "../../scripts"


wildcard_constraints:
    seed=r"\d+",


def per_seed(pattern):
    """``pattern`` expanded over the configured seeds."""
    return expand(pattern, seed=SEEDS)
