"""The report's tables, computed from the study's results files.

- ``comparison_chosen.csv``: the models after training, each penalised network at the λ
  chosen on validation data (the ``selected`` rows of metrics.csv), one λ per seed: mean,
  standard deviation, n and a 95 % percentile bootstrap interval over seeds. A norm is
  not averaged over networks trained with different λ: where the seeds chose different
  λ, the model's row keeps the accuracies (the selection procedure's) and every chosen λ
  gets a row of its own (``per_lambda``) with the seeds that chose it.
- ``comparison_notebook.csv``: the same at the notebook's λ, with the notebook's printed
  value beside each cell (its Grad beside ``grad_notebook``, which repeats its computation);
  the comparators, which the notebook did not have, have no row in it.
- ``paired_differences.csv``: test accuracy of one model minus another over the same
  seeds, at the chosen and at the notebook's λ, with the corrected resampled t interval
  of Nadeau and Bengio (:func:`normbound.summary.paired_difference`).
- ``lambda_selection.csv``: per penalty, how often the validation accuracy tied (and the
  hinge loss broke the tie), and where the notebook's λ ranks by mean test accuracy; with
  k-fold selection, what it changed against the hold-out choice on the same seeds.
- ``convergence.csv``: how far each network's training objective at the last step lies
  above its lowest logged value (results/curves.csv).
- ``fidelity.csv``: seed 0 (the notebook's split, noise and initialisation) against the
  notebook's printed numbers; ``fidelity_settings.csv``: config keys that differ from the
  notebook's settings, which would make that comparison meaningless.
- ``diverged.csv``: every network whose objective became NaN or infinite. Diverged
  networks are left out of every statistic; the report lists them.
- ``robustness.csv``: robust accuracy at the config's ``robustness.table_epsilons``, per
  model (networks at the chosen λ, the SVC), for each certificate and the attack
  (results/robustness.csv, :func:`normbound.summary.robust_accuracy`), mean and 95 %
  bootstrap interval over seeds; ``robustness_gap.csv``: how much of the attack's distance
  each certificate certifies.
- ``sweep.csv``: every study cell's headline quantities (:func:`normbound.summary.sweep_summary`),
  for the report's sweep section.

Every table but the sweep's is of one study cell (``cell``: the report's, the config's
first), so that a sweep's report shows the single-cell sections of one cell.

The tables are tidy (one row per table row and metric), so templates only format numbers.

By hand:  python scripts/tables.py --metrics results/metrics.csv --selection results/selection.csv \
              --curves results/curves.csv --robustness results/robustness.csv \
              --out comparison_notebook=/tmp/comparison_notebook.csv
"""

import argparse
import math

import numpy as np
import pandas as pd
import yaml

from normbound import LABELS, MODELS, NETWORKS, PENALTY, config, io
from normbound.summary import (ROBUST_MEASURES, comparison_rows, in_cell, paired_difference, robust_accuracy, summary_by,
                               sweep_summary)

# The comparison's columns: the notebook's, with the notebook's Grad variant beside the
# true gradient and the spectral bound beside the mixed norm.
METRICS = ("train_acc", "test_acc", "grad", "grad_notebook", "mix_norm", "spectral_bound", "frob_bound")
# Quantities of the weights: their mean over networks trained with different λ means nothing.
PER_LAMBDA = ("grad", "grad_notebook", "mix_norm", "spectral_bound", "frob_bound")
# The column of report/notebook_reference.yaml that each metric is compared with; the
# notebook's "grad" differentiates the unpooled activations, as grad_notebook does.
NOTEBOOK_COLUMN = {"train_acc": "train_acc", "test_acc": "test_acc", "grad_notebook": "grad",
                   "mix_norm": "mix_norm", "frob_bound": "frob_bound"}
# Paired comparisons of test accuracy: (model, minus model). Each comparator against the
# unpenalised network and against the mixed-norm penalty, the bound it would replace.
PAIRS = (("nn_frob", "nn"), ("nn_mix", "nn"), ("nn_frob", "svc"), ("nn_mix", "svc"), ("nn_frob", "nn_mix"),
         ("nn_spec", "nn"), ("nn_grad", "nn"), ("nn_spec", "nn_mix"), ("nn_grad", "nn_mix"))
# A network "ends above its best" when its last objective exceeds its lowest logged one by more.
EXCESS_THRESHOLD = 0.02


def lambda_summary(lams: pd.Series) -> str:
    """The λ values of a table row: one value, or each value with its number of seeds."""
    counts = lams.dropna().value_counts().sort_index()
    if len(counts) <= 1:
        return "" if counts.empty else f"{counts.index[0]:g}"
    return ", ".join(f"{lam:g} ({count}×)" for lam, count in counts.items())


COMPARISON_COLUMNS = ["row", "model", "label", "lam", "per_lambda", "n_diverged", "metric", "n", "mean", "std", "ci_low",
                      "ci_high", "notebook"]


def comparison_table(metrics: pd.DataFrame, chosen: bool, reference=None) -> pd.DataFrame:
    """Mean, std, n and 95 % bootstrap interval per table row and metric; diverged
    networks are counted in ``n_diverged`` and left out of the statistics. ``reference``:
    the notebook's printed rows (see :func:`load_reference`), joined as ``notebook``."""
    rows = comparison_rows(metrics, chosen)
    diverged = rows["diverged"].astype(bool)
    # Diverged values become NaN rather than dropped rows: a model whose every network
    # diverged keeps its row, with n = 0.
    rows = rows.assign(**{m: rows[m].where(~diverged) for m in METRICS}, diverged=diverged)
    printed = {} if reference is None else {(r["model"], m): r.get(c, math.nan) for r in reference
                                            if r["phase"] == "after" for m, c in NOTEBOOK_COLUMN.items()}
    parts = []

    def add(part, lam, per_lambda):
        table = summary_by(part, ["model"], METRICS)
        table["notebook"] = [printed.get((m, metric), math.nan) for m, metric in zip(table["model"], table["metric"])]
        parts.append(table.assign(row=len(parts), lam=lam, per_lambda=per_lambda,
                                  n_diverged=int(part["diverged"].sum())))

    for model in (m for m in MODELS if m in set(rows["model"])):
        mine = rows[rows["model"] == model]
        several = mine["lam"].nunique() > 1
        add(mine.assign(**{m: math.nan for m in PER_LAMBDA}) if several else mine, lambda_summary(mine["lam"]), False)
        if several:
            for lam, part in mine.groupby("lam"):
                add(part, f"{lam:g}", True)
    if not parts:  # comparators alone have no row at the notebook's λ
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    table = pd.concat(parts, ignore_index=True)
    table["label"] = table["model"].map(LABELS)
    return table[COMPARISON_COLUMNS]


def paired_table(metrics: pd.DataFrame, test_over_train: float) -> pd.DataFrame:
    """Test accuracy of each pair of :data:`PAIRS` present, differenced per seed, at the
    chosen λ (first: the honest comparison) and at the notebook's λ. Seeds where either
    network diverged are left out."""
    rows = []
    for choice, chosen in (("chosen", True), ("notebook", False)):
        after = comparison_rows(metrics, chosen)
        accuracy = after[~after["diverged"].astype(bool)].pivot(index="seed", columns="model", values="test_acc")
        for model, other in PAIRS:
            if model in accuracy and other in accuracy:
                rows.append(dict(lambda_choice=choice, model=model, other=other,
                                 label=f"{LABELS[model]} − {LABELS[other]}", test_over_train=test_over_train,
                                 **paired_difference(accuracy[model] - accuracy[other], test_over_train)))
    return pd.DataFrame(rows, columns=["lambda_choice", "model", "other", "label", "test_over_train", "n", "mean",
                                       "std", "ci_low", "ci_high", "t", "p"])


def lambda_selection(metrics: pd.DataFrame, selection: pd.DataFrame, test_over_train: float) -> pd.DataFrame:
    """Per penalty: the seeds with a chosen λ, how many of those choices were ties in
    validation accuracy (broken by the validation hinge loss) and ties in both (broken by
    the larger λ); and the rank of the notebook's λ among the grid by mean test accuracy
    over seeds (1: the best), which only a choice made on the test set could know.

    With k-fold selection (``holdout_*`` columns in ``selection``), also: the hold-out's
    ties, the seeds whose k-fold λ differs from the hold-out's, and the test accuracy at
    the k-fold λ minus that at the hold-out's, per seed, as a corrected resampled t
    interval (``kfold_*``); NaN without k-fold selection."""
    rows = []
    test = metrics[(metrics["phase"] == "after") & ~metrics["diverged"].astype(bool)]
    kfold = "holdout_selected" in selection
    for model in (m for m in PENALTY if m in set(selection["model"])):
        mine = selection[(selection["model"] == model) & ~selection["diverged"].astype(bool)]
        ties = dict(selections=int(mine["selected"].astype(bool).sum()),
                    **tie_counts(mine, "val_acc", "val_loss", "selected"))
        compared = dict(holdout_tied_accuracy=math.nan, kfold_changed=math.nan,
                        **{f"kfold_{k}": math.nan for k in ("n", "mean", "ci_low", "ci_high")})
        if kfold:
            compared["holdout_tied_accuracy"] = tie_counts(mine, "holdout_val_acc", "holdout_val_loss",
                                                           "holdout_selected")["tied_accuracy"]
            accuracy = test[test["model"] == model].set_index(["seed", "lam"])["test_acc"]
            lam = {c: mine[mine[c].astype(bool)].set_index("seed")["lam"] for c in ("selected", "holdout_selected")}
            both = lam["selected"].index.intersection(lam["holdout_selected"].index)
            compared["kfold_changed"] = int((lam["selected"][both] != lam["holdout_selected"][both]).sum())
            difference = [accuracy[(seed, lam["selected"][seed])] - accuracy[(seed, lam["holdout_selected"][seed])]
                          for seed in both]
            paired = paired_difference(difference, test_over_train)
            compared.update({f"kfold_{k}": paired[k] for k in ("n", "mean", "ci_low", "ci_high")})
        mean_test = test[test["model"] == model].groupby("lam")["test_acc"].mean()
        ranks = mean_test.rank(ascending=False, method="min")
        notebook = test.loc[(test["model"] == model) & test["notebook_lambda"].astype(bool), "lam"]
        rows.append(dict(model=model, label=LABELS[model], **ties, grid=len(mean_test),
                         best_test_lam=mean_test.idxmax() if len(mean_test) else math.nan,
                         notebook_lam=notebook.iloc[0] if len(notebook) else math.nan,
                         notebook_rank=ranks.get(notebook.iloc[0], math.nan) if len(notebook) else math.nan,
                         **compared))
    return pd.DataFrame(rows, columns=["model", "label", "selections", "tied_accuracy", "tied_loss", "grid",
                                       "best_test_lam", "notebook_lam", "notebook_rank", "holdout_tied_accuracy",
                                       "kfold_changed", "kfold_n", "kfold_mean", "kfold_ci_low", "kfold_ci_high"])


def tie_counts(selection: pd.DataFrame, accuracy: str, loss: str, selected: str) -> dict:
    """Of one penalty's choices (one per seed): how many were ties in ``accuracy``, and how
    many ties in ``loss`` as well."""
    counts = dict(tied_accuracy=0, tied_loss=0)
    for _, runs in selection.groupby("seed"):
        best = runs[runs[accuracy] == runs[accuracy].max()]
        chosen = runs[runs[selected].astype(bool)]
        counts["tied_accuracy"] += len(best) > 1
        counts["tied_loss"] += int((best[loss] == chosen[loss].min()).sum() > 1)
    return counts


def convergence_table(curves: pd.DataFrame) -> pd.DataFrame:
    """Per network model, over its networks trained on the whole training set: how far the
    objective at the last logged step lies above the lowest logged one (median, largest,
    share above :data:`EXCESS_THRESHOLD`); and, for the networks at the notebook's λ, the
    mean objective and ‖W‖_Mix over seeds at the step where that mean is lowest and at
    the last step. Networks whose objective was ever not finite are left out."""
    network = ["seed", "lam"]
    logged = curves[(curves["subset"] == "train") & (curves["step"] > 0)]  # step 0 has no objective
    rows = []
    for model in (m for m in NETWORKS if m in set(logged["model"])):
        mine = logged[logged["model"] == model]
        mine = mine[mine.groupby(network)["objective"].transform(lambda o: np.isfinite(o).all())]
        if mine.empty:
            continue
        last = mine.loc[mine.groupby(network)["step"].idxmax()].set_index(network)["objective"]
        lowest = mine.groupby(network)["objective"].min()
        excess = (last / lowest - 1).where(lowest > 0)  # the unpenalised hinge loss can reach 0
        mean = mine[mine["notebook_lambda"].astype(bool)].groupby("step")[["objective", "mix_norm"]].mean()
        at = dict(lowest=mean["objective"].idxmin(), last=mean.index.max()) if len(mean) else {}
        rows.append(dict(model=model, label=LABELS[model], networks=len(last), median_excess=excess.median(),
                         max_excess=excess.max(), threshold=EXCESS_THRESHOLD,
                         share_above=(excess > EXCESS_THRESHOLD).mean(),
                         **{f"{key}_{when}": mean.loc[step, column] if column else step
                            for when, step in at.items()
                            for key, column in (("step", None), ("objective", "objective"), ("mix_norm", "mix_norm"))}))
    return pd.DataFrame(rows, columns=["model", "label", "networks", "median_excess", "max_excess", "threshold",
                                       "share_above", "step_lowest", "step_last", "objective_lowest",
                                       "objective_last", "mix_norm_lowest", "mix_norm_last"])


def fidelity_table(metrics: pd.DataFrame, reference, seed: int = 0) -> pd.DataFrame:
    """Seed ``seed`` against the notebook's printed values: one row per printed line and
    measured metric, with the difference study - notebook (empty when the seed is absent).
    The true gradient has no printed value (the notebook's Grad is grad_notebook's)."""
    ours = metrics[(metrics["seed"] == seed) & (metrics["notebook_lambda"] | ~metrics["model"].isin(NETWORKS))]
    rows = []
    for printed in reference:
        match = ours[(ours["model"] == printed["model"]) & (ours["phase"] == printed["phase"])]
        for metric in METRICS if len(match) else ():
            study, notebook = float(match[metric].iloc[0]), printed.get(NOTEBOOK_COLUMN.get(metric), math.nan)
            if math.isfinite(study) and (math.isfinite(notebook) or metric == "grad"):
                rows.append(dict(model=printed["model"], phase=printed["phase"], label=LABELS[printed["model"]],
                                 metric=metric, notebook=notebook, study=study, difference=study - notebook))
    return pd.DataFrame(rows, columns=["model", "phase", "label", "metric", "notebook", "study", "difference"])


def settings_differences(config: dict, settings: dict) -> pd.DataFrame:
    """The config keys whose value differs from the notebook's ``settings``."""
    rows = [dict(key=key, study=str(config[key]), notebook=str(value))
            for key, value in settings.items() if config[key] != value]
    return pd.DataFrame(rows, columns=["key", "study", "notebook"])


def diverged_table(metrics: pd.DataFrame, selection: pd.DataFrame) -> pd.DataFrame:
    """Every diverged network: the study's (trained on the whole training set) and the
    validation runs' (trained on the fit part)."""
    study = metrics[(metrics["phase"] == "after") & metrics["diverged"].astype(bool)].assign(trained_on="training set")
    validation = selection[selection["diverged"].astype(bool)].assign(trained_on="fit part (validation run)")
    columns = ["seed", "model", "lam", "trained_on", "diverged_step"]
    return pd.concat([study[columns], validation[columns]], ignore_index=True)


def in_study_order(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` sorted by model in the study's order (stable within a model), labelled."""
    rank = {m: i for i, m in enumerate(MODELS)}
    table = table.sort_values("model", key=lambda column: column.map(rank), kind="stable").reset_index(drop=True)
    return table.assign(label=table["model"].map(LABELS))


def robustness_table(points: pd.DataFrame, epsilons) -> pd.DataFrame:
    """Per model and ε of ``epsilons``: robust accuracy under each certificate and the
    attack (:func:`normbound.summary.robust_accuracy`), summarised over seeds; ``lam``: the
    λ the seeds chose, for the penalised models. Measures a model does not have (the SVC's
    certificates) are left out."""
    accuracy = robust_accuracy(points, epsilons)
    table = summary_by(accuracy, ["model", "epsilon"], list(ROBUST_MEASURES.values()))
    lams = {model: lambda_summary(part.groupby("seed")["lam"].first()) for model, part in points.groupby("model")
            if model in PENALTY}
    table = in_study_order(table[table["n"] > 0]).assign(lam=lambda t: t["model"].map(lams))
    return table[["model", "label", "lam", "epsilon", "metric", "n", "mean", "std", "ci_low", "ci_high"]]


def robustness_gap(points: pd.DataFrame) -> pd.DataFrame:
    """Per model and certificate, how much of the attack's distance it certifies: per seed
    the median, over the test points classified correctly and broken by the attack, of
    radius / distance (1: the certificate reaches the distance at which the attack found a
    misclassified point), then summarised over seeds."""
    broken = points[(points["distance"] > 0) & np.isfinite(points["distance"])]
    radii = [c for c in ROBUST_MEASURES if c != "distance"]
    ratios = broken[["seed", "model"]].assign(**{c: broken[c] / broken["distance"] for c in radii})
    per_seed = ratios.groupby(["seed", "model"], sort=False)[radii].median().reset_index()
    table = summary_by(per_seed, ["model"], radii)
    return in_study_order(table[table["n"] > 0])[["model", "label", "metric", "n", "mean", "std", "ci_low", "ci_high"]]


def load_reference(path: str) -> dict:
    """The notebook's printed values and settings (report/notebook_reference.yaml)."""
    with open(path) as handle:
        return yaml.safe_load(handle)


def make_tables(metrics: pd.DataFrame, selection: pd.DataFrame, curves: pd.DataFrame, robustness: pd.DataFrame,
                config: dict, reference: dict, cell: dict) -> dict:
    """Every table of the report, by output name: the sweep's of every cell, the others
    of ``cell``. ``config``: the study's config as ``cell`` sees it, or at least its keys
    that ``reference["settings"]`` names (``test_fraction`` among them) and ``robustness``."""
    # One split's test and training sizes, as the corrected t needs them.
    test_over_train = config["test_fraction"] / (1 - config["test_fraction"])
    sweep = sweep_summary(metrics)
    metrics, selection, curves, robustness = (in_cell(frame, cell) for frame in (metrics, selection, curves, robustness))
    return {
        "comparison_chosen": comparison_table(metrics, chosen=True),
        "comparison_notebook": comparison_table(metrics, chosen=False, reference=reference["rows"]),
        "paired_differences": paired_table(metrics, test_over_train),
        "lambda_selection": lambda_selection(metrics, selection, test_over_train),
        "convergence": convergence_table(curves),
        "fidelity": fidelity_table(metrics, reference["rows"]),
        "fidelity_settings": settings_differences(config, reference["settings"]),
        "diverged": diverged_table(metrics, selection),
        "robustness": robustness_table(robustness, config["robustness"]["table_epsilons"]),
        "robustness_gap": robustness_gap(robustness),
        "sweep": sweep,
    }


def run(metrics_path: str, selection_path: str, curves_path: str, robustness_path: str, settings: dict, outputs: dict,
        reference_path: str, cell: dict) -> None:
    """Write each table that ``outputs`` names (name -> path)."""
    tables = make_tables(pd.read_csv(metrics_path), pd.read_csv(selection_path), pd.read_csv(curves_path),
                         pd.read_csv(robustness_path), settings, load_reference(reference_path), cell)
    unknown = sorted(set(outputs) - set(tables))
    if unknown:
        raise KeyError(f"no table named {', '.join(unknown)} (known: {', '.join(tables)})")
    for name, path in outputs.items():
        io.write_csv(tables[name], path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--metrics", required=True, help="results/metrics.csv")
    parser.add_argument("--selection", required=True, help="results/selection.csv")
    parser.add_argument("--curves", required=True, help="results/curves.csv")
    parser.add_argument("--robustness", required=True, help="results/robustness.csv")
    parser.add_argument("--reference", default="report/notebook_reference.yaml", help="the notebook's printed values")
    parser.add_argument("--out", required=True, nargs="+", metavar="NAME=PATH", help="tables to write")
    config.add_config_arguments(parser)
    args = parser.parse_args(argv)
    study = config.load_config(args.config, args.schema)
    run(args.metrics, args.selection, args.curves, args.robustness, config.cell_config(study),
        dict(item.split("=", 1) for item in args.out), args.reference, config.cells(study)[0])


if __name__ == "__main__":
    if "snakemake" in globals():
        io.setup_logging(snakemake.log[0])
        inp = snakemake.input
        run(inp.metrics, inp.selection, inp.curves, inp.robustness, snakemake.params.settings,
            dict(snakemake.output.items()), inp.reference, snakemake.params.cell)
    else:
        main()
