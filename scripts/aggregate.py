"""Join every seed's tables: ``results/metrics.csv`` (one row per model, λ, phase and
seed), ``results/selection.csv`` (validation scores and chosen λ) and ``results/curves.csv``.

By hand:  python scripts/aggregate.py --results results
"""

import argparse
import glob
import os

import pandas as pd

import normbound as nb

# The columns of results/metrics.csv, in order (documented in the README).
METRICS_COLUMNS = ["seed", "model", "lam", "phase", "selected", "train_acc", "test_acc", "train_loss",
                   "test_loss", "grad", "grad_notebook", "grad_max", "mix_norm", "frob_bound",
                   "spectral_bound", "diverged", "diverged_step"]


# Models in the study's order, phases in time order; everything else sorts as is.
RANK = {**{m: i for i, m in enumerate(nb.MODELS)}, "before": 0, "after": 1}


def join(paths, keys):
    """Concatenate CSV files and sort by ``keys``, so the output does not depend on the
    order the inputs are listed in."""
    frame = pd.concat([f for f in map(pd.read_csv, paths) if len(f)], ignore_index=True)
    by_rank = lambda column: column.map(RANK) if column.name in ("model", "phase") else column  # noqa: E731
    return frame.sort_values(keys, key=by_rank, kind="stable").reset_index(drop=True)


def aggregate(networks, baselines, validations, curves):
    """Join per-seed CSV files (lists of paths) into the three study tables."""
    metrics = join([*networks, *baselines], ["seed", "model", "lam", "phase"]).reindex(columns=METRICS_COLUMNS)
    return (metrics, join(validations, ["seed", "model", "lam"]),
            join(curves, ["seed", "subset", "model", "lam", "step"]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default="results", help="the workflow's results folder")
    args = parser.parse_args(argv)
    found = {k: sorted(glob.glob(os.path.join(args.results, "seed*", f"{k}.csv")))
             for k in ("networks", "baselines", "validation", "curves")}
    tables = aggregate(found["networks"], found["baselines"], found["validation"], found["curves"])
    for frame, name in zip(tables, ("metrics", "selection", "curves")):
        nb.write_csv(frame, os.path.join(args.results, f"{name}.csv"))


if __name__ == "__main__":
    if "snakemake" in globals():
        nb.setup_logging(snakemake.log[0])
        tables = aggregate(snakemake.input.networks, snakemake.input.baselines, snakemake.input.validation,
                           snakemake.input.curves)
        for frame, path in zip(tables, (snakemake.output.metrics, snakemake.output.selection, snakemake.output.curves)):
            nb.write_csv(frame, path)
    else:
        main()
