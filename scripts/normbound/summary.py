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
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

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
    """Mean of per-seed ``differences`` with the corrected resampled t of Nadeau and Bengio:
    the variance of the mean is (1/n + n_test/n_train)·s² instead of s²/n, with
    ``test_over_train`` = n_test/n_train of one split. Returns n, mean, std, the interval,
    t and the two-sided p-value (NaN below two differences)."""
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    n = len(d)
    out = dict(n=n, mean=d.mean() if n else math.nan, std=math.nan, ci_low=math.nan, ci_high=math.nan,
               t=math.nan, p=math.nan)
    if n > 1:
        out["std"] = d.std(ddof=1)
        se = math.sqrt(1 / n + test_over_train) * out["std"]
        half = stats.t.ppf((1 + confidence) / 2, n - 1) * se
        out.update(ci_low=out["mean"] - half, ci_high=out["mean"] + half)
        if se > 0:
            out["t"] = out["mean"] / se
            out["p"] = 2 * stats.t.sf(abs(out["t"]), n - 1)
    return out


def trained(metrics: pd.DataFrame) -> pd.DataFrame:
    """The after-training rows, diverged networks left out."""
    return metrics[(metrics["phase"] == "after") & ~metrics["diverged"].astype(bool)]


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
