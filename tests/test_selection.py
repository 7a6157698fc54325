"""λ is chosen on validation data: by validation accuracy, ties broken by the lower
validation hinge loss, then by the larger λ; diverged networks are never chosen; and the
test set is never used for any choice (README, "λ chosen on validation data")."""

import numpy as np
import pytest
import pandas as pd
from helpers import SWEEP_CONFIG, Page, seed_data
from train_baselines import train_baselines
from train_networks import choose_lambda, train_seed


def fit_rows(model, rows, subset="fit"):
    """The validation scores of networks trained on ``subset``: ``rows`` of (λ, accuracy,
    loss, diverged)."""
    return pd.DataFrame([dict(seed=0, model=model, lam=lam, subset=subset, val_acc=acc, val_loss=loss,
                              diverged=diverged, diverged_step=3 if diverged else None)
                         for lam, acc, loss, diverged in rows])


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


def test_k_fold_chooses_by_the_mean_over_the_folds_and_keeps_the_holdout_choice_beside_it():
    """With k-fold networks the mean validation accuracy over the folds decides (ties: the
    mean loss); a λ with a diverged fold is out; the hold-out's scores and choice stay."""
    holdout = fit_rows("nn_frob", [(0.001, 0.95, 0.3, False), (0.01, 0.90, 0.3, False), (0.1, 0.80, 0.1, False)])
    folds = [fit_rows("nn_frob", rows, f"fold{i}") for i, rows in enumerate((
        [(0.001, 0.80, 0.3, False), (0.01, 0.90, 0.5, False), (0.1, 0.99, 0.1, False)],
        [(0.001, 0.90, 0.3, False), (0.01, 0.90, 0.1, False), (0.1, 0.99, 0.1, True)],
        [(0.001, 0.90, 0.3, False), (0.01, 0.80, 0.3, False), (0.1, 0.99, 0.1, False)]), start=1)]
    table = choose_lambda(pd.concat([holdout, *folds])).set_index("lam")
    # Means: 0.001 -> 0.8667 (loss 0.3), 0.01 -> 0.8667 (loss 0.3); 0.1 diverged in fold 2.
    np.testing.assert_allclose(table["val_acc"], [2.6 / 3, 2.6 / 3, 2.97 / 3])
    assert table["diverged"].tolist() == [False, False, True]
    assert table.index[table["selected"]].tolist() == [0.01]  # the tie in both goes to the larger λ
    assert table.index[table["holdout_selected"]].tolist() == [0.001]
    assert table["holdout_val_acc"].tolist() == [0.95, 0.90, 0.80]


def test_k_fold_networks_leave_out_their_own_part():
    """Each fold's network trains without its part of the training set (as a network
    trained alone on the rest does) and is validated on that part alone."""
    from normbound.data import validation_parts
    from normbound.model import accuracy, forward, output_signs
    from normbound.grid import Grid
    from normbound.train import train_grid

    import torch

    data = seed_data(0)
    settings = {**SETTINGS, "models": ["nn", "nn_frob"], "lambdas": {"frob": [0.005]}}
    _, validation, _, weights = train_seed(data, 0, **settings, validation_folds=3)
    parts = validation_parts(len(data["t_train"]), 3)
    s = output_signs(settings["hidden"])
    accuracies = []
    for i in (1, 2, 3):
        (k,) = np.flatnonzero(weights["subset"] == f"fold{i}")
        alone = {**data, **{k: data[k][parts != i] for k in ("X_train", "t_train", "t_train_clean")},
                 "is_validation": np.zeros((parts != i).sum(), bool)}
        result = train_grid(Grid(["nn_frob"], [0.005], ["train"]), alone, 0, settings["hidden"], settings["steps"],
                            settings["lr"])
        np.testing.assert_allclose(weights["W"][k], result.W[0].numpy(), atol=1e-5)
        f = forward(torch.as_tensor(weights["W"][k:k + 1]), torch.as_tensor(weights["b"][k:k + 1]), s,
                    torch.as_tensor(data["X_train"][parts == i], dtype=torch.float32))
        accuracies.append(accuracy(f, torch.as_tensor(data["t_train"][parts == i], dtype=torch.float32)).item())
    assert validation["val_acc"].item() == pytest.approx(np.mean(accuracies), rel=1e-12)
    assert validation["holdout_val_acc"].notna().all()


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
    # ``selected`` marks the chosen λ's network after training, and nothing else.
    chosen = set(zip(validation.model[validation.selected], validation.lam[validation.selected]))
    assert set(zip(networks.model[networks.selected], networks.lam[networks.selected])) == chosen
    assert (networks.loc[networks.selected, "phase"] == "after").all()
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


@pytest.mark.slow
def test_k_fold_selection_runs_end_to_end_and_the_report_says_what_it_changed(sweep_study):
    """The sweep study chooses λ by 3-fold cross-validation: every penalty has one k-fold
    and one hold-out choice per cell and seed, and the report's words on what k-fold
    changed are the lambda_selection table's values, which the study's files give again."""
    import tables
    from normbound import LABELS
    from normbound.summary import in_cell

    results = sweep_study / "results"
    selection = pd.read_csv(results / "selection.csv")
    for column in ("selected", "holdout_selected"):
        chosen = selection[selection[column]].groupby(["label_noise", "hidden", "seed", "model"]).size()
        assert len(chosen) == 2 * 2 * 2 * 2 and (chosen == 1).all(), column
    table = pd.read_csv(results / "tables" / "lambda_selection.csv")
    cell = {"label_noise": SWEEP_CONFIG["label_noise"][0], "hidden": SWEEP_CONFIG["hidden"][0],
            "steps": SWEEP_CONFIG["steps"]}
    metrics = in_cell(pd.read_csv(results / "metrics.csv"), cell)
    again = tables.lambda_selection(metrics, in_cell(selection, cell), 1.0)  # test_fraction 0.5: n_test/n_train 1
    pd.testing.assert_frame_equal(table, again, check_dtype=False)
    text = " ".join(Page(results / "report" / "report.html").text("#selection").split())
    assert "Validation accuracy here is the mean over 3 folds" in text
    for row in table.itertuples():
        assert f"{LABELS[row.model]} chose another λ on {int(row.kfold_changed)} of {int(row.kfold_n)} seeds" in text, text
