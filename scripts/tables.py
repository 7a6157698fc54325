"""The report's tables, computed from the study's results files.

- ``comparison_notebook.csv``: the notebook's comparison (RForest, SVC, NN, NN+Frob and
  NN+Mix at the notebook's λ) as mean, standard deviation, n and a 95 % confidence
  interval over seeds, with the notebook's printed value beside each cell.
- ``comparison_chosen.csv``: the same with NN+Frob and NN+Mix at the λ chosen on
  validation data (the ``selected`` rows of metrics.csv), one λ per seed.
- ``fidelity.csv``: seed 0 (the notebook's split, noise and initialisation) against the
  notebook's printed numbers; ``fidelity_settings.csv``: config keys that differ from the
  notebook's settings, which would make that comparison meaningless.
- ``diverged.csv``: every network whose objective became NaN or infinite. Diverged
  networks are left out of every mean; the report lists them.

The tables are tidy (one row per table row and metric), so templates only format numbers.
Confidence intervals use Student's t with n - 1 degrees of freedom.

By hand:  python scripts/tables.py --metrics results/metrics.csv --selection results/selection.csv \
              --out comparison_notebook=/tmp/comparison_notebook.csv fidelity=/tmp/fidelity.csv
"""

import argparse
import math

import pandas as pd
import yaml

from normbound import LABELS, MODELS, NETWORKS, PENALTY, config, io
from normbound.summary import summary_by

# The comparison's columns, in the notebook's order.
METRICS = ("train_acc", "test_acc", "grad", "mix_norm", "frob_bound")
# Fidelity compares both gradient columns with the notebook's "Grad": grad_notebook
# repeats its computation, grad is the true gradient of f.
FIDELITY_METRICS = {"train_acc": "train_acc", "test_acc": "test_acc", "grad": "grad",
                    "grad_notebook": "grad", "mix_norm": "mix_norm", "frob_bound": "frob_bound"}


def comparison_rows(metrics: pd.DataFrame, chosen: bool) -> pd.DataFrame:
    """The after-training rows a comparison table summarises, diverged ones included:
    baselines, NN, and each penalty at the notebook's λ or (``chosen``) at the λ selected
    on validation data."""
    after = metrics[metrics["phase"] == "after"]
    penalised = after["model"].isin(list(PENALTY))
    return after[~penalised | after["selected" if chosen else "notebook_lambda"].astype(bool)]


def lambda_summary(lams: pd.Series) -> str:
    """The λ values of a table row: one value, or each value with its number of seeds."""
    counts = lams.dropna().value_counts().sort_index()
    if len(counts) <= 1:
        return "" if counts.empty else f"{counts.index[0]:g}"
    return ", ".join(f"{lam:g} ({count}×)" for lam, count in counts.items())


def comparison_table(metrics: pd.DataFrame, chosen: bool, reference=None) -> pd.DataFrame:
    """Mean, std, n and 95 % CI per model row and metric; diverged networks are counted in
    ``n_diverged`` and left out of the statistics. ``reference``: the notebook's printed
    rows (see :func:`load_reference`), joined as the ``notebook`` column."""
    rows = comparison_rows(metrics, chosen)
    diverged = rows["diverged"].astype(bool)
    # Diverged values become NaN rather than dropped rows: a model whose every network
    # diverged keeps its row, with n = 0.
    table = summary_by(rows.assign(**{m: rows[m].where(~diverged) for m in METRICS}), ["model"], METRICS)
    printed = {} if reference is None else {(r["model"], m): r.get(m, math.nan)
                                            for r in reference if r["phase"] == "after" for m in METRICS}
    table["notebook"] = [printed.get((model, metric), math.nan) for model, metric in zip(table["model"], table["metric"])]
    per_model = rows.groupby("model")
    table["label"] = table["model"].map(LABELS)
    table["lam"] = table["model"].map(lambda m: lambda_summary(per_model.get_group(m)["lam"]))
    table["n_diverged"] = table["model"].map(diverged.groupby(rows["model"]).sum()).astype(int)
    order = {m: i for i, m in enumerate(MODELS)}
    table = table.sort_values("model", key=lambda s: s.map(order), kind="stable")
    return table[["model", "label", "lam", "n_diverged", "metric", "n", "mean", "std", "ci_low", "ci_high", "notebook"]]


def fidelity_table(metrics: pd.DataFrame, reference, seed: int = 0) -> pd.DataFrame:
    """Seed ``seed`` against each of the notebook's printed values: one row per printed
    line and metric, with the difference study - notebook (empty when the seed is absent)."""
    ours = metrics[(metrics["seed"] == seed) & (metrics["notebook_lambda"] | ~metrics["model"].isin(NETWORKS))]
    rows = []
    for printed in reference:
        match = ours[(ours["model"] == printed["model"]) & (ours["phase"] == printed["phase"])]
        if match.empty:
            continue
        for metric, column in FIDELITY_METRICS.items():
            if column in printed:
                study = float(match[metric].iloc[0])
                rows.append(dict(model=printed["model"], phase=printed["phase"], label=LABELS[printed["model"]],
                                 metric=metric, notebook=printed[column], study=study,
                                 difference=study - printed[column]))
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


def load_reference(path: str) -> dict:
    """The notebook's printed values and settings (report/notebook_reference.yaml)."""
    with open(path) as handle:
        return yaml.safe_load(handle)


def make_tables(metrics: pd.DataFrame, selection: pd.DataFrame, config: dict, reference: dict) -> dict:
    """Every table of the report, by output name. ``config``: the study's config, or at
    least its keys that ``reference["settings"]`` names."""
    return {
        "comparison_notebook": comparison_table(metrics, chosen=False, reference=reference["rows"]),
        "comparison_chosen": comparison_table(metrics, chosen=True),
        "fidelity": fidelity_table(metrics, reference["rows"]),
        "fidelity_settings": settings_differences(config, reference["settings"]),
        "diverged": diverged_table(metrics, selection),
    }


def run(metrics_path: str, selection_path: str, settings: dict, outputs: dict, reference_path: str) -> None:
    """Write each table that ``outputs`` names (name -> path)."""
    tables = make_tables(pd.read_csv(metrics_path), pd.read_csv(selection_path), settings,
                         load_reference(reference_path))
    unknown = sorted(set(outputs) - set(tables))
    if unknown:
        raise KeyError(f"no table named {', '.join(unknown)} (known: {', '.join(tables)})")
    for name, path in outputs.items():
        io.write_csv(tables[name], path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--metrics", required=True, help="results/metrics.csv")
    parser.add_argument("--selection", required=True, help="results/selection.csv")
    parser.add_argument("--reference", default="report/notebook_reference.yaml", help="the notebook's printed values")
    parser.add_argument("--out", required=True, nargs="+", metavar="NAME=PATH", help="tables to write")
    config.add_config_arguments(parser)
    args = parser.parse_args(argv)
    run(args.metrics, args.selection, config.load_config(args.config, args.schema),
        dict(item.split("=", 1) for item in args.out), args.reference)


if __name__ == "__main__":
    if "snakemake" in globals():
        io.setup_logging(snakemake.log[0])
        run(snakemake.input.metrics, snakemake.input.selection, snakemake.params.settings,
            dict(snakemake.output.items()), snakemake.input.reference)
    else:
        main()
