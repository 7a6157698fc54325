"""The data protocol: the notebook's split, flipped labels and normalisation (REFERENCE §1)."""

import json
import math
from fractions import Fraction

import numpy as np
import pytest
from helpers import HOSTILE_CONFIG, HOSTILE_TARGET, SMALL_CONFIG, data_file, write_dataset_csv
from normbound import data as nb
from prepare_data import prepare_data
from theory_hessian import dataset_conditioning

DEFAULTS = dict(test_fraction=0.5, label_noise=0.04, validation_fraction=0.25)


@pytest.fixture(scope="module")
def raw():
    return nb.load_dataset("breast_cancer")


def test_bundled_set_is_scikit_learns(raw):
    # Read from scikit-learn's CSV file without importing scikit-learn: the same values.
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    np.testing.assert_array_equal(raw[0], bunch.data)
    np.testing.assert_array_equal(raw[1], 2.0 * bunch.target - 1.0)


def test_seed0_is_the_notebooks_split(raw):
    X, t = raw
    arrays, sidecar = nb.split_data(X, t, 0, **DEFAULTS)
    order = np.random.RandomState(0).permutation(569)
    np.testing.assert_array_equal(arrays["train_index"], order[:284])
    np.testing.assert_array_equal(arrays["test_index"], order[284:])
    # The notebook flips every 25th training label from index 0: 12 of 284.
    assert sidecar["flipped_positions"] == list(range(0, 284, 25))
    expected = t[order[:284]].copy()
    expected[::25] *= -1
    np.testing.assert_array_equal(arrays["t_train"], expected)
    np.testing.assert_array_equal(arrays["t_test"], t[order[284:]])
    mean, std = X[order[:284]].mean(0), X[order[:284]].std(0) + 1e-9
    np.testing.assert_array_equal(arrays["X_train"], (X[order[:284]] - mean) / std)
    np.testing.assert_array_equal(arrays["X_test"], (X[order[284:]] - mean) / std)


@pytest.mark.parametrize("rate", [0.04, 0.1, 0.07, 0.3, 0.45, 0.011])
def test_flipped_positions_are_floor_of_i_over_rate(rate):
    # Exact rational arithmetic: i / rate in floats misses (3 / 0.1 = 29.999999999999996).
    n = 284
    expected = [math.floor(i / Fraction(str(rate))) for i in range(n) if i / Fraction(str(rate)) < n]
    assert nb.noisy_positions(n, rate).tolist() == expected
    assert len(expected) == math.ceil(n * Fraction(str(rate)))


def test_no_noise_flips_nothing():
    assert nb.noisy_positions(284, 0.0).tolist() == []


@pytest.mark.parametrize("seed, noise", [(1, 0.04), (2, 0.1), (7, 0.25), (3, 0.0)])
def test_other_seeds_split_differently_at_the_configured_rate(raw, seed, noise):
    X, t = raw
    base, _ = nb.split_data(X, t, 0, **DEFAULTS)
    arrays, sidecar = nb.split_data(X, t, seed, **{**DEFAULTS, "label_noise": noise})
    assert not np.array_equal(arrays["train_index"], base["train_index"])
    flipped = np.flatnonzero(arrays["t_train"] != t[arrays["train_index"]])
    assert flipped.tolist() == sidecar["flipped_positions"] == nb.noisy_positions(284, noise).tolist()
    assert sorted(sidecar["flipped_indices"]) == sorted(arrays["train_index"][flipped].tolist())


def test_normalisation_uses_training_statistics_only(raw):
    X, t = raw
    arrays, sidecar = nb.split_data(X, t, 4, **DEFAULTS)
    np.testing.assert_allclose(arrays["X_train"].mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(arrays["X_train"].std(0), 1, atol=1e-6)
    assert np.abs(arrays["X_test"].mean(0)).max() > 1e-3  # the test set is not re-centred
    # Changing every test point leaves the training arrays and the statistics untouched.
    X_moved = X.copy()
    X_moved[arrays["test_index"]] += 1000.0
    moved, moved_sidecar = nb.split_data(X_moved, t, 4, **DEFAULTS)
    np.testing.assert_array_equal(moved["X_train"], arrays["X_train"])
    assert moved_sidecar["mean"] == sidecar["mean"]


def test_validation_part_is_the_end_of_the_training_set(raw):
    X, t = raw
    arrays, sidecar = nb.split_data(X, t, 0, **DEFAULTS)
    assert sidecar["n_validation"] == 71 == arrays["is_validation"].sum()
    assert arrays["is_validation"][-71:].all() and not arrays["is_validation"][:-71].any()


@pytest.mark.parametrize("n, folds", [(284, 4), (284, 5), (10, 3), (7, 3)])
def test_k_fold_parts_are_contiguous_blocks_that_cover_the_training_set(raw, n, folds):
    parts = nb.validation_parts(n, folds)
    assert len(parts) == n and (np.diff(parts) >= 0).all()  # contiguous, in order
    sizes = np.bincount(parts)[1:]
    assert len(sizes) == folds and sizes.max() - sizes.min() <= 1
    if (n, folds) == (284, 4):  # the default study's hold-out part is the last of 4 folds
        X, t = raw
        arrays, _ = nb.split_data(X, t, 0, **DEFAULTS)
        np.testing.assert_array_equal(parts == 4, arrays["is_validation"])


def test_sidecar_records_seed_flips_statistics_and_hash(raw, tmp_path):
    arrays, sidecar = prepare_data(0, {"source": "breast_cancer", "target": "target"}, npz=str(tmp_path / "d.npz"),
                                   json=str(tmp_path / "d.json"), **DEFAULTS)
    written = json.loads((tmp_path / "d.json").read_text())
    assert written["seed"] == 0 and len(written["flipped_indices"]) == 12
    assert written["raw_sha256"] == nb.data_hash(*raw) and len(written["raw_sha256"]) == 64
    assert len(written["mean"]) == len(written["std"]) == 30
    with np.load(tmp_path / "d.npz") as saved:
        np.testing.assert_array_equal(saved["t_train"], arrays["t_train"])


def test_csv_dataset_matches_the_bundled_one(raw, tmp_path):
    X, t = raw
    write_dataset_csv(tmp_path / "cancer.csv")
    X_csv, t_csv = nb.load_dataset(str(tmp_path / "cancer.csv"), HOSTILE_TARGET)
    np.testing.assert_array_equal(X_csv, X)
    np.testing.assert_array_equal(t_csv, t)
    # The same memory order too, or sums over the same numbers round differently.
    assert X_csv.flags.c_contiguous and X.flags.c_contiguous


@pytest.mark.slow
def test_csv_dataset_runs_end_to_end(hostile_study, raw):
    """The hostile study reads the bundled set from a CSV file: every stage ran on it, and
    its data are the bundled set's, bit for bit (the same split computed here from the
    bundled set)."""
    with open(data_file(hostile_study, 0, "json", HOSTILE_CONFIG)) as handle:
        sidecar = json.load(handle)
    bundled = nb.split_data(*raw, 0, DEFAULTS["test_fraction"], HOSTILE_CONFIG["label_noise"],
                            DEFAULTS["validation_fraction"])
    assert sidecar["source"].endswith("cancer.csv") and sidecar["target"] == HOSTILE_TARGET
    assert sidecar["raw_sha256"] == bundled[1]["raw_sha256"] == nb.data_hash(*raw)
    with np.load(data_file(hostile_study, 0, "npz", HOSTILE_CONFIG)) as csv:
        for key in ("X_train", "t_train", "X_test", "t_test"):
            assert csv[key].tobytes() == bundled[0][key].tobytes(), key
    # Exercise 1 measured the same inputs' conditioning, read from the CSV file: the same
    # numbers in the same memory order, so to the last bit.
    exercise1 = json.loads((hostile_study / "theory" / "exercise1.json").read_text())
    assert exercise1["settings"]["dataset"] == sidecar["source"]
    assert exercise1["dataset_conditioning"] == dataset_conditioning(raw[0])
    assert (hostile_study / "report" / "report.html").stat().st_size > 0


@pytest.mark.slow
def test_workflow_data_rule_writes_the_notebooks_flips(small_study):
    with open(data_file(small_study / "results", 0, "json")) as handle:
        sidecar = json.load(handle)
    order = np.random.RandomState(0).permutation(569)
    assert sidecar["flipped_indices"] == order[:284][::25].tolist()
    assert sidecar["label_noise"] == SMALL_CONFIG["label_noise"]
