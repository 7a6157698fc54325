"""The report's tables, computed from the study's results files.

- ``comparison_chosen.csv``: the models after training, each penalised network at the λ
  chosen on validation data (the ``selected`` rows of metrics.csv), one λ per seed: mean,
  standard deviation, n and, for the accuracies, the corrected resampled t interval over
  seeds (:func:`normbound.summary.summarise`; none from fewer than its minimum of seeds). A norm is
  not averaged over networks trained with different λ: where the seeds chose different
  λ, the model's row keeps the accuracies (the selection procedure's) and every chosen λ
  gets a row of its own (``per_lambda``) with the seeds that chose it. ``lams``: each row's
  λ with its number of seeds (:func:`chosen_lambdas`), which the report prints.
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
  (results/robustness.csv, :func:`normbound.summary.robust_accuracy`), mean and corrected
  interval over seeds; ``robustness_gap.csv``: how much of the attack's distance
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

import json
import math

import numpy as np
import pandas as pd
import yaml

from normbound import LABELS, MODELS, NETWORKS, PENALTY, entry, findings, io, layout
from normbound import config as study_config
from normbound.summary import (CERTIFICATES, PAIRS, ROBUST_MEASURES, TAIL_FRACTION, comparison_rows, holm, in_cell, paired_difference,
                               robust_accuracy, summary_by, sweep_summary, ties, trained, usable,
                               usable_points, seed_accuracy)
from normbound.summary import COMPARATOR_PAIRS, NOTEBOOK_PAIRS

# The comparison's columns: the notebook's, with the notebook's Grad variant beside the
# true gradient and the spectral bound beside the mixed norm.
METRICS = ("train_acc", "test_acc", "grad", "grad_notebook", "mix_norm", "spectral_bound", "frob_bound")
# Quantities of the weights: their mean over networks trained with different λ means nothing.
PER_LAMBDA = ("grad", "grad_notebook", "mix_norm", "spectral_bound", "frob_bound")
# The column of report/notebook_reference.yaml that each metric is compared with; the
# notebook's "grad" differentiates the unpooled activations, as grad_notebook does.
NOTEBOOK_COLUMN = {"train_acc": "train_acc", "test_acc": "test_acc", "grad_notebook": "grad",
                   "mix_norm": "mix_norm", "frob_bound": "frob_bound"}
# A network "ends above its best" when its last objective exceeds its lowest logged one by more.
EXCESS_THRESHOLD = 0.02


def chosen_lambdas(lams: pd.Series) -> str:
    """The λ of a table row's networks (one per seed): a JSON list of ``[λ, seeds]``, the
    smallest λ first, empty for a model without λ; the report's views print it."""
    return json.dumps([[float(lam), int(count)] for lam, count in lams.dropna().value_counts().sort_index().items()])


COMPARISON_COLUMNS = ["row", "model", "label", "lams", "per_lambda", "n_diverged", "n_unconverged", "metric", "n", "mean",
                      "std", "ci_low", "ci_high", "notebook"]
# The metrics that estimate a generalisation quantity, which get the corrected interval;
# the others (Grad, the norms) are shown with their spread over seeds only.
ESTIMATES = ("train_acc", "test_acc")


def comparison_table(metrics: pd.DataFrame, chosen: bool, test_over_train: float, reference=None) -> pd.DataFrame:
    """Mean, std and n per table row and metric, with the corrected interval of the mean
    for the accuracies (:func:`normbound.summary.summarise`); networks that diverged or did
    not converge are counted in ``n_diverged`` and ``n_unconverged`` and left out of the
    statistics. ``reference``: the notebook's printed rows (see :func:`load_reference`),
    joined as ``notebook``."""
    rows = comparison_rows(metrics, chosen)
    diverged = rows["diverged"].astype(bool)
    unconverged = ~usable(rows) & ~diverged
    # Left-out values become NaN rather than dropped rows: a model whose every network
    # diverged keeps its row, with n = 0.
    rows = rows.assign(**{m: rows[m].where(usable(rows)) for m in METRICS}, diverged=diverged, unconverged=unconverged)
    printed = {} if reference is None else {(r["model"], m): r.get(c, math.nan) for r in reference
                                            if r["phase"] == "after" for m, c in NOTEBOOK_COLUMN.items()}
    parts = []

    def add(part, per_lambda):
        estimates = [m for m in METRICS if m in ESTIMATES]
        table = pd.concat([summary_by(part, ["model"], estimates, test_over_train),
                           summary_by(part, ["model"], [m for m in METRICS if m not in ESTIMATES])])
        table = table.set_index("metric").loc[list(METRICS)].reset_index()
        table["notebook"] = [printed.get((m, metric), math.nan) for m, metric in zip(table["model"], table["metric"])]
        parts.append(table.assign(row=len(parts), lams=chosen_lambdas(part["lam"]), per_lambda=per_lambda,
                                  n_diverged=int(part["diverged"].sum()), n_unconverged=int(part["unconverged"].sum())))

    for model in (m for m in MODELS if m in set(rows["model"])):
        mine = rows[rows["model"] == model]
        several = mine["lam"].nunique() > 1
        add(mine.assign(**{m: math.nan for m in PER_LAMBDA}) if several else mine, False)
        if several:
            for _, part in mine.groupby("lam"):
                add(part, True)
    if not parts:  # comparators alone have no row at the notebook's λ
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    table = pd.concat(parts, ignore_index=True)
    table["label"] = table["model"].map(LABELS)
    return table[COMPARISON_COLUMNS]


def tail_series(metrics: pd.DataFrame, curves: pd.DataFrame) -> dict:
    """Per (seed, model) of ``metrics``' rows: the test accuracy at each logged step of the
    tail of training (:data:`normbound.summary.TAIL_FRACTION`) of the network trained on
    the whole training set at that row's λ, indexed by step; a baseline, which has no
    curve, is its final accuracy at every step. Rows without a curve are missing."""
    logged = curves[curves["subset"] == "train"]
    tail = logged[logged["step"] >= (1 - TAIL_FRACTION) * logged["step"].max()] if len(logged) else logged
    by_network = {key: part.set_index("step")["test_acc"] for key, part in tail.groupby(["seed", "model", "lam"])}
    steps = sorted(set(tail["step"]))
    series = {}
    for row in metrics.to_dict("records"):
        if row["model"] in NETWORKS:
            found = by_network.get((row["seed"], row["model"], row["lam"]))
            if found is not None:
                series[(row["seed"], row["model"])] = found
        elif steps:
            series[(row["seed"], row["model"])] = pd.Series(row["test_acc"], index=steps)
    return series


PAIRED_COLUMNS = ["lambda_choice", "model", "other", "label", "test_over_train", "n", "mean", "std", "ci_low", "ci_high",
                  "t", "p", "p_holm", "wins", "losses", "ties", "sign_p", "sign_p_holm", "fluctuation", "tail_n",
                  "tail_mean", "tail_ci_low", "tail_ci_high", "tail_p_holm", "tail_wins", "tail_losses",
                  "tail_sign_p_holm"]


def paired_table(metrics: pd.DataFrame, curves: pd.DataFrame, test_over_train: float) -> pd.DataFrame:
    """Test accuracy of each pair of :data:`PAIRS` present, differenced per seed, at the
    chosen λ (first: the honest comparison) and at the notebook's λ; each is a family whose
    p-values are Holm-adjusted together. Beside the last step's difference: ``fluctuation``,
    the median over seeds of the step-to-step sd of the difference over the tail of
    training, and the same comparison of the tail-averaged accuracies (``tail_*``). Seeds
    where either network diverged or did not converge are left out."""
    rows = []
    for choice, chosen in (("chosen", True), ("notebook", False)):
        after = comparison_rows(metrics, chosen)
        after = after[usable(after)]
        accuracy = seed_accuracy(after)
        series = tail_series(after, curves)
        family = []
        for model, other in PAIRS:
            if model in accuracy and other in accuracy:
                both = accuracy[[model, other]].dropna().index
                moves = [series[(seed, model)] - series[(seed, other)] for seed in both
                         if (seed, model) in series and (seed, other) in series]
                tail = paired_difference([m.mean() for m in moves], test_over_train)
                family.append(dict(lambda_choice=choice, model=model, other=other,
                                   label=f"{LABELS[model]} − {LABELS[other]}", test_over_train=test_over_train,
                                   **paired_difference(accuracy.loc[both, model] - accuracy.loc[both, other],
                                                       test_over_train),
                                   fluctuation=float(np.median([m.std(ddof=1) for m in moves])) if moves else math.nan,
                                   **{f"tail_{k}": tail[k] for k in ("n", "mean", "ci_low", "ci_high", "p", "wins",
                                                                     "losses", "sign_p")}))
        rows += adjusted(family, ("p", "sign_p", "tail_p", "tail_sign_p"))
    return pd.DataFrame(rows, columns=PAIRED_COLUMNS)


def adjusted(family: list, columns) -> list:
    """The rows of one family of comparisons with each p-value column Holm-adjusted
    across them, as ``<column>_holm``."""
    for column in columns:
        for row, value in zip(family, holm([row[column] for row in family])):
            row[f"{column}_holm"] = value
    return family


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
    test = trained(metrics)
    kfold = "holdout_selected" in selection
    for model in (m for m in PENALTY if m in set(selection["model"])):
        mine = selection[(selection["model"] == model) & ~selection["diverged"].astype(bool)]
        choices = dict(selections=int(mine["selected"].astype(bool).sum()),
                    **tie_counts(mine, "val_acc", "val_loss"))
        compared = dict(holdout_tied_accuracy=math.nan, kfold_changed=math.nan,
                        **{f"kfold_{k}": math.nan for k in ("n", "mean", "ci_low", "ci_high")})
        if kfold:
            compared["holdout_tied_accuracy"] = tie_counts(mine, "holdout_val_acc", "holdout_val_loss")["tied_accuracy"]
            accuracy = test[test["model"] == model].set_index(["seed", "lam"])["test_acc"]
            lam = {c: mine[mine[c].astype(bool)].set_index("seed")["lam"] for c in ("selected", "holdout_selected")}
            both = lam["selected"].index.intersection(lam["holdout_selected"].index)
            compared["kfold_changed"] = int((lam["selected"][both] != lam["holdout_selected"][both]).sum())
            difference = [accuracy[(seed, lam["selected"][seed])] - accuracy[(seed, lam["holdout_selected"][seed])]
                          for seed in both]
            paired = paired_difference(difference, test_over_train)
            compared.update({f"kfold_{k}": paired[k] for k in ("n", "mean", "ci_low", "ci_high")})
        mine_test = test[test["model"] == model]
        mean_test = mine_test.groupby("lam")["test_acc"].mean()
        ranks = mean_test.rank(ascending=False, method="min")
        notebook = mine_test.loc[mine_test["notebook_lambda"].astype(bool), "lam"]
        lam = notebook.iloc[0] if len(notebook) else math.nan
        at_notebook = mine_test[mine_test["lam"] == lam]
        seed0 = mine_test[mine_test["seed"] == 0].set_index("lam")["test_acc"]
        rows.append(dict(model=model, label=LABELS[model], **choices, grid=len(mean_test),
                         best_test_lam=mean_test.idxmax() if len(mean_test) else math.nan,
                         notebook_lam=lam, notebook_rank=ranks.get(lam, math.nan),
                         best_minus_notebook=mean_test.max() - mean_test.get(lam, math.nan) if len(mean_test) else math.nan,
                         notebook_sd=at_notebook["test_acc"].std(ddof=1) if len(at_notebook) > 1 else math.nan,
                         seed0_notebook_acc=seed0.get(lam, math.nan),
                         seed0_best_lam=seed0.idxmax() if len(seed0) else math.nan,
                         seed0_best_acc=seed0.max() if len(seed0) else math.nan, **compared))
    return pd.DataFrame(rows, columns=["model", "label", "selections", "tied_accuracy", "tied_loss", "grid",
                                       "best_test_lam", "notebook_lam", "notebook_rank", "best_minus_notebook",
                                       "notebook_sd", "seed0_notebook_acc", "seed0_best_lam", "seed0_best_acc",
                                       "holdout_tied_accuracy",
                                       "kfold_changed", "kfold_n", "kfold_mean", "kfold_ci_low", "kfold_ci_high"])


def tie_counts(selection: pd.DataFrame, accuracy: str, loss: str) -> dict:
    """Of one penalty's choices (one per seed, diverged networks left out): how many were
    ties in ``accuracy``, and how many ties in ``loss`` as well (:func:`normbound.summary.ties`)."""
    counts = dict(tied_accuracy=0, tied_loss=0)
    for _, runs in selection.groupby("seed"):
        tied = ties(runs, accuracy, loss)
        counts["tied_accuracy"] += int(tied["accuracy"].sum() > 1)
        counts["tied_loss"] += int(tied["loss"].sum() > 1)
    return counts


def convergence_table(curves: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """Per network model, over its networks trained on the whole training set: how many
    did not converge (``converged`` of metrics.csv, diverged ones apart), how far the
    objective at the last logged step lies above the lowest logged one (median, largest,
    share above :data:`EXCESS_THRESHOLD`); and, for the networks at the notebook's λ, the
    mean objective and ‖W‖_Mix over seeds at the step where that mean is lowest and at
    the last step. Networks whose objective was ever not finite are left out."""
    network = ["seed", "lam"]
    after = metrics[metrics["phase"] == "after"]
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
        flags = after[after["model"] == model]
        not_converged = int((~usable(flags) & ~flags["diverged"].astype(bool)).sum())
        rows.append(dict(model=model, label=LABELS[model], networks=len(last), not_converged=not_converged,
                         converged_share=1 - not_converged / len(flags) if len(flags) else math.nan,
                         median_excess=excess.median(),
                         max_excess=excess.max(), threshold=EXCESS_THRESHOLD,
                         share_above=(excess > EXCESS_THRESHOLD).mean(),
                         **{f"{key}_{when}": mean.loc[step, column] if column else step
                            for when, step in at.items()
                            for key, column in (("step", None), ("objective", "objective"), ("mix_norm", "mix_norm"))}))
    return pd.DataFrame(rows, columns=["model", "label", "networks", "not_converged", "converged_share",
                                       "median_excess", "max_excess", "threshold",
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


def robustness_table(points: pd.DataFrame, epsilons, test_over_train: float) -> pd.DataFrame:
    """Per model and ε of ``epsilons``: robust accuracy under each certificate and the
    attack (:func:`normbound.summary.robust_accuracy`), summarised over seeds with the
    corrected interval; ``lams``: the λ the seeds chose (:func:`chosen_lambdas`). Measures
    a model does not have are left out."""
    accuracy = robust_accuracy(points, epsilons)
    table = summary_by(accuracy, ["model", "epsilon"], list(ROBUST_MEASURES.values()), test_over_train)
    lams = {model: chosen_lambdas(part.groupby("seed")["lam"].first()) for model, part in points.groupby("model")
            if model in PENALTY}
    table = in_study_order(table[table["n"] > 0]).assign(lams=lambda t: t["model"].map(lams).fillna("[]"))
    return table[["model", "label", "lams", "epsilon", "metric", "n", "mean", "std", "ci_low", "ci_high"]]


# The robust accuracies compared between models: by each model's own tightest certificate
# (the local one for a network, the kernel bound for the SVC) and by the attack.
ROBUST_COMPARED = ("certified_best", "empirical")


def robustness_paired(points: pd.DataFrame, epsilons, test_over_train: float) -> pd.DataFrame:
    """Per ε of ``epsilons`` (each a family, Holm-adjusted together) and measure of
    :data:`ROBUST_COMPARED`: every classifier's robust accuracy minus NN's on the same
    seeds, as :func:`normbound.summary.paired_difference`."""
    accuracy = robust_accuracy(points, epsilons)
    models = [m for m in MODELS if m in set(accuracy["model"]) and m != "nn"]
    rows = []
    for epsilon, at in accuracy.groupby("epsilon", sort=True):
        family = []
        for measure in ROBUST_COMPARED:
            wide = at.pivot(index="seed", columns="model", values=measure)
            for model in (m for m in models if "nn" in wide and m in wide):
                both = wide[[model, "nn"]].dropna()
                if len(both):
                    family.append(dict(epsilon=epsilon, measure=measure, model=model, other="nn",
                                       label=f"{LABELS[model]} − NN",
                                       **paired_difference(both[model] - both["nn"], test_over_train)))
        rows += adjusted(family, ("p", "sign_p"))
    return pd.DataFrame(rows, columns=["epsilon", "measure", "model", "other", "label", "n", "mean", "std", "ci_low",
                                       "ci_high", "t", "p", "p_holm", "wins", "losses", "ties", "sign_p", "sign_p_holm"])


def robustness_gap(points: pd.DataFrame) -> pd.DataFrame:
    """Per model and certificate, how much of the attack's distance it certifies: per seed
    the median, over the test points classified correctly and broken by the attack, of
    radius / distance (1: the certificate reaches the distance at which the attack found a
    misclassified point), then summarised over seeds (mean and spread)."""
    broken = points[(points["distance"] > 0) & np.isfinite(points["distance"])]
    radii = [c for c in ROBUST_MEASURES if c != "distance"]
    ratios = broken[["seed", "model"]].assign(**{c: broken[c] / broken["distance"] for c in radii})
    per_seed = ratios.groupby(["seed", "model"], sort=False)[radii].median().reset_index()
    table = summary_by(per_seed, ["model"], radii)
    return in_study_order(table[table["n"] > 0])[["model", "label", "metric", "n", "mean", "std", "ci_low", "ci_high"]]


# The quantities whose change under each penalty the findings report (question 4).
QUANTITIES = ("grad", "mix_norm", "spectral_bound", "frob_bound")


def quantity_ratios(metrics: pd.DataFrame, test_over_train: float) -> list:
    """Per penalised model and quantity of :data:`QUANTITIES`, at the λ chosen on
    validation data: the per-seed ratio to NN's on the same seed, compared on the log
    scale (:func:`normbound.summary.paired_difference` of the log ratios; ``estimate`` and
    the interval are back on the ratio scale: a geometric mean), one Holm family."""
    after = comparison_rows(metrics, chosen=True)
    after = after[usable(after)]
    family = []
    for quantity in QUANTITIES:
        wide = after.pivot(index="seed", columns="model", values=quantity)
        for model in (m for m in PENALTY if m in wide and "nn" in wide):
            both = wide[[model, "nn"]].dropna()
            logs = np.log(both[model] / both["nn"])
            family.append(dict(model=model, other="nn", quantity=quantity, **paired_difference(logs, test_over_train)))
    return adjusted(family, ("p", "sign_p"))


FINDINGS_COLUMNS = ["question", "claim", "model", "other", "quantity", "epsilon", "n", "estimate", "ci_low", "ci_high",
                    "p", "p_holm", "wins", "losses", "sign_p", "sign_p_holm", "fluctuation", "tail_estimate",
                    "verdict_key", "verdict"]
# The findings' questions (the report gives each its heading): the pairs of question 1-3
# come from the paired differences at the chosen λ.
QUESTION_PAIRS = {1: [(m, "nn") for m in PENALTY], 2: list(NOTEBOOK_PAIRS), 3: list(COMPARATOR_PAIRS)}


# A paired comparison's numbers that a finding carries as they are.
TESTS = ("n", "ci_low", "ci_high", "p", "p_holm", "wins", "losses", "sign_p", "sign_p_holm")


def tests_of(row: dict, keys=TESTS) -> dict:
    return {key: row[key] for key in keys}


def findings_table(paired: pd.DataFrame, ratios: list, robust: pd.DataFrame, robust_pairs: pd.DataFrame,
                   fidelity: pd.DataFrame, epsilon) -> pd.DataFrame:
    """The findings (:mod:`normbound.findings`), one row per claim, from the other tables:
    questions 1-3 from ``paired`` (chosen λ), 4 from ``ratios`` (:func:`quantity_ratios`),
    5 from the robustness tables at radius ``epsilon``, 6 from ``fidelity`` (seed 0)."""
    rows = []
    chosen = {(r["model"], r["other"]): r for r in paired[paired["lambda_choice"] == "chosen"].to_dict("records")}
    for question, pairs in QUESTION_PAIRS.items():
        for pair in (p for p in pairs if p in chosen):
            r = chosen[pair]
            key, words = findings.comparison_verdict(r, "better", "worse")
            tail = dict(r, n=r["tail_n"], mean=r["tail_mean"], ci_low=r["tail_ci_low"], ci_high=r["tail_ci_high"],
                        p_holm=r["tail_p_holm"], wins=r["tail_wins"], losses=r["tail_losses"],
                        sign_p_holm=r["tail_sign_p_holm"])
            tail_key = findings.comparison_verdict(tail)[0] if r["tail_n"] else "missing"
            words += findings.fluctuation_note(r) + findings.tail_note(key, tail_key)
            rows.append(dict(question=question, claim="difference", model=pair[0], other=pair[1], quantity="test_acc",
                             **tests_of(r), fluctuation=r["fluctuation"], estimate=r["mean"], tail_estimate=r["tail_mean"], verdict_key=key, verdict=words))
    for r in ratios:
        key, words = findings.comparison_verdict(r, bound=findings.log_ratio, null="×1")
        rows.append(dict(question=4, claim="ratio", model=r["model"], other="nn", quantity=r["quantity"], n=r["n"],
                         estimate=math.exp(r["mean"]), ci_low=math.exp(r["ci_low"]), ci_high=math.exp(r["ci_high"]),
                         **tests_of(r, ("p", "p_holm", "wins", "losses", "sign_p", "sign_p_holm")),
                         verdict_key=key, verdict=words))
    at = robust[robust["epsilon"] == epsilon]
    for r in at[at["metric"].isin(CERTIFICATES)].to_dict("records"):
        rows.append(dict(question=5, claim="certified", model=r["model"], quantity=r["metric"], epsilon=epsilon,
                         n=r["n"], estimate=r["mean"], ci_low=r["ci_low"], ci_high=r["ci_high"], verdict_key="share",
                         verdict=findings.share_words(r)))
    for r in robust_pairs[robust_pairs["epsilon"] == epsilon].to_dict("records"):
        key, words = findings.comparison_verdict(r, "more", "fewer")
        rows.append(dict(question=5, claim="difference", model=r["model"], other=r["other"], quantity=r["measure"],
                         epsilon=epsilon, estimate=r["mean"], **tests_of(r), verdict_key=key, verdict=words))
    for group, lines in findings.fidelity_drift(fidelity).items():
        key, words = findings.fidelity_verdict(lines["accuracy"], lines["norm"])
        rows.append(dict(question=6, claim=group, n=1, estimate=lines["accuracy"], tail_estimate=lines["norm"],
                         verdict_key=key, verdict=words))
    return pd.DataFrame(rows, columns=FINDINGS_COLUMNS)


def load_reference(path: str) -> dict:
    """The notebook's printed values and settings (report/notebook_reference.yaml)."""
    with open(path) as handle:
        return yaml.safe_load(handle)


def make_tables(metrics: pd.DataFrame, selection: pd.DataFrame, curves: pd.DataFrame, robustness: pd.DataFrame,
                config: dict, reference: dict, cell: dict) -> dict:
    """Every table of the report, by output name: the sweep's of every cell, the others
    of ``cell``. ``config``: :func:`normbound.config.table_settings`, the config's keys that
    ``reference["settings"]`` names (``test_fraction`` among them) and the table's ε."""
    # One split's test and training sizes, as the corrected t needs them.
    test_over_train = config["test_fraction"] / (1 - config["test_fraction"])
    sweep = sweep_summary(metrics)
    metrics, selection, curves, robustness = (in_cell(frame, cell) for frame in (metrics, selection, curves, robustness))
    robustness = usable_points(robustness, metrics)
    epsilons = config["robustness"]["table_epsilons"]
    tables = {
        "comparison_chosen": comparison_table(metrics, True, test_over_train),
        "comparison_notebook": comparison_table(metrics, False, test_over_train, reference=reference["rows"]),
        "paired_differences": paired_table(metrics, curves, test_over_train),
        "lambda_selection": lambda_selection(metrics, selection, test_over_train),
        "convergence": convergence_table(curves, metrics),
        "fidelity": fidelity_table(metrics, reference["rows"]),
        "fidelity_settings": settings_differences(config, reference["settings"]),
        "diverged": diverged_table(metrics, selection),
        "robustness": robustness_table(robustness, epsilons, test_over_train),
        "robustness_paired": robustness_paired(robustness, epsilons, test_over_train),
        "robustness_gap": robustness_gap(robustness),
        "sweep": sweep,
    }
    # The findings read the middle radius of the robustness table, as its words do.
    tables["findings"] = findings_table(tables["paired_differences"], quantity_ratios(metrics, test_over_train),
                                        tables["robustness"], tables["robustness_paired"], tables["fidelity"],
                                        sorted(epsilons)[len(epsilons) // 2])
    return tables


def run(metrics: str, selection: str, curves: str, robustness: str, reference: str, settings: dict, cell: dict,
        outputs: dict) -> None:
    """Write each table that ``outputs`` names (name -> path)."""
    tables = make_tables(pd.read_csv(metrics), pd.read_csv(selection), pd.read_csv(curves), pd.read_csv(robustness),
                         settings, load_reference(reference), cell)
    unknown = sorted(set(outputs) - set(tables))
    if unknown:
        raise KeyError(f"no table named {', '.join(unknown)} (known: {', '.join(tables)})")
    for name, path in outputs.items():
        io.write_csv(tables[name], path)


SCRIPT = entry.Script(
    __doc__, run,
    **{name: entry.inp(f"the study's {name}.csv", default=path)
       for name, path in (("metrics", layout.METRICS), ("selection", layout.SELECTION), ("curves", layout.CURVES),
                          ("robustness", layout.ROBUSTNESS))},
    reference=entry.inp("the notebook's printed values and settings", default="report/notebook_reference.yaml"),
    # By hand, the settings that the --reference file names.
    settings=entry.Arg(lambda smk, name: smk.params.settings,
                       by_hand=lambda args, name, config: study_config.table_settings(
                           config, load_reference(args.reference)["settings"]), reads_config=True),
    cell=entry.REPORT_CELL,
    outputs=entry.Arg(lambda smk, name: dict(smk.output.items()),
                      dict(required=True, nargs="+", metavar="NAME=PATH", help="tables to write"),
                      lambda args, name, config: dict(item.split("=", 1) for item in args.outputs), flag="--out"),
)
main = SCRIPT.main

if __name__ == "__main__":
    SCRIPT.start(globals())
