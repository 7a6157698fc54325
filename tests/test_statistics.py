"""The report's statistics: paired differences with the corrected resampled t (Nadeau and
Bengio), the λ selection's ties and ranks, convergence from the training curves, and the
exercise-1 Hessian with the bias trained jointly; then the small study's report, whose
paired-difference table, spectral bound and notebook column are checked in both formats
against what is computed here from results/metrics.csv."""

import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from helpers import LATEX_INSTALL, Page, full_config, pdf_text, require_program

import tables
import theory_hessian as th
from normbound import NETWORKS, PENALTY
from normbound.summary import paired_difference
from test_findings import NO_CURVES


def test_corrected_resampled_t_by_hand():
    # d = 0.01, 0.03, 0.02, 0.04: mean 0.025, s = 0.0129099; n_test/n_train = 1 (half the data tests):
    # se = sqrt(1/4 + 1) s = 0.0144338, t(0.975, 3) = 3.1824463 -> half width 0.0459346.
    out = paired_difference([0.01, 0.03, 0.02, 0.04, np.nan], test_over_train=1.0)
    assert out["n"] == 4 and out["mean"] == pytest.approx(0.025) and out["std"] == pytest.approx(0.0129099445)
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((0.025 - 0.0459346, 0.025 + 0.0459346), abs=1e-7)
    # t = 0.025 / 0.0144338 = √3; with 3 degrees of freedom P(T ≤ √3) = 1/2 + (1/2 + π/4)/π,
    # so p = 2 (1/2 - 1/(2π) - 1/4) = 1/2 - 1/π.
    assert out["t"] == pytest.approx(math.sqrt(3)) and out["p"] == pytest.approx(0.5 - 1 / math.pi)
    # The plain paired t (test_over_train = 0) is sqrt(1 + n) = sqrt(5) times narrower here.
    plain = paired_difference([0.01, 0.03, 0.02, 0.04], test_over_train=0.0)
    assert (out["ci_high"] - out["mean"]) / (plain["ci_high"] - plain["mean"]) == pytest.approx(math.sqrt(5))
    assert math.isnan(paired_difference([0.1], 1.0)["ci_low"])


def test_differences_equal_up_to_rounding_have_no_spread():
    """The same accuracy change on every seed, computed from different accuracies, differs
    in the last bits (here by 1.1e-16); that is no spread: sd 0, the interval the mean
    itself, and no t (it was printed as 2.9e14)."""
    d = np.array([0.958, 0.951, 0.944]) - [0.951, 0.944, 0.937]
    assert np.ptp(d) > 0
    out = paired_difference(d, test_over_train=1.0)
    assert out["std"] == 0 and out["ci_low"] == out["ci_high"] == out["mean"]
    assert math.isnan(out["t"]) and math.isnan(out["p"])
    assert paired_difference([0.007, 0.007 + 1e-9, 0.007], 1.0)["std"] > 0


def metrics_frame(accuracies: dict) -> pd.DataFrame:
    """After-training rows: ``accuracies[(model, λ)]`` is the test accuracy per seed (λ None
    for the baselines); the first λ of a penalty is the notebook's, the second the chosen one."""
    rows = []
    for (model, lam), values in accuracies.items():
        for seed, acc in enumerate(values):
            rows.append(dict(seed=seed, model=model, lam=lam, phase="after", test_acc=acc, diverged=np.isnan(acc),
                             notebook_lambda=model == "nn" or lam in (0.005, 0.025),
                             selected=lam in (0.01, 0.05)))
    return pd.DataFrame(rows)


def test_paired_table_differences_seed_by_seed_and_drops_diverged_pairs():
    metrics = metrics_frame({("svc", None): [0.95, 0.94, 0.96], ("nn", 0.0): [0.90, 0.88, 0.89],
                             ("nn_frob", 0.005): [0.96, 0.95, np.nan], ("nn_frob", 0.01): [0.97, 0.93, 0.97],
                             ("nn_mix", 0.025): [0.95, 0.96, 0.96], ("nn_mix", 0.05): [0.96, 0.95, 0.98]})
    table = tables.paired_table(metrics, NO_CURVES, 1.0).set_index(["lambda_choice", "model", "other"])
    assert list(dict.fromkeys(table.index.get_level_values(0))) == ["chosen", "notebook"]
    chosen = table.loc[("chosen", "nn_frob", "nn_mix")]
    assert chosen["n"] == 3 and chosen["mean"] == pytest.approx((0.01 - 0.02 - 0.01) / 3)
    assert chosen["label"] == "NN+Frob − NN+Mix"
    # Seed 2's NN+Frob diverged at the notebook's λ: that pair is left out, not its seed's NN.
    notebook = table.loc[("notebook", "nn_frob", "svc")]
    assert notebook["n"] == 2 and notebook["mean"] == pytest.approx(0.01)
    expected = paired_difference(np.array([0.97, 0.93, 0.97]) - [0.90, 0.88, 0.89], 1.0)
    assert table.loc[("chosen", "nn_frob", "nn"), ["mean", "ci_low", "ci_high", "p"]].tolist() == pytest.approx(
        [expected[k] for k in ("mean", "ci_low", "ci_high", "p")])


def test_lambda_selection_counts_ties_and_ranks_the_notebook_lambda():
    selection = pd.DataFrame([
        # seed 0: λ 0.005 and 0.01 tie on accuracy, the hinge loss picks 0.01
        dict(seed=0, lam=0.005, val_acc=0.9, val_loss=0.3, selected=False),
        dict(seed=0, lam=0.01, val_acc=0.9, val_loss=0.2, selected=True),
        dict(seed=0, lam=0.02, val_acc=0.8, val_loss=0.1, selected=False),
        # seed 1: a tie in both, the larger λ wins
        dict(seed=1, lam=0.005, val_acc=0.9, val_loss=0.2, selected=False),
        dict(seed=1, lam=0.01, val_acc=0.9, val_loss=0.2, selected=True),
        dict(seed=1, lam=0.02, val_acc=0.7, val_loss=0.2, selected=False),
        # seed 2: no tie
        dict(seed=2, lam=0.005, val_acc=0.95, val_loss=0.3, selected=True),
        dict(seed=2, lam=0.01, val_acc=0.9, val_loss=0.2, selected=False),
        dict(seed=2, lam=0.02, val_acc=0.9, val_loss=0.1, selected=False),
    ]).assign(model="nn_frob", diverged=False)
    metrics = metrics_frame({("nn_frob", 0.005): [0.96, 0.96, 0.96], ("nn_frob", 0.01): [0.97, 0.97, 0.97],
                             ("nn_frob", 0.02): [0.90, 0.90, 0.99]})
    row = tables.lambda_selection(metrics, selection, 1.0).iloc[0]
    assert (row["selections"], row["tied_accuracy"], row["tied_loss"]) == (3, 2, 1)
    # mean test accuracy: 0.01 best (0.97), 0.005 second (0.96), 0.02 third (0.93)
    assert (row["notebook_lam"], row["notebook_rank"], row["grid"], row["best_test_lam"]) == (0.005, 2, 3, 0.01)


def test_lambda_selection_compares_k_fold_with_the_holdout_choice_on_the_same_seeds():
    """k-fold's λ against the hold-out's: seeds whose λ changed, the hold-out's ties, and
    the test accuracy difference as a corrected resampled t interval; NaN without k-fold."""
    rows = [(0, 0.005, 0.9, False, 0.9, True), (0, 0.01, 0.95, True, 0.9, False),
            (1, 0.005, 0.9, True, 0.9, True), (1, 0.01, 0.8, False, 0.8, False),
            (2, 0.005, 0.9, True, 0.8, False), (2, 0.02, 0.8, False, 0.9, True)]
    selection = pd.DataFrame([dict(seed=seed, lam=lam, val_acc=acc, val_loss=0.1, selected=chosen, holdout_val_acc=hold,
                                   holdout_val_loss=0.1, holdout_selected=hold_chosen)
                              for seed, lam, acc, chosen, hold, hold_chosen in rows]).assign(model="nn_frob",
                                                                                             diverged=False)
    metrics = metrics_frame({("nn_frob", 0.005): [0.96, 0.96, 0.96], ("nn_frob", 0.01): [0.97, 0.97, 0.97],
                             ("nn_frob", 0.02): [0.90, 0.90, 0.99]})
    row = tables.lambda_selection(metrics, selection, 1.0).iloc[0]
    # seed 0: 0.01 against 0.005 (+0.01); seed 1: the same λ (0); seed 2: 0.005 against 0.02 (-0.03)
    expected = paired_difference([0.01, 0.0, -0.03], 1.0)
    assert (row["kfold_changed"], row["kfold_n"], row["holdout_tied_accuracy"], row["tied_accuracy"]) == (2, 3, 1, 0)
    assert [row[f"kfold_{k}"] for k in ("mean", "ci_low", "ci_high")] == pytest.approx(
        [expected[k] for k in ("mean", "ci_low", "ci_high")])
    plain = tables.lambda_selection(metrics, selection.drop(columns=["holdout_val_acc", "holdout_val_loss",
                                                                      "holdout_selected"]), 1.0).iloc[0]
    assert np.isnan(plain[["holdout_tied_accuracy", "kfold_changed", "kfold_mean"]].astype(float)).all()


def test_convergence_measures_the_last_objective_against_the_lowest_logged():
    steps = [0, 100, 200, 300]
    curves = pd.DataFrame(
        [dict(seed=seed, model="nn_frob", lam=lam, notebook_lambda=lam == 0.005, subset="train", step=step,
              objective=objective, mix_norm=mix)
         for seed, lam, objectives, mixes in [
             (0, 0.005, [np.nan, 0.20, 0.18, 0.198], [5, 2.0, 1.9, 1.7]),  # ends 10 % above its lowest
             (1, 0.005, [np.nan, 0.22, 0.20, 0.201], [5, 2.2, 2.1, 1.9]),  # ends 0.5 % above
             (0, 0.05, [np.nan, 0.30, 0.30, 0.30], [5, 1.0, 1.0, 1.0]),  # settled
             (1, 0.05, [np.nan, 0.30, np.inf, np.nan], [5, 1.0, 1.0, 1.0])]  # diverged: left out
         for step, objective, mix in zip(steps, objectives, mixes)]
        # the networks of the validation runs do not count
        + [dict(seed=0, model="nn_frob", lam=0.005, notebook_lambda=True, subset="fit", step=300, objective=9.0,
                mix_norm=1.0)])
    flags = pd.DataFrame([dict(seed=seed, model="nn_frob", lam=lam, phase="after", diverged=diverged, converged=converged)
                          for seed, lam, diverged, converged in [(0, 0.005, False, False), (1, 0.005, False, True),
                                                                 (0, 0.05, False, True), (1, 0.05, True, False)]])
    row = tables.convergence_table(curves, flags).iloc[0]
    assert row["networks"] == 3
    # One of the four did not converge; the diverged one is counted apart, not as that.
    assert row["not_converged"] == 1 and row["converged_share"] == pytest.approx(0.75)
    assert row["median_excess"] == pytest.approx(0.201 / 0.20 - 1) and row["max_excess"] == pytest.approx(0.1)
    assert row["share_above"] == pytest.approx(1 / 3)
    # the notebook λ's mean over seeds: 0.21, 0.19, 0.1995 -> lowest at step 200
    assert (row["step_lowest"], row["step_last"]) == (200, 300)
    assert row["objective_lowest"] == pytest.approx(0.19) and row["objective_last"] == pytest.approx(0.1995)
    assert (row["mix_norm_lowest"], row["mix_norm_last"]) == pytest.approx((2.0, 1.8))


# --------------------------------------------------------------------------- exercise 1 with the bias
@pytest.mark.parametrize("ratio, sigma, kappa", [(0.0, 1.5, 2.25), (8.0, 1.5, 9634.69434), (0.0, 1.0, 1.0)])
def test_joint_condition_number_of_weights_and_bias(ratio, sigma, kappa):
    """E[(x,1)(x,1)ᵀ]: 2.25 at μ = 0 (σ² = 2.25 against the bias's 1) and about 9 600 at
    ‖μ‖/σ = 8, where the bias held fixed gives 65."""
    assert th.joint_condition_theory(ratio, sigma) == pytest.approx(kappa)
    mu = np.zeros(3)
    mu[0] = ratio * sigma
    closed = np.block([[sigma**2 * np.eye(3) + np.outer(mu, mu), mu[:, None]], [mu[None, :], np.ones((1, 1))]])
    assert np.linalg.cond(closed) == pytest.approx(kappa)


def test_joint_hessian_is_the_second_moment_with_a_ones_column():
    row = th.hessian_row(100_000, 3, 4.0, 1.5, seed=2)
    # Both are float64 sums over n = 1e5 samples of entries near 40, whose rounding (about
    # √n·ε·40 ≈ 3e-12) depends on the BLAS's order of summation: 1.9e-12 was seen on an AMD EPYC.
    assert row["joint_autograd_vs_moment"] < 1e-11
    assert row["condition_joint"] == pytest.approx(th.joint_condition_theory(4.0, 1.5), rel=0.03)
    assert row["condition_joint"] > 30 * row["condition"]


def test_gradient_descent_bound_is_a_whole_number_of_steps():
    for row in th.optimiser_race(ratios=(0.0, 4.0), max_steps=3_000):
        assert isinstance(row["gd_steps_bound"], int) and row["gd_steps"] <= row["gd_steps_bound"]


# --------------------------------------------------------------------------- the small study's report
def expected_pairs(metrics: pd.DataFrame, config: dict) -> dict:
    """Each paired difference as the report prints it, computed here: networks matched to
    the notebook's λ by value, the corrected t with n_test/n_train from test_fraction."""
    after = metrics[(metrics["phase"] == "after") & ~metrics["diverged"].astype(bool)
                    & metrics["converged"].fillna(True).astype(bool)]
    ratio = config["test_fraction"] / (1 - config["test_fraction"])
    notebook = {"nn_frob": config["notebook_lambdas"]["frob"], "nn_mix": config["notebook_lambdas"]["mix"]}
    out = {}
    for choice in ("chosen", "notebook"):
        def accuracy(model):
            rows = after[after["model"] == model]
            if model in PENALTY:
                rows = rows[rows["selected"]] if choice == "chosen" else rows[np.isclose(rows["lam"], notebook[model])]
            return rows.set_index("seed")["test_acc"]

        # The comparators have no notebook λ: their pairs are at the chosen λ only.
        comparators = (("nn_spec", "nn"), ("nn_grad", "nn"), ("nn_spec", "nn_mix"), ("nn_grad", "nn_mix"))
        for model, other in (("nn_frob", "nn"), ("nn_mix", "nn"), ("nn_frob", "svc"), ("nn_mix", "svc"),
                             ("nn_frob", "nn_mix"), *(comparators if choice == "chosen" else ())):
            d = (accuracy(model) - accuracy(other)).dropna().to_numpy()
            half = stats.t.ppf(0.975, len(d) - 1) * math.sqrt(1 / len(d) + ratio) * d.std(ddof=1)
            ends = (d.mean() - half, d.mean() + half) if len(d) >= 3 else ()  # no interval below 3 seeds
            out[choice, model, other] = [f"{v:+.3f}".replace("-", "−") for v in (d.mean(), *ends)] + ["—"] * (2 - len(ends))
    return out


@pytest.mark.slow
def test_paired_differences_in_both_formats_equal_an_independent_computation(small_study):
    results = small_study / "results"
    config = full_config(small_study)
    expected = expected_pairs(pd.read_csv(results / "metrics.csv"), config)
    assert len(expected) == 14
    page = Page(results / "report" / "report.html")
    on_page = {}
    choice = None
    for attrs, row in zip(page.row_attributes["paired-differences"], page.rows("paired-differences")):
        if len(row) == 1:  # a group's heading: which λ
            choice = "chosen" if "validation" in row[0] else "notebook"
        elif "data-pair" in attrs:
            model, other = attrs["data-pair"].split("-")
            on_page[choice, model, other] = [row[2], *row[4].strip("[]").split(", ")]
    assert on_page == expected
    html = page.text("#comparison")  # the section that holds the paired differences
    assert "corrected resampled t" in html and "Nadeau and Bengio" in html
    require_program("latexmk", LATEX_INSTALL)
    text = pdf_text(results / "report" / "report.pdf")
    assert "corrected resampled t" in text and "Nadeau and Bengio" in text
    for (choice, model, other), (mean, low, high) in expected.items():
        assert f"{mean} " in text and f"[{low}, {high}]" in text, (choice, model, other)


@pytest.mark.slow
def test_spectral_bound_and_the_notebook_column_in_both_formats(small_study):
    """√h‖W‖₂ is a column of both comparison tables; the notebook's printed Grad stands under
    the notebook's variant only, and under the true gradient the notebook row shows a dash."""
    results = small_study / "results"
    table = pd.read_csv(results / "tables" / "comparison_notebook.csv").set_index(["model", "metric"])
    page = Page(results / "report" / "report.html")
    header = page.rows("comparison-notebook")[1]
    assert header[header.index("Grad (notebook's variant)") - 1].startswith("Grad (true")
    reference = {(attrs["data-reference-of"], i): cell for attrs, row in
                 zip(page.row_attributes["comparison-notebook"], page.rows("comparison-notebook"))
                 if "data-reference-of" in attrs for i, cell in enumerate(row)}
    metrics = list(dict.fromkeys(table.index.get_level_values("metric")))
    column = {metric: 3 + i for i, metric in enumerate(metrics)}  # label, λ, n, then the metrics
    assert reference["nn", column["grad"]] == "—" and reference["nn", column["spectral_bound"]] == "—"
    assert reference["nn", column["grad_notebook"]] == "10.911"
    spectral = table.loc[("nn", "spectral_bound")]
    cells = page.text("#comparison-notebook")
    # A norm's cell is its mean and spread over seeds, with no interval.
    assert f"{spectral['mean']:.3f}" in cells and f"{spectral['std']:.3f}" in cells and pd.isna(spectral["ci_low"])
    require_program("latexmk", LATEX_INSTALL)
    text = pdf_text(results / "report" / "report.pdf")
    assert f"{spectral['mean']:.3f} ± {spectral['std']:.3f}" in text
    nn = table.xs("nn")
    # The notebook's line under NN: train, test, —, Grad (variant), ‖W‖_Mix, —, √h‖W‖_F.
    printed = [f"{v:.3f}" if not math.isnan(v) else "—" for v in nn["notebook"]]
    assert re.search(r"notebook, one run 1 " + re.escape(" ".join(printed)), text), printed


@pytest.mark.slow
def test_the_reviewed_words_and_counts_in_both_formats(small_study):
    """The corrections of the review, each where the old report said otherwise."""
    results = small_study / "results"
    metrics = pd.read_csv(results / "metrics.csv")
    checked = pd.read_json(results / "theory" / "exercise2.json", typ="series")["summary"]["networks_checked"]
    networks = metrics[metrics["model"].isin(NETWORKS)]
    # Before training a seed's networks are copies of one draw: not counted as networks.
    assert checked["trained"] == (networks["phase"] == "after").sum()
    assert checked["initialisations"] == networks["seed"].nunique()
    html = Page(results / "report" / "report.html").text("body")
    require_program("latexmk", LATEX_INSTALL)
    pdf = pdf_text(results / "report" / "report.pdf")
    for text in (html, re.sub(r"-\s", "", pdf)):
        text = " ".join(text.split())
        assert "non-smooth penalty" not in text and "is smooth" in text  # the drift's explanation
        assert "keeps even the best pattern" not in text and "the best pattern the ascent found" in text
        assert "worst-case bound" in text and "held fixed" in text and "With the bias trained too" in text
        assert f"trained networks or their {checked['initialisations']} initialisations" in text
        assert "of which a fraction 0.04 was flipped, while the test labels are clean" in text
