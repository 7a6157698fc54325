"""Summaries over seeds, shared by the report's tables and figures.

- :func:`summarise`: n, mean, sample standard deviation and a 95 % percentile bootstrap
  interval of the mean. The bootstrap resamples the seeds, so its interval stays inside
  the range of the values: an accuracy's never passes 1, a norm's never falls below 0,
  which a Student-t interval over a few seeds does.
- :func:`robust_accuracy`: per seed, the fraction of test points robust at each radius ε
  under each certificate and under the attack (results/robustness.csv), which
  :func:`summary_by` then summarises over seeds like any accuracy.
- :func:`paired_difference`: the mean difference of two models over the same seeds with
  the corrected resampled t interval of Nadeau and Bengio (2003). Every seed splits the
  same data again, so the seeds' test sets overlap and their differences are correlated;
  the plain paired t-interval would be too narrow.
- :func:`in_cell` picks one study cell's rows; :func:`sweep_summary` summarises every
  cell's headline quantities for the report's sweep section.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
# The t distribution through scipy.special, which scipy.stats itself calls (stdtrit for the
# quantile, stdtr for the tail): the same numbers without importing scipy.stats, a second
# of start-up in every job that summarises.
from scipy.special import stdtr, stdtrit

from . import NETWORKS, PENALTY, SWEEP_AXES

# Resamples of the bootstrap; drawn from a generator seeded with 0 on every call, so a
# table is the same on every run and does not depend on the order groups are summarised in.
BOOTSTRAP_RESAMPLES = 10_000


def bootstrap_interval(x: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``x`` (finite, at least two values)."""
    draws = np.random.default_rng(0).integers(0, len(x), size=(BOOTSTRAP_RESAMPLES, len(x)))
    tail = (1 - confidence) / 2
    # A resample's mean lies within the values; the clip only undoes the last bit of a sum's rounding.
    low, high = np.clip(np.quantile(x[draws].mean(axis=1), [tail, 1 - tail]), x.min(), x.max())
    return float(low), float(high)


def summarise(values, confidence: float = 0.95) -> dict:
    """n, mean, sample standard deviation (ddof 1) and the percentile bootstrap interval
    of the mean of the finite ``values``; the spread is NaN below two values."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    low, high = bootstrap_interval(x, confidence) if n > 1 else (math.nan, math.nan)
    return dict(n=n, mean=x.mean() if n else math.nan, std=x.std(ddof=1) if n > 1 else math.nan,
                ci_low=low, ci_high=high)


def summary_by(frame: pd.DataFrame, keys: list, metrics) -> pd.DataFrame:
    """:func:`summarise` of each metric per group of ``keys``: one row per group and metric."""
    rows = [{**dict(zip(keys, group if isinstance(group, tuple) else (group,))), "metric": metric,
             **summarise(part[metric])}
            for group, part in frame.groupby(keys, sort=True) for metric in metrics]
    return pd.DataFrame(rows, columns=[*keys, "metric", "n", "mean", "std", "ci_low", "ci_high"])


def paired_difference(differences, test_over_train: float, confidence: float = 0.95) -> dict:
    """Mean of per-seed ``differences`` of accuracies with the corrected resampled t of
    Nadeau and Bengio: the variance of the mean is (1/n + n_test/n_train)·s² instead of s²/n, with
    ``test_over_train`` = n_test/n_train of one split. Returns n, mean, std, the interval,
    t and the two-sided p-value (NaN below two differences)."""
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    n = len(d)
    out = dict(n=n, mean=d.mean() if n else math.nan, std=math.nan, ci_low=math.nan, ci_high=math.nan,
               t=math.nan, p=math.nan)
    if n > 1:
        # The differences are of accuracies (fractions k/n_test): a real spread between seeds
        # is at least 1/n_test, while the same change on every seed, from different
        # accuracies, differs by rounding (about 1e-16). That is sd 0, not a t of 1e14.
        out["std"] = 0.0 if np.ptp(d) <= 1e-12 else d.std(ddof=1)
        se = math.sqrt(1 / n + test_over_train) * out["std"]
        half = stdtrit(n - 1, (1 + confidence) / 2) * se
        out.update(ci_low=out["mean"] - half, ci_high=out["mean"] + half)
        if se > 0:
            out["t"] = out["mean"] / se
            out["p"] = 2 * stdtr(n - 1, -abs(out["t"]))
    return out


def trained(metrics: pd.DataFrame) -> pd.DataFrame:
    """The after-training rows, diverged networks left out."""
    return metrics[(metrics["phase"] == "after") & ~metrics["diverged"].astype(bool)]


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
    """Per cell, model and phase, over seeds (:func:`summarise`, diverged networks left
    out): the test accuracy of every model after training at the λ chosen on validation
    data (``lambda_choice`` "chosen"), and the networks' :data:`SWEEP_NORMS` before and
    after training at the notebook's λ ("notebook"), ``mix_over_frob`` being
    ‖W‖_Mix/(√h‖W‖_F) per network.

    The norms are taken at one fixed λ, not at the chosen one: the chosen λ may differ
    between seeds and between cells, and a norm moves with λ by orders of magnitude, so a
    trend against an axis would mix the axis's effect with λ's (the comparison tables
    never average a norm across λ either). Accuracy is what the choice of λ is for."""
    cell = list(SWEEP_AXES)
    fine = metrics[~metrics["diverged"].astype(bool)]
    accuracy = summary_by(comparison_rows(fine, chosen=True), [*cell, "model", "phase"], ["test_acc"])
    nets = fine[fine["model"].isin(NETWORKS) & fine["notebook_lambda"].astype(bool)]
    norms = summary_by(nets.assign(mix_over_frob=nets["mix_norm"] / nets["frob_bound"]), [*cell, "model", "phase"],
                       SWEEP_NORMS)
    return pd.concat([accuracy.assign(lambda_choice="chosen"), norms.assign(lambda_choice="notebook")],
                     ignore_index=True)


# Columns of results/robustness.csv -> the robust accuracy they give: a certified radius
# (the three global bounds, the local certificate) or the attack's distance.
ROBUST_MEASURES = {"radius_mix": "certified_mix", "radius_spectral": "certified_spectral",
                   "radius_frob": "certified_frob", "radius_local": "certified_local", "distance": "empirical"}


def robust_accuracy(points: pd.DataFrame, epsilons) -> pd.DataFrame:
    """Per seed, model and ε of ``epsilons``: the fraction of test points that are correctly
    classified and robust at ε, i.e. whose radius (certified) or attack distance
    (empirical) exceeds ε; one column per :data:`ROBUST_MEASURES` value. A classifier
    without a certificate (empty radii: the SVC) gets NaN there. Misclassified points have
    radius and distance 0, so at ε = 0 every column is the clean accuracy."""
    rows = []
    for (seed, model), part in points.groupby(["seed", "model"], sort=False):
        for epsilon in epsilons:
            rows.append(dict(seed=seed, model=model, lam=part["lam"].iloc[0], epsilon=epsilon,
                             **{name: (part[column] > epsilon).mean() if part[column].notna().all() else math.nan
                                for column, name in ROBUST_MEASURES.items()}))
    return pd.DataFrame(rows, columns=["seed", "model", "lam", "epsilon", *ROBUST_MEASURES.values()])
