"""An absurd learning rate makes networks diverge; the run still succeeds, flags them with
the step, and the report lists them and leaves them out of every mean, with a warning.

The hostile study (helpers.HOSTILE_CONFIG) trains with lr = 1e25: every penalised network,
on the training set and on the fit part, has a finite objective at step 1 and an overflow
at step 2; the unpenalised network stays finite.
"""

import re

import pandas as pd
import pytest
from helpers import DIVERGED_STEP, HOSTILE_CONFIG, LATEX_INSTALL, Page, pdf_text, require_program

pytestmark = pytest.mark.slow
PENALISED = ["nn_frob", "nn_mix"]
LAMBDA = {"nn_frob": HOSTILE_CONFIG["lambdas"]["frob"][0], "nn_mix": HOSTILE_CONFIG["lambdas"]["mix"][0]}


@pytest.fixture(scope="module")
def metrics(hostile_study):
    return pd.read_csv(hostile_study / "metrics.csv")


@pytest.fixture(scope="module")
def selection(hostile_study):
    return pd.read_csv(hostile_study / "selection.csv")


def test_metrics_flag_diverged_networks_with_their_step(metrics):
    after = metrics[metrics.phase == "after"].set_index("model")
    assert after.loc[PENALISED, "diverged"].astype(bool).all()
    assert (after.loc[PENALISED, "diverged_step"] == DIVERGED_STEP).all(), after["diverged_step"]
    assert not after.loc[["nn", "rf", "svc"], "diverged"].astype(bool).any()
    assert after.loc[["nn", "rf", "svc"], "diverged_step"].isna().all()


def test_diverged_networks_are_not_converged(metrics):
    """``converged`` is false for a diverged network (and before training), empty for the
    baselines, which have no training curve."""
    after = metrics[metrics.phase == "after"].set_index("model")
    assert (after.loc[PENALISED, "converged"] == False).all()  # noqa: E712  (not NaN either)
    assert (metrics[metrics.phase == "before"].converged == False).all()  # noqa: E712
    assert after.loc[["rf", "svc"], "converged"].isna().all()


def test_validation_networks_diverge_at_the_same_step_and_none_is_selected(selection):
    assert sorted(selection.model) == PENALISED
    assert selection.diverged.astype(bool).all() and (selection.diverged_step == DIVERGED_STEP).all()
    assert not selection.selected.astype(bool).any()


def test_means_leave_diverged_networks_out(hostile_study, metrics):
    # A diverged network still has a finite test accuracy (its sign pattern is some
    # guess), so a mean that included it would be a number; it must be empty instead.
    table = pd.read_csv(hostile_study / "tables" / "comparison_notebook.csv")
    rows = table[table.metric == "test_acc"].set_index("model")
    after = metrics[metrics.phase == "after"].set_index("model")
    for model in PENALISED:
        assert pd.notna(after.loc[model, "test_acc"])
        assert rows.loc[model, "n"] == 0 and rows.loc[model, "n_diverged"] == 1
        assert pd.isna(rows.loc[model, "mean"])
    # NN stays finite; it enters the mean where it converged, else it is counted apart.
    if after.loc["nn", "converged"]:
        assert rows.loc["nn", "n"] == 1 and rows.loc["nn", "mean"] == after.loc["nn", "test_acc"]
    else:
        assert rows.loc["nn", "n"] == 0 and rows.loc["nn", "n_unconverged"] == 1


# The diverged table as the report shows it: seed, model, λ, trained on, step.
EXPECTED_ROWS = [["0", model, str(LAMBDA[model]), trained_on, str(DIVERGED_STEP)]
                 for trained_on in ("training set", "fit part (validation run)") for model in PENALISED]


def test_report_warns_and_lists_each_diverged_network(hostile_study):
    page = Page(hostile_study / "report" / "report.html")
    warning = page.text("#diverged-warning")
    assert f"{len(EXPECTED_ROWS)} network(s) diverged" in warning and "left out" in warning
    header, *rows = page.rows("diverged-table")
    assert header == ["seed", "model", "λ", "trained on", "step"]
    assert sorted(rows) == sorted(EXPECTED_ROWS)


def test_pdf_lists_each_diverged_network(hostile_study):
    require_program("latexmk", LATEX_INSTALL)
    text = pdf_text(hostile_study / "report" / "report.pdf")
    for row in EXPECTED_ROWS:
        # The step ends the row: "2", not "2.0" or "20".
        assert re.search(re.escape(" ".join(row)) + r"(?![\d.])", text), f"{row} not in the PDF's diverged table"
