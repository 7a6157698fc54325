"""Summaries over seeds, one statistical standard for every table and figure.

The seeds split the same data again and again, so their test sets (and training sets)
overlap and their results are correlated: a plain interval over seeds treats them as
independent and is too narrow. Every interval here is therefore the **corrected resampled
t** of Nadeau and Bengio (2003): the variance of a mean over n seeds is
(1/n + n_test/n_train)·s² instead of s²/n, with n − 1 degrees of freedom. Under the model
behind it (equicorrelated normal results, correlation n_test/(n_test + n_train)) its
coverage is exact; ``tests/test_statistics.py`` checks that by simulation.

- :func:`summarise`: n, mean, sample standard deviation and, for an estimate of a
  generalisation quantity (an accuracy, a robust accuracy: pass ``test_over_train``), the
  corrected interval of the mean. Quantities of the weights (norms, Grad) get none: their
  sd is shown as what it is, the spread over seeds.
- No interval from fewer than :data:`MIN_SEEDS` values: with two seeds the sd rests on one
  difference and t's quantile on one degree of freedom is 12.7, so "95 %" would only
  restate the two values; the report shows the values instead.
- :func:`paired_difference`: the mean difference of two models over the same seeds with
  the corrected interval, its t and p, and beside it the seed-by-seed view: wins, losses
  and ties with the exact two-sided sign test (:func:`sign_test`), which makes no
  assumption about the size of the differences. :func:`holm` adjusts a family's p-values.
- :func:`robust_accuracy`: per seed, the fraction of test points robust at each radius ε
  under each certificate and under the attack (results/robustness.csv).
- :func:`in_cell` picks one study cell's rows; :func:`sweep_summary` summarises every
  cell's headline quantities for the report's sweep section.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
# The t distribution through scipy.special, which scipy.stats itself calls (stdtrit for the
# quantile, stdtr for the tail): the same numbers without importing scipy.stats, a second
# of start-up in every job that summarises.
from scipy.special import bdtr, stdtr, stdtrit

from . import NETWORKS, PENALTY, SWEEP_AXES
from .penalties import COMPARED_WITH, PENALTIES, comparators, notebook

# The level of every interval in the report; the words print it from here.
CONFIDENCE = 0.95
# The fewest values an interval is computed from (see the module's docstring).
MIN_SEEDS = 3
# The tail of a training run: its last fifth of steps, over which the tail-averaged metrics
# and the within-run fluctuation are taken (the logged curve points there).
TAIL_FRACTION = 0.2
# The significance level of the findings' verdicts, applied to Holm-adjusted p-values.
ALPHA = 0.05


def corrected_interval(mean: float, std: float, n: int, test_over_train: float,
                       confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """The corrected resampled t interval of a mean of ``n`` values with sample sd ``std``,
    and its standard error: (low, high, se); NaN below :data:`MIN_SEEDS` values."""
    if n < MIN_SEEDS:
        return math.nan, math.nan, math.nan
    se = math.sqrt(1 / n + test_over_train) * std
    half = stdtrit(n - 1, (1 + confidence) / 2) * se
    return mean - half, mean + half, se


def summarise(values, test_over_train: float | None = None, confidence: float = CONFIDENCE) -> dict:
    """n, mean and sample standard deviation (ddof 1) of the finite ``values``; with
    ``test_over_train`` (n_test/n_train of one split) also the corrected interval of the
    mean (:func:`corrected_interval`), else NaN there. Every such estimate here is a share
    (an accuracy, a robust accuracy), so its interval is cut to [0, 1]: the mean lies there,
    and the cut interval covers it whenever the whole one does."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    mean = x.mean() if n else math.nan
    std = x.std(ddof=1) if n > 1 else math.nan
    low = high = math.nan
    if test_over_train is not None:
        low, high, _ = corrected_interval(mean, std, n, test_over_train, confidence)
        low, high = max(low, 0.0), min(high, 1.0)  # NaN (too few values) stays NaN
    return dict(n=n, mean=mean, std=std, ci_low=low, ci_high=high)


def summary_by(frame: pd.DataFrame, keys: list, metrics, test_over_train: float | None = None) -> pd.DataFrame:
    """:func:`summarise` of each metric per group of ``keys``: one row per group and metric."""
    rows = [{**dict(zip(keys, group if isinstance(group, tuple) else (group,))), "metric": metric,
             **summarise(part[metric], test_over_train)}
            for group, part in frame.groupby(keys, sort=True) for metric in metrics]
    return pd.DataFrame(rows, columns=[*keys, "metric", "n", "mean", "std", "ci_low", "ci_high"])


def sign_test(differences) -> dict:
    """Wins (> 0), losses (< 0) and ties (exactly 0) of per-seed ``differences``, and the
    exact two-sided sign test's p of wins against losses (ties dropped): 2·P(X ≤ min) for
    X ~ Binomial(wins + losses, ½), at most 1; NaN without a win or a loss."""
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    # A difference of accuracies that is zero up to rounding is a tie (see paired_difference).
    wins, losses = int((d > 1e-12).sum()), int((d < -1e-12).sum())
    decided = wins + losses
    p = min(1.0, 2 * float(bdtr(min(wins, losses), decided, 0.5))) if decided else math.nan
    return dict(wins=wins, losses=losses, ties=len(d) - decided, sign_p=p)


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjustment of one family's p-values (NaN stays NaN and does not
    count): the k-th smallest of m is multiplied by m − k + 1, made monotone, capped at 1."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, math.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = len(order)
    running = 0.0
    for k, index in enumerate(order):
        running = max(running, min(1.0, (m - k) * p[index]))
        out[index] = running
    return out


def paired_difference(differences, test_over_train: float, confidence: float = CONFIDENCE) -> dict:
    """Mean of per-seed ``differences`` with the corrected resampled t interval (see the
    module's docstring), t and its two-sided p (NaN below :data:`MIN_SEEDS` differences),
    and the sign test's wins, losses, ties and p (:func:`sign_test`)."""
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    n = len(d)
    out = dict(n=n, mean=d.mean() if n else math.nan, std=math.nan, ci_low=math.nan, ci_high=math.nan,
               t=math.nan, p=math.nan, **sign_test(d))
    if n > 1:
        # The differences are of accuracies (fractions k/n_test): a real spread between seeds
        # is at least 1/n_test, while the same change on every seed, from different
        # accuracies, differs by rounding (about 1e-16). That is sd 0, not a t of 1e14.
        out["std"] = 0.0 if np.ptp(d) <= 1e-12 else d.std(ddof=1)
        low, high, se = corrected_interval(out["mean"], out["std"], n, test_over_train, confidence)
        out.update(ci_low=low, ci_high=high)
        if se > 0:
            out["t"] = out["mean"] / se
            out["p"] = 2 * stdtr(n - 1, -abs(out["t"]))
    return out


def trained(metrics: pd.DataFrame) -> pd.DataFrame:
    """The after-training rows that enter a statistic: diverged and not converged networks
    left out (the report counts both)."""
    after = metrics[metrics["phase"] == "after"]
    return after[usable(after)]


def usable(rows: pd.DataFrame) -> pd.Series:
    """Per row: trained to a finite, settled end (neither diverged nor flagged not
    converged); the baselines have no training curve and count as converged."""
    converged = rows["converged"].fillna(True).astype(bool) if "converged" in rows else True
    return ~rows["diverged"].astype(bool) & converged


def usable_points(points: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """The robustness points (results/robustness.csv) of classifiers that enter the
    statistics: a network that diverged or did not converge is left out, as everywhere."""
    after = metrics[metrics["phase"] == "after"]
    bad = after.loc[~usable(after), ["seed", "model", "lam"]]
    if bad.empty:
        return points
    marked = points.merge(bad.assign(_bad=True), on=["seed", "model", "lam"], how="left")
    return points[marked["_bad"].isna().to_numpy()]


def ties(runs: pd.DataFrame, accuracy: str = "val_acc", loss: str = "val_loss") -> pd.DataFrame:
    """The selection rule's ties among one seed's networks of one penalty, one per λ, none
    diverged: per row, ``accuracy``: it has the best validation accuracy (column
    ``accuracy``); ``loss``: it has that and the lowest validation hinge loss among those
    (column ``loss``). λ is chosen among the latter, the largest (the simpler network)."""
    best = runs[accuracy] == runs[accuracy].max()
    return pd.DataFrame({"accuracy": best, "loss": best & (runs[loss] == runs.loc[best, loss].min())})


def in_cell(frame: pd.DataFrame, cell: dict) -> pd.DataFrame:
    """The rows of ``frame`` (a results table with the sweep columns) in ``cell``
    (``{axis: value}``); values compare exactly, as written from the config and read back."""
    pick = np.ones(len(frame), dtype=bool)
    for key, value in cell.items():
        pick &= (frame[key] == value).to_numpy()
    return frame[pick]


def along(frame: pd.DataFrame, axis: str, cell: dict) -> pd.DataFrame:
    """The rows of ``frame`` along sweep axis ``axis``, every other axis at ``cell``'s value."""
    return in_cell(frame, {key: value for key, value in cell.items() if key != axis})


# Paired comparisons of test accuracy: (model, minus model). The notebook's penalties
# against the unpenalised network, the SVC and each other; every other penalty against the
# unpenalised network and against the mixed-norm penalty, the bound it would replace.
_NOTEBOOK = [PENALTIES[key].model for key in notebook()]
_OTHERS = [PENALTIES[key].model for key in comparators()]
NOTEBOOK_PAIRS = tuple(itertools.combinations(_NOTEBOOK, 2))
COMPARATOR_PAIRS = tuple((m, PENALTIES[COMPARED_WITH].model) for m in _OTHERS)
PAIRS = (*((m, "nn") for m in _NOTEBOOK), *((m, "svc") for m in _NOTEBOOK), *NOTEBOOK_PAIRS,
         *((m, "nn") for m in _OTHERS), *COMPARATOR_PAIRS)


def seed_accuracy(rows: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy by seed (index) and model (columns) of comparison rows, one per seed
    and model (:func:`comparison_rows`, usable ones): what a paired difference subtracts."""
    return rows.pivot(index="seed", columns="model", values="test_acc")


def comparison_rows(metrics: pd.DataFrame, chosen: bool) -> pd.DataFrame:
    """The after-training rows a comparison summarises, diverged ones included:
    baselines, NN, and each penalty at the notebook's λ or (``chosen``) at the λ selected
    on validation data."""
    after = metrics[metrics["phase"] == "after"]
    penalised = after["model"].isin(list(PENALTY))
    return after[~penalised | after["selected" if chosen else "notebook_lambda"].astype(bool)]


# The sweep section's quantities of the networks: Grad, the two norms and their ratio.
SWEEP_NORMS = ("grad", "mix_norm", "frob_bound", "mix_over_frob")


def sweep_summary(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per cell, model and phase, over seeds (:func:`summarise`, networks that diverged or
    did not converge left out): the test accuracy of every model after training at the λ chosen on validation
    data (``lambda_choice`` "chosen"), and the networks' :data:`SWEEP_NORMS` before and
    after training at the notebook's λ ("notebook"), ``mix_over_frob`` being
    ‖W‖_Mix/(√h‖W‖_F) per network.

    The norms are taken at one fixed λ, not at the chosen one: the chosen λ may differ
    between seeds and between cells, and a norm moves with λ by orders of magnitude, so a
    trend against an axis would mix the axis's effect with λ's (the comparison tables
    never average a norm across λ either). Accuracy is what the choice of λ is for."""
    cell = list(SWEEP_AXES)
    fine = metrics[usable(metrics)]
    accuracy = summary_by(comparison_rows(fine, chosen=True), [*cell, "model", "phase"], ["test_acc"])
    nets = fine[fine["model"].isin(NETWORKS) & fine["notebook_lambda"].astype(bool)]
    norms = summary_by(nets.assign(mix_over_frob=nets["mix_norm"] / nets["frob_bound"]), [*cell, "model", "phase"],
                       SWEEP_NORMS)
    return pd.concat([accuracy.assign(lambda_choice="chosen"), norms.assign(lambda_choice="notebook")],
                     ignore_index=True)


# Columns of results/robustness.csv -> the robust accuracy they give: a certified radius
# (the networks' three global bounds and local certificate, the SVC's kernel bound) or the
# attack's distance.
ROBUST_MEASURES = {"radius_mix": "certified_mix", "radius_spectral": "certified_spectral",
                   "radius_frob": "certified_frob", "radius_local": "certified_local",
                   "radius_kernel": "certified_kernel", "distance": "empirical"}
# The certificates, by robust-accuracy name.
CERTIFICATES = tuple(name for name in ROBUST_MEASURES.values() if name.startswith("certified_"))


def robust_accuracy(points: pd.DataFrame, epsilons) -> pd.DataFrame:
    """Per seed, model and ε of ``epsilons``: the fraction of test points that are correctly
    classified and robust at ε, i.e. whose radius (certified) or attack distance
    (empirical) exceeds ε; one column per :data:`ROBUST_MEASURES` value, and
    ``certified_best``, by the largest radius of any certificate the classifier has. A
    certificate a classifier does not have (empty radii: the networks' for the SVC, the
    kernel's for a network) gets NaN there. Misclassified points have radius and distance
    0, so at ε = 0 every column is the clean accuracy."""
    radii = [column for column, name in ROBUST_MEASURES.items() if name in CERTIFICATES]
    rows = []
    for (seed, model), part in points.groupby(["seed", "model"], sort=False):
        best = part[[c for c in radii if part[c].notna().all()]].max(axis=1)
        for epsilon in epsilons:
            rows.append(dict(seed=seed, model=model, lam=part["lam"].iloc[0], epsilon=epsilon,
                             **{name: (part[column] > epsilon).mean() if part[column].notna().all() else math.nan
                                for column, name in ROBUST_MEASURES.items()},
                             certified_best=(best > epsilon).mean() if best.notna().all() else math.nan))
    return pd.DataFrame(rows, columns=["seed", "model", "lam", "epsilon", *ROBUST_MEASURES.values(), "certified_best"])
