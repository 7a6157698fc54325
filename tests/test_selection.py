"""λ is chosen on validation data: by validation accuracy, ties broken by the lower
validation hinge loss, then by the larger λ; diverged networks are never chosen; and the
test set is never used for any choice (README, "λ chosen on validation data")."""

import numpy as np
import pandas as pd
from helpers import seed_data
from train_baselines import train_baselines
from train_networks import choose_lambda, train_seed


def fit_rows(model, rows):
    """The fit networks' validation scores: ``rows`` of (λ, accuracy, loss, diverged)."""
    return pd.DataFrame([dict(seed=0, model=model, lam=lam, val_acc=acc, val_loss=loss, diverged=diverged,
                              diverged_step=3 if diverged else None) for lam, acc, loss, diverged in rows])


def chosen(fit) -> dict:
    table = choose_lambda(fit)
    return {model: part.loc[part["selected"], "lam"].tolist() for model, part in table.groupby("model")}


def test_higher_accuracy_wins_whatever_the_loss():
    fit = fit_rows("nn_frob", [(0.001, 0.90, 0.1, False), (0.01, 0.95, 0.9, False), (0.1, 0.93, 0.2, False)])
    assert chosen(fit) == {"nn_frob": [0.01]}


def test_accuracy_tie_goes_to_the_lower_loss():
    fit = fit_rows("nn_mix", [(0.001, 0.95, 0.40, False), (0.01, 0.95, 0.30, False), (0.1, 0.95, 0.35, False)])
    assert chosen(fit) == {"nn_mix": [0.01]}


def test_accuracy_and_loss_tie_goes_to_the_larger_lambda():
    fit = fit_rows("nn_frob", [(0.001, 0.95, 0.3, False), (0.1, 0.95, 0.3, False), (0.01, 0.95, 0.3, False),
                               (0.5, 0.90, 0.1, False)])
    assert chosen(fit) == {"nn_frob": [0.1]}


def test_diverged_networks_are_never_chosen_and_each_penalty_chooses_once():
    fit = pd.concat([fit_rows("nn_frob", [(0.001, 0.99, 0.0, True), (0.01, 0.90, 0.5, False)]),
                     fit_rows("nn_mix", [(0.001, 0.80, 0.5, False), (0.01, 0.85, 0.5, False)])])
    assert chosen(fit) == {"nn_frob": [0.01], "nn_mix": [0.01]}
    everything_diverged = fit_rows("nn_mix", [(0.001, 0.99, 0.0, True)])
    assert chosen(everything_diverged) == {"nn_mix": []}


# Small networks, few steps: enough for the λ grids to part and a choice to be made.
SETTINGS = dict(models=["rf", "svc", "nn", "nn_frob", "nn_mix"], hidden=20, init_scale=0.1, lr=0.01, steps=40,
                lambdas={"frob": [0.001, 0.005, 0.05], "mix": [0.005, 0.025, 0.25]}, curve_every=0, device="cpu",
                batch_size=32, compile=False)
# What the test set may change: the measurements on it.
TEST_COLUMNS = ["test_acc", "test_loss", "grad", "grad_notebook", "grad_max"]


def test_the_test_set_is_never_used_for_any_choice():
    """Another test set (other points, labels flipped) changes the test measurements and
    nothing else: the same trained weights, validation scores and chosen λ."""
    data = seed_data(0)
    rng = np.random.default_rng(0)
    other = {**data, "X_test": rng.normal(size=data["X_test"].shape), "t_test": -data["t_test"]}
    (networks, validation, curves, weights), (networks2, validation2, curves2, weights2) = (
        train_seed(d, 0, **SETTINGS) for d in (data, other))
    for key in ("W", "b"):
        np.testing.assert_array_equal(weights[key], weights2[key])
    pd.testing.assert_frame_equal(validation, validation2)
    assert validation["selected"].sum() == 2
    pd.testing.assert_frame_equal(networks.drop(columns=TEST_COLUMNS), networks2.drop(columns=TEST_COLUMNS))
    assert not np.allclose(networks["test_acc"], networks2["test_acc"]), "the test set was not replaced"
    # The baselines are fitted on the training set alone.
    rf, rf2 = (train_baselines(d, 0, ["rf", "svc"]) for d in (data, other))
    pd.testing.assert_frame_equal(rf.drop(columns="test_acc"), rf2.drop(columns="test_acc"))
    assert not np.allclose(rf["test_acc"], rf2["test_acc"])


def test_data_protocol_ignores_the_test_labels():
    """The training data do not depend on the test labels (nor on the test points:
    test_data checks the normalisation)."""
    from normbound.data import load_dataset, split_data

    X, t = load_dataset("breast_cancer")
    arrays, _ = split_data(X, t, 3, 0.5, 0.04, 0.25)
    t2 = t.copy()
    t2[arrays["test_index"]] *= -1
    arrays2, _ = split_data(X, t2, 3, 0.5, 0.04, 0.25)
    for key in ("X_train", "t_train", "is_validation", "train_index"):
        np.testing.assert_array_equal(arrays[key], arrays2[key])
