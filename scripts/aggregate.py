"""Join every seed's tables: ``metrics.csv`` (one row per model, λ, phase and seed),
``selection.csv`` (validation scores and chosen λ) and ``curves.csv``.

Every table gains ``notebook_lambda``: true for the networks trained at the notebook's λ
(and for ``nn``, the notebook's unpenalised network), so that no consumer matches floats.
λ is compared exactly: it is the config's float, written and read back by pandas, which
round-trips every float.

Any model subset joins: without networks, ``selection.csv`` and ``curves.csv`` hold
their header alone; without baselines, ``metrics.csv`` holds the networks alone.

By hand:  python scripts/aggregate.py --networks results/seed*/networks.csv \\
              --baselines results/seed*/baselines.csv --validation results/seed*/validation.csv \\
              --curves results/seed*/curves.csv --out-metrics m.csv --out-selection s.csv --out-curves c.csv
"""

import argparse

import pandas as pd

from normbound import MODELS, PENALTY, config, io

# The columns of each output, in order (documented in the README).
METRICS_COLUMNS = ["seed", "model", "lam", "phase", "selected", "notebook_lambda", "train_acc", "train_acc_clean",
                   "test_acc", "train_loss", "test_loss", "grad", "grad_notebook", "grad_max", "mix_norm", "frob_bound",
                   "spectral_bound", "diverged", "diverged_step"]
SELECTION_COLUMNS = ["seed", "model", "lam", "notebook_lambda", "val_acc", "val_loss", "diverged", "diverged_step",
                     "selected"]
CURVES_COLUMNS = ["seed", "model", "lam", "notebook_lambda", "subset", "step", "objective", "train_loss", "train_acc", "val_acc",
                  "test_acc", "grad", "mix_norm", "frob_bound"]
# Models in the study's order, phases in time order; everything else sorts as is.
RANK = {**{m: i for i, m in enumerate(MODELS)}, "before": 0, "after": 1}


def join(paths, keys, columns, notebook_lambdas):
    """Concatenate CSV files, flag the notebook's λ and sort by ``keys``, so the output
    does not depend on the order the inputs are listed in; no rows at all give an empty
    table with ``columns``."""
    frames = [f for f in map(pd.read_csv, paths) if len(f)]
    if not frames:
        return pd.DataFrame(columns=columns)
    frame = pd.concat(frames, ignore_index=True)
    # The comparators have no notebook λ (the notebook had no such networks).
    frame["notebook_lambda"] = [model == "nn" or (model in PENALTY and lam == notebook_lambdas.get(PENALTY[model]))
                                for model, lam in zip(frame["model"], frame["lam"])]
    by_rank = lambda column: column.map(RANK) if column.name in ("model", "phase") else column  # noqa: E731
    return frame.sort_values(keys, key=by_rank, kind="stable").reset_index(drop=True).reindex(columns=columns)


def aggregate(networks, baselines, validation, curves, notebook_lambdas):
    """Join per-seed CSV files (lists of paths) into the three study tables."""
    return (join([*networks, *baselines], ["seed", "model", "lam", "phase"], METRICS_COLUMNS, notebook_lambdas),
            join(validation, ["seed", "model", "lam"], SELECTION_COLUMNS, notebook_lambdas),
            join(curves, ["seed", "subset", "model", "lam", "step"], CURVES_COLUMNS, notebook_lambdas))


def write(tables, paths):
    for frame, path in zip(tables, paths):
        io.write_csv(frame, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in ("networks", "baselines", "validation", "curves"):
        parser.add_argument(f"--{name}", nargs="*", default=[], help=f"per-seed {name} CSV files")
    for name in ("metrics", "selection", "curves"):
        parser.add_argument(f"--out-{name}", required=True, help=f"output: {name}.csv")
    config.add_config_arguments(parser)
    args = parser.parse_args(argv)
    notebook_lambdas = config.load_config(args.config, args.schema)["notebook_lambdas"]
    write(aggregate(args.networks, args.baselines, args.validation, args.curves, notebook_lambdas),
          (args.out_metrics, args.out_selection, args.out_curves))


if __name__ == "__main__":
    if "snakemake" in globals():
        io.setup_logging(snakemake.log[0])
        inp, out = snakemake.input, snakemake.output
        write(aggregate(inp.networks, inp.baselines, inp.validation, inp.curves, snakemake.params.notebook_lambdas),
              (out.metrics, out.selection, out.curves))
    else:
        main()
