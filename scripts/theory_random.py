"""Exercise 2's random weight families: the bound chain measured on networks of every
family at the study's width and at the widths small enough to enumerate every activation
pattern (see scripts/theory_bounds.py). A rule of its own because it reads nothing from
the study: a change of seeds, models or training settings does not rerun it.

By hand:  python scripts/theory_random.py --out /tmp/random_families.csv
"""

import argparse

import torch

from normbound import io
from theory_bounds import random_study


def theory_random(out, seed=0, threads=1):
    """Write :func:`theory_bounds.random_study`'s table to ``out``."""
    torch.set_num_threads(threads)
    io.write_csv(random_study(seed), out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output: one row per random network (CSV)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random families (default: 0)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    args = parser.parse_args(argv)
    io.setup_logging()
    theory_random(args.out, args.seed, args.threads)


if __name__ == "__main__":
    if "snakemake" in globals():
        io.setup_logging(snakemake.log[0])
        theory_random(snakemake.output[0], threads=snakemake.threads)
    else:
        main()
