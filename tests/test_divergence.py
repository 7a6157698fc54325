"""An absurd learning rate makes networks diverge; the run still succeeds, flags them with
the step, and the report lists them and leaves them out of every mean, with a warning.

With lr = 1e25 Adam's first step sets every weight to about ±1e25, so the penalised
objectives (λ·h·||W||_F², λ·||W||_Mix², sums of ~3000 squares of 1e25) overflow float32
at step 2, while the unpenalised hinge loss stays finite: the study holds both kinds.
"""

import os

import pandas as pd
import pytest
from conftest import run_workflow, write_config
from test_escaping import Page

STEPS = 20


@pytest.fixture(scope="module")
def diverged_study(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("diverged")
    write_config(workdir, lr=1e25, seeds=[0], steps=STEPS, curve_every=10,
                 lambdas={"frob": [0.005], "mix": [0.025]})
    run_workflow(workdir)  # fails the test if the run fails
    return os.path.join(workdir, "results")


@pytest.fixture(scope="module")
def metrics(diverged_study):
    return pd.read_csv(os.path.join(diverged_study, "metrics.csv"))


def test_metrics_flag_diverged_networks_with_their_step(metrics):
    after = metrics[metrics.phase == "after"].set_index("model")
    assert bool(after.loc["nn_frob", "diverged"]) and bool(after.loc["nn_mix", "diverged"])
    assert not after.loc[["nn", "rf", "svc"], "diverged"].astype(bool).any()
    steps = after.loc[["nn_frob", "nn_mix"], "diverged_step"]
    assert ((steps >= 1) & (steps <= STEPS) & (steps == steps.round())).all(), steps
    assert after.loc[["nn", "rf", "svc"], "diverged_step"].isna().all()


def test_means_leave_diverged_networks_out(diverged_study, metrics):
    # A diverged network still has a finite test accuracy (its sign pattern is some
    # guess), so a mean that included it would be a number; it must be empty instead.
    table = pd.read_csv(os.path.join(diverged_study, "tables", "comparison_notebook.csv"))
    rows = table[table.metric == "test_acc"].set_index("model")
    after = metrics[metrics.phase == "after"].set_index("model")
    for model in ("nn_frob", "nn_mix"):
        assert pd.notna(after.loc[model, "test_acc"])
        assert rows.loc[model, "n"] == 0 and rows.loc[model, "n_diverged"] == 1
        assert pd.isna(rows.loc[model, "mean"])
    assert rows.loc["nn", "n"] == 1 and rows.loc["nn", "mean"] == after.loc["nn", "test_acc"]


def test_report_warns_and_lists_each_diverged_network(diverged_study, metrics):
    page = Page(os.path.join(diverged_study, "report", "report.html"))
    selection = pd.read_csv(os.path.join(diverged_study, "selection.csv"))
    diverged = pd.concat([metrics[(metrics.phase == "after") & metrics.diverged.astype(bool)],
                          selection[selection.diverged.astype(bool)]])
    assert len(diverged) == 4  # nn_frob and nn_mix, on the training set and on the fit part
    warning = page.text("#diverged-warning")
    assert f"{len(diverged)} network(s) diverged" in warning and "left out" in warning
    listed = page.text("#diverged-table")
    for row in diverged.itertuples():
        assert row.model in listed and str(int(row.diverged_step)) in listed
    assert listed.count("nn_frob") == 2 and listed.count("nn_mix") == 2
