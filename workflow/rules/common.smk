# Paths, wildcard constraints and the config checks that a schema cannot express.
import os
import sys

sys.path.insert(0, os.path.join(workflow.basedir, "..", "scripts"))
import normbound as nb  # noqa: E402
from snakemake.logging import logger  # noqa: E402

try:
    nb.check_config(config)
except nb.ConfigError as err:
    # The message and nothing else: a WorkflowError would add a trace line pointing at
    # this file, while the mistake is in the user's config.
    logger.error(f"Invalid config: {err}")
    sys.exit(1)

SEEDS = config["seeds"]
RESULTS = "results"
DATA = f"{RESULTS}/data/seed{{seed}}"
SEED_DIR = f"{RESULTS}/seed{{seed}}"
LOGS = f"{RESULTS}/logs"
BENCHMARKS = f"{RESULTS}/benchmarks"
METRICS = f"{RESULTS}/metrics.csv"
SCRIPTS = "../../scripts"
# The pinned environment, for --software-deployment-method conda (relative to rules/).
ENV = "../../environment.yml"


wildcard_constraints:
    seed=r"\d+",


def per_seed(pattern):
    """``pattern`` expanded over the configured seeds."""
    return expand(pattern, seed=SEEDS)
