"""Join every cell's and seed's tables: ``metrics.csv`` (one row per cell, seed, model, λ
and phase), ``selection.csv`` (validation scores and chosen λ), ``curves.csv`` and
``robustness.csv`` (one row per classifier, seed and test point: certified radii and attack
distance).

Every row gains its cell's sweep values (``label_noise``, ``hidden``, ``steps``) as the
first columns, from the cell each input file belongs to: a training job's files do not
repeat values that their path and the config hold already. A single cell's table holds
the same rows as before sweeps existed, in the same order, with these three columns added.

Every table gains ``notebook_lambda``: true for the networks trained at the notebook's λ
(and for ``nn``, the notebook's unpenalised network), so that no consumer matches floats.
λ is compared exactly: it is the config's float, written and read back by pandas, which
round-trips every float.

Any model subset joins: without networks, ``selection.csv`` and ``curves.csv`` hold
their header alone; without baselines, ``metrics.csv`` holds the networks alone.

By hand (one cell, the config's first: every file is of it; each list of files in the same seed order):
          cell=results/noise0.04_h100_steps10000
          python scripts/aggregate.py --networks $cell/seed*/networks.csv \\
              --baselines results/baselines/noise0.04/seed*.csv --validation $cell/seed*/validation.csv \\
              --curves $cell/seed*/curves.csv --robustness $cell/seed*/robustness.csv \\
              --out-metrics m.csv --out-selection s.csv --out-curves c.csv --out-robustness r.csv
"""

import pandas as pd

from normbound import MODELS, PENALTY, SWEEP_AXES, entry, io, layout
from normbound import config as study_config

# The columns of each output, in order (documented in the README).
METRICS_COLUMNS = [*SWEEP_AXES, "seed", "model", "lam", "phase", "selected", "notebook_lambda", "train_acc",
                   "train_acc_clean", "test_acc", "train_loss", "test_loss", "grad", "grad_notebook", "grad_max",
                   "mix_norm", "frob_bound", "spectral_bound", "diverged", "diverged_step", "converged"]
SELECTION_COLUMNS = [*SWEEP_AXES, "seed", "model", "lam", "notebook_lambda", "val_acc", "val_loss", "diverged",
                     "diverged_step", "selected"]
# With k-fold selection (validation_folds >= 2), the hold-out's scores and choice beside it.
HOLDOUT_COLUMNS = ["holdout_val_acc", "holdout_val_loss", "holdout_selected"]
ROBUSTNESS_COLUMNS = [*SWEEP_AXES, "seed", "model", "lam", "notebook_lambda", "point", "correct", "radius_mix",
                      "radius_spectral", "radius_frob", "radius_local", "radius_kernel", "distance"]
CURVES_COLUMNS = [*SWEEP_AXES, "seed", "model", "lam", "notebook_lambda", "subset", "step", "objective", "train_loss",
                  "train_acc", "val_acc", "test_acc", "grad", "mix_norm", "frob_bound"]
# Models in the study's order, phases in time order; everything else sorts as is.
RANK = {**{m: i for i, m in enumerate(MODELS)}, "before": 0, "after": 1}


def join(files, keys, columns, notebook_lambdas, optional=()):
    """Concatenate CSV files, given as ``(path, cell)`` pairs, each row with its file's
    cell's sweep values; flag the notebook's λ and sort by the sweep axes and ``keys``, so
    the output does not depend on the order the inputs are listed in; no rows at all give
    an empty table with ``columns``. Columns ``optional`` follow where the files have them."""
    frames = [frame.assign(**cell) for frame, cell in ((pd.read_csv(path), cell) for path, cell in files) if len(frame)]
    if not frames:
        return pd.DataFrame(columns=columns)
    frame = pd.concat(frames, ignore_index=True)
    # The comparators have no notebook λ (the notebook had no such networks).
    frame["notebook_lambda"] = [model == "nn" or (model in PENALTY and lam == notebook_lambdas.get(PENALTY[model]))
                                for model, lam in zip(frame["model"], frame["lam"])]
    by_rank = lambda column: column.map(RANK) if column.name in ("model", "phase") else column  # noqa: E731
    frame = frame.sort_values([*SWEEP_AXES, *keys], key=by_rank, kind="stable")
    return frame.reset_index(drop=True).reindex(columns=[*columns, *(c for c in optional if c in frame)])


def tagged(paths, cells):
    """``(path, cell)`` pairs: a list of files is empty (a model subset without these
    models) or holds one file per cell, in the order of ``cells``; one cell alone (by
    hand) is every file's."""
    cells = cells * len(paths) if len(cells) == 1 else cells
    if paths and len(paths) != len(cells):
        raise ValueError(f"{len(paths)} files for {len(cells)} cells: a list of files holds one file per cell")
    return list(zip(paths, cells))


def aggregate(networks, baselines, validation, curves, robustness, notebook_lambdas, cells):
    """Join per-seed CSV files (lists of paths) into the four study tables. ``cells``:
    the cell (``{axis: value}``) that each list's i-th file belongs to."""
    return (join(tagged(networks, cells) + tagged(baselines, cells), ["seed", "model", "lam", "phase"], METRICS_COLUMNS,
                 notebook_lambdas),
            join(tagged(validation, cells), ["seed", "model", "lam"], SELECTION_COLUMNS, notebook_lambdas,
                 HOLDOUT_COLUMNS),
            join(tagged(curves, cells), ["seed", "subset", "model", "lam", "step"], CURVES_COLUMNS, notebook_lambdas),
            join(tagged(robustness, cells), ["seed", "model", "point"], ROBUSTNESS_COLUMNS, notebook_lambdas))


def run(networks, baselines, validation, curves, robustness, notebook_lambdas, cells, out_metrics, out_selection,
        out_curves, out_robustness):
    tables = aggregate(networks, baselines, validation, curves, robustness, notebook_lambdas, cells)
    for frame, path in zip(tables, (out_metrics, out_selection, out_curves, out_robustness)):
        io.write_csv(frame, path)


SCRIPT = entry.Script(
    __doc__, run,
    **{name: entry.inp(f"per-seed {name} CSV files", many=True)
       for name in ("networks", "baselines", "validation", "curves", "robustness")},
    notebook_lambdas=entry.param(lambda config: config["notebook_lambdas"]),
    # By hand, every file is of the report's cell (see the module's docstring).
    cells=entry.param(lambda config: [study_config.report_cell(config)]),
    **{f"out_{name}": entry.out(f"output: {name}.csv", name, default=path)
       for name, path in (("metrics", layout.METRICS), ("selection", layout.SELECTION), ("curves", layout.CURVES),
                          ("robustness", layout.ROBUSTNESS))},
)
main = SCRIPT.main

if __name__ == "__main__":
    SCRIPT.start(globals())
