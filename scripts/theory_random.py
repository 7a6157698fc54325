"""Exercise 2's random weight families: the bound chain measured on networks of every
family at the study's width and at the widths small enough to enumerate every activation
pattern (:mod:`normbound.bounds`). A rule of its own because it reads nothing from
the study: a change of seeds, models or training settings does not rerun it.

By hand:  python scripts/theory_random.py --out /tmp/random_families.csv
"""

import torch

from normbound import entry, io
from normbound.bounds import random_study


def theory_random(out, seed=0, threads=1):
    """Write :func:`normbound.bounds.random_study`'s table to ``out``."""
    torch.set_num_threads(threads)
    io.write_csv(random_study(seed), out)


SCRIPT = entry.Script(
    __doc__, theory_random,
    out=entry.out("output: one row per random network (CSV)", 0),
    seed=entry.option("seed of the random families (default: 0)", type=int, default=0),
    threads=entry.threads(1, "torch threads (default: 1)"),
)
main = SCRIPT.main

if __name__ == "__main__":
    SCRIPT.start(globals())
