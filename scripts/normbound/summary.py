"""Summaries over seeds, shared by the report's tables and figures: n, mean, sample
standard deviation and a confidence interval of the mean, per group."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats


def summarise(values, confidence: float = 0.95) -> dict:
    """n, mean, sample standard deviation (ddof 1) and the t-interval of the mean of the
    finite ``values``; the spread is NaN below two values."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    mean = x.mean() if n else math.nan
    std = x.std(ddof=1) if n > 1 else math.nan
    half = stats.t.ppf((1 + confidence) / 2, n - 1) * std / math.sqrt(n) if n > 1 else math.nan
    return dict(n=n, mean=mean, std=std, ci_low=mean - half, ci_high=mean + half)


def summary_by(frame: pd.DataFrame, keys: list, metrics) -> pd.DataFrame:
    """:func:`summarise` of each metric per group of ``keys``: one row per group and metric."""
    rows = [{**dict(zip(keys, group if isinstance(group, tuple) else (group,))), "metric": metric,
             **summarise(part[metric])}
            for group, part in frame.groupby(keys, sort=True) for metric in metrics]
    return pd.DataFrame(rows, columns=[*keys, "metric", "n", "mean", "std", "ci_low", "ci_high"])


def trained(metrics: pd.DataFrame) -> pd.DataFrame:
    """The after-training rows, diverged networks left out."""
    return metrics[(metrics["phase"] == "after") & ~metrics["diverged"].astype(bool)]
