"""The data protocol: load a dataset, split it as the notebook does for any seed, flip
training labels, normalise with training statistics. numpy only (pandas for a CSV file),
so the workflow can check a dataset while it parses, and a data job starts in a second.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import math
import os

import numpy as np

# Rows of scikit-learn's bundled breast-cancer set: the config check needs the count
# without reading the file.
BREAST_CANCER_ROWS = 569


class DataError(ValueError):
    """A dataset that cannot be used; the message says what is wrong for a person."""


def load_breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled Wisconsin set, read from its CSV file as
    ``sklearn.datasets.load_breast_cancer`` reads it (the same float64 values; a test
    checks it) without importing scikit-learn, which costs a light job seconds."""
    package = os.path.dirname(importlib.util.find_spec("sklearn").origin)
    with open(os.path.join(package, "datasets", "data", "breast_cancer.csv"), newline="") as handle:
        rows = csv.reader(handle)
        n, d = map(int, next(rows)[:2])
        values = np.asarray(list(rows), dtype=np.float64)
    assert values.shape == (n, d + 1) == (BREAST_CANCER_ROWS, 31), values.shape
    return np.ascontiguousarray(values[:, :-1]), 2.0 * values[:, -1] - 1.0


def load_dataset(source: str, target: str = "target", min_rows: int = 20):
    """Return ``(X, t)``: features float64 ``(n, d)`` and labels in {-1, +1}.

    ``source`` is ``breast_cancer`` (scikit-learn's bundled copy, no network needed) or
    the path of a CSV file with numeric feature columns and a binary ``target`` column.
    A binary target with values other than {-1, 1} is mapped in sorted order: the smaller
    value becomes -1 (so {0, 1} gives t = 2 * target - 1, as the notebook does).
    """
    if source == "breast_cancer":
        return load_breast_cancer()
    import pandas as pd

    if not os.path.isfile(source):
        raise DataError(f"dataset.source: no such file {source!r} (expected 'breast_cancer' or a CSV path)")
    try:
        frame = pd.read_csv(source)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataError(f"dataset.source: {source!r} is not a readable CSV file ({err})") from None
    if target not in frame.columns:
        raise DataError(
            f"dataset.target: column {target!r} not in {source!r} (columns: {', '.join(map(str, frame.columns))})"
        )
    # Rows first: an empty table has no column types to judge.
    if len(frame) < min_rows:
        raise DataError(f"dataset.source: {source!r} has {len(frame)} rows; the splits need at least {min_rows}")
    if frame.isna().any().any():
        bad = [str(c) for c in frame.columns if frame[c].isna().any()]
        raise DataError(f"dataset.source: {source!r} has missing values in column(s) {', '.join(bad)}")
    features = frame.drop(columns=[target])
    if features.shape[1] == 0:
        raise DataError(f"dataset.source: {source!r} has no feature columns besides {target!r}")
    # pandas' own test: numpy's issubdtype fails on pandas' string dtype instead of answering.
    non_numeric = [str(c) for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if non_numeric:
        raise DataError(f"dataset.source: {source!r} has non-numeric feature column(s) {', '.join(non_numeric)}")
    infinite = [str(c) for c in features.columns if not np.isfinite(features[c].to_numpy(dtype=np.float64)).all()]
    if infinite:
        raise DataError(f"dataset.source: {source!r} has infinite values in column(s) {', '.join(infinite)}")
    values = np.unique(frame[target].to_numpy())
    if len(values) != 2:
        raise DataError(
            f"dataset.target: column {target!r} must be binary (two distinct values), found {len(values)}"
        )
    t = np.where(frame[target].to_numpy() == values[1], 1.0, -1.0)
    # Row-major, as the bundled set's: pandas hands back column-major blocks, and the same
    # numbers in another memory order sum in another order (last-bit differences).
    return np.ascontiguousarray(features.to_numpy(dtype=np.float64)), t


def data_hash(X: np.ndarray, t: np.ndarray) -> str:
    """SHA-256 of the raw arrays, so a result can be traced to the exact data it used."""
    digest = hashlib.sha256()
    for array in (X, t):
        digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
    return digest.hexdigest()


def noisy_positions(n: int, rate: float) -> np.ndarray:
    """Positions flipped by label noise: evenly spaced, ``floor(i / rate)``.

    For rate 0.04 these are 0, 25, 50, ... -- exactly the notebook's ``[::25]``. The
    order they index is already a random permutation, so the flipped points are random.
    """
    if rate <= 0:
        return np.zeros(0, dtype=np.int64)
    positions = np.floor(np.arange(math.ceil(n * rate) + 1) / rate + 1e-9).astype(np.int64)
    return positions[positions < n]


def normalise(X_fit: np.ndarray, *others: np.ndarray):
    """Standardise with the statistics of ``X_fit`` alone (population std + 1e-9)."""
    mean, std = X_fit.mean(axis=0), X_fit.std(axis=0) + 1e-9
    return mean, std, [(X - mean) / std for X in (X_fit, *others)]


def split_sizes(n: int, test_fraction: float, validation_fraction: float) -> tuple[int, int]:
    """``(n_train, n_validation)`` for ``n`` rows: the first ``floor(n * (1 - test_fraction))``
    points of the permutation train, the last ``ceil(validation_fraction * n_train)`` of
    those validate. Raises :class:`DataError` when a part would hold fewer than 2 points."""
    n_train = int(math.floor(n * (1.0 - test_fraction) + 1e-9))
    n_val = int(math.ceil(validation_fraction * n_train - 1e-9))
    if min(n_train - n_val, n_val, n - n_train) < 2:
        raise DataError(
            f"dataset.source: {n} rows give {n_train - n_val} fit, {n_val} validation and "
            f"{n - n_train} test points; each needs at least 2 (more rows or other fractions)"
        )
    return n_train, n_val


def validation_parts(n_train: int, folds: int) -> np.ndarray:
    """For k-fold λ selection (``folds`` = k >= 2): the part, 1..k, that holds out each of
    the ``n_train`` training points, in contiguous blocks of sizes differing by at most
    one. The training set's order is already the seed's random permutation, so a block
    is a random sample, as the hold-out part (the last block) is."""
    return np.arange(n_train) * folds // n_train + 1


def split_data(X, t, seed: int, test_fraction: float, label_noise: float, validation_fraction: float):
    """The notebook's protocol for any seed: permute, split, flip, normalise.

    The permutation is ``numpy.random.RandomState(seed).permutation(n)``; the first
    ``floor(n * (1 - test_fraction))`` indices train, the rest test. Training labels at
    :func:`noisy_positions` are flipped; test labels stay clean. Training statistics alone
    normalise both sets. For λ selection the last ``ceil(validation_fraction * n_train)``
    training points form the validation part (``is_validation``); their labels keep their
    noise, since a user cannot tell which labels are wrong.
    """
    n = len(t)
    n_train, n_val = split_sizes(n, test_fraction, validation_fraction)
    order = np.random.RandomState(seed).permutation(n)
    train, test = order[:n_train], order[n_train:]
    t_train = t[train].copy()
    flipped = noisy_positions(n_train, label_noise)
    t_train[flipped] *= -1
    mean, std, (X_train, X_test) = normalise(X[train], X[test])
    arrays = dict(
        X_train=X_train, t_train=t_train, t_train_clean=t[train].copy(), X_test=X_test, t_test=t[test].copy(),
        is_validation=np.arange(n_train) >= n_train - n_val, train_index=train, test_index=test,
    )
    sidecar = dict(
        seed=seed, n=n, n_train=n_train, n_test=n - n_train, n_validation=n_val,
        label_noise=label_noise, flipped_positions=flipped.tolist(),
        flipped_indices=train[flipped].tolist(), mean=mean.tolist(), std=std.tolist(),
        raw_sha256=data_hash(X, t),
    )
    return arrays, sidecar


