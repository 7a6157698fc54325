"""One statistical standard and the findings computed from it: the corrected interval's
coverage, the minimum number of seeds, the sign test and Holm's adjustment, the paired
table's families and tail view, and verdicts that follow the numbers they judge."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import tables
from normbound import findings
from normbound.summary import (CONFIDENCE, MIN_SEEDS, corrected_interval, holm, paired_difference, robust_accuracy,
                               sign_test, summarise)


@pytest.mark.parametrize("test_over_train", [0.0, 1.0, 1 / 3])
def test_the_corrected_interval_has_its_stated_coverage_for_overlapping_splits(test_over_train):
    """Seeds whose results share a common part (correlation r/(1 + r), r = n_test/n_train,
    the model behind Nadeau and Bengio's correction) are covered at the stated level: the
    statistic is exactly t with n − 1 degrees of freedom there. 20 000 draws give the
    coverage to ±0.4 % (3 sd), so an interval at the wrong quantile (90 % labelled 95 %)
    fails, and so does the uncorrected one where the splits overlap."""
    rng = np.random.default_rng(1)
    n, draws, rho = 10, 20_000, test_over_train / (1 + test_over_train)
    x = rng.normal(size=(draws, 1)) * math.sqrt(rho) + rng.normal(size=(draws, n)) * math.sqrt(1 - rho)
    covered = []
    for row in x:
        low, high, _ = corrected_interval(row.mean(), row.std(ddof=1), n, test_over_train)
        covered.append(low <= 0 <= high)
    assert np.mean(covered) == pytest.approx(CONFIDENCE, abs=0.004)
    if test_over_train:
        plain = [corrected_interval(r.mean(), r.std(ddof=1), n, 0.0) for r in x[:5000]]
        assert np.mean([lo <= 0 <= hi for lo, hi, _ in plain]) < CONFIDENCE - 0.1


def test_no_interval_from_fewer_than_the_minimum_seeds():
    assert MIN_SEEDS >= 3
    few = [0.93, 0.95][: MIN_SEEDS - 1]
    assert math.isnan(summarise(few, 1.0)["ci_low"]) and math.isnan(paired_difference(few, 1.0)["ci_high"])
    assert math.isnan(paired_difference(few, 1.0)["p"])
    enough = summarise([0.93, 0.95, 0.94], 1.0)
    assert enough["ci_low"] < 0.94 < enough["ci_high"]
    # Without test_over_train (norms: a spread, not an estimate) there is no interval at all.
    assert math.isnan(summarise([1.0, 2.0, 3.0, 4.0])["ci_low"]) and summarise([1.0, 2.0, 3.0, 4.0])["std"] > 0


def test_sign_test_is_the_exact_binomial_test_of_wins_against_losses():
    out = sign_test([0.01] * 10)
    assert (out["wins"], out["losses"], out["ties"]) == (10, 0, 0)
    assert out["sign_p"] == pytest.approx(2 / 2**10)
    d = [0.02, 0.01, -0.01, 0.0, 0.03, 0.01, 0.02, 0.0, 0.01, 0.02]
    out = sign_test(d)
    assert (out["wins"], out["losses"], out["ties"]) == (7, 1, 2)
    assert out["sign_p"] == pytest.approx(stats.binomtest(7, 8).pvalue)
    # A difference that is 0 up to rounding is a tie, not a win.
    assert sign_test(np.array([0.958, 0.951]) - [0.951, 0.944] - 0.007)["ties"] == 2
    assert math.isnan(sign_test([0.0, 0.0])["sign_p"])


def test_holm_multiplies_the_kth_smallest_by_m_minus_k_plus_one_and_stays_monotone():
    p = [0.01, 0.04, np.nan, 0.03, 0.5]
    # sorted: 0.01 (x4), 0.03 (x3 = 0.09), 0.04 (x2 = 0.08 -> 0.09, monotone), 0.5 (x1)
    np.testing.assert_allclose(holm(p), [0.04, 0.09, np.nan, 0.09, 0.5])
    assert holm([0.6, 0.7]).tolist() == [1.0, 1.0]


def frame(accuracies: dict, converged=None) -> pd.DataFrame:
    """After-training rows: ``accuracies[(model, λ)]`` per seed; the λ 0.01/0.05 are chosen,
    0.005/0.025 the notebook's."""
    rows = []
    for (model, lam), values in accuracies.items():
        for seed, acc in enumerate(values):
            rows.append(dict(seed=seed, model=model, lam=lam, phase="after", test_acc=acc, diverged=False,
                             converged=True if converged is None else converged.get((model, lam, seed), True),
                             notebook_lambda=model == "nn" or lam in (0.005, 0.025), selected=lam in (0.01, 0.05)))
    return pd.DataFrame(rows)


NO_CURVES = pd.DataFrame(columns=["seed", "model", "lam", "subset", "step", "test_acc"])


def test_paired_table_adjusts_each_family_apart_and_counts_wins():
    metrics = frame({("svc", None): [0.95, 0.94, 0.96, 0.95], ("nn", 0.0): [0.90, 0.88, 0.89, 0.91],
                     ("nn_frob", 0.005): [0.96, 0.95, 0.97, 0.96], ("nn_frob", 0.01): [0.97, 0.93, 0.97, 0.96],
                     ("nn_mix", 0.025): [0.95, 0.96, 0.96, 0.97], ("nn_mix", 0.05): [0.96, 0.95, 0.98, 0.97]})
    table = tables.paired_table(metrics, NO_CURVES, 1.0)
    for _, family in table.groupby("lambda_choice"):
        np.testing.assert_allclose(family["p_holm"], holm(family["p"]))
        np.testing.assert_allclose(family["sign_p_holm"], holm(family["sign_p"]))
    row = table.set_index(["lambda_choice", "model", "other"]).loc[("chosen", "nn_frob", "nn")]
    assert (row["wins"], row["losses"], row["ties"]) == (4, 0, 0)


def test_a_network_that_did_not_converge_is_left_out_of_the_comparisons():
    accuracies = {("nn", 0.0): [0.90, 0.88, 0.89], ("nn_frob", 0.01): [0.97, 0.50, 0.97],
                  ("nn_frob", 0.005): [0.96, 0.95, 0.97]}
    metrics = frame(accuracies, converged={("nn_frob", 0.01, 1): False})
    row = tables.paired_table(metrics, NO_CURVES, 1.0).set_index(["lambda_choice", "model"]).loc[("chosen", "nn_frob")]
    assert row["n"] == 2 and row["mean"] == pytest.approx(0.075)
    chosen = tables.comparison_table(metrics.assign(**{m: 1.0 for m in tables.METRICS if m != "test_acc"}), True, 1.0)
    first = chosen[(chosen["model"] == "nn_frob") & (chosen["metric"] == "test_acc")].iloc[0]
    assert (first["n"], first["n_unconverged"]) == (2, 1)


def test_tail_view_and_within_run_fluctuation_come_from_the_curves():
    """NN+Frob's test accuracy is 0.70 early and alternates 0.96/0.94 over the tail, while NN's
    stays 0.90: the difference's tail mean and step-to-step sd are those of the tail."""
    metrics = frame({("nn", 0.0): [0.90, 0.90, 0.90], ("nn_frob", 0.01): [0.96, 0.96, 0.96]})
    steps = range(0, 1001, 100)
    curves = pd.DataFrame([dict(seed=seed, model=model, lam=lam, subset="train", step=step,
                                test_acc=0.90 if model == "nn" else 0.70 if step < 800 else (
                                    0.96 if step % 200 == 0 else 0.94))
                           for seed in range(3) for model, lam in (("nn", 0.0), ("nn_frob", 0.01)) for step in steps])
    row = tables.paired_table(metrics, curves, 1.0).set_index(["lambda_choice", "model"]).loc[("chosen", "nn_frob")]
    tail = [0.96, 0.94, 0.96]  # steps 800, 900, 1000: the last fifth
    assert row["tail_mean"] == pytest.approx(np.mean(tail) - 0.90)
    assert row["fluctuation"] == pytest.approx(np.std(tail, ddof=1))
    assert row["mean"] == pytest.approx(0.06)


def paired_row(**kwargs):
    row = dict(n=10, mean=0.04, ci_low=-0.003, ci_high=0.083, p_holm=0.3, wins=10, losses=0, sign_p_holm=0.004)
    return {**row, **kwargs}


def test_verdict_words_follow_the_numbers():
    key, words = findings.comparison_verdict(paired_row(), "better", "worse")
    assert key == "consistent" and "better on 10 of 10 seeds" in words and "includes 0" in words
    key, words = findings.comparison_verdict(paired_row(mean=-0.04, ci_low=-0.083, ci_high=0.003, wins=0, losses=10),
                                             "better", "worse")
    assert key == "consistent" and "worse on 10 of 10 seeds" in words
    key, words = findings.comparison_verdict(paired_row(ci_low=0.01, p_holm=0.01), "better", "worse")
    assert key == "interval" and words.startswith("better") and "excludes 0" in words
    key, words = findings.comparison_verdict(paired_row(wins=6, losses=4, sign_p_holm=0.75), "better", "worse")
    assert key == "none" and words.startswith("no clear difference")
    assert findings.comparison_verdict(paired_row(n=2))[0] == "too_few"
    # An interval that excludes 0 before Holm's adjustment only is not said to include it.
    key, words = findings.comparison_verdict(paired_row(ci_low=0.008, p_holm=0.2, sign_p_holm=1.0))
    assert key == "none" and "excludes 0, but not after Holm's adjustment" in words and "includes 0" not in words
    # Equal on every seed: no direction to test (the sign test's p is NaN), and nothing says "nan".
    key, words = findings.comparison_verdict(paired_row(mean=0.0, ci_low=0.0, ci_high=0.0, p_holm=math.nan, wins=0,
                                                        losses=0, sign_p_holm=math.nan))
    assert key == "none" and words == "no difference: equal on all 10 seeds"


def test_findings_table_verdict_flips_with_the_sign_of_the_differences():
    """The findings are computed from the results: flipping which model is better on every
    seed flips the verdict's words."""
    base = {("svc", None): [0.95] * 6, ("nn", 0.0): [0.90, 0.89, 0.91, 0.90, 0.88, 0.92],
            ("nn_mix", 0.05): [0.95, 0.96, 0.95, 0.97, 0.94, 0.96]}
    verdicts = {}
    for flip in (False, True):
        acc = dict(base)
        if flip:
            acc[("nn", 0.0)], acc[("nn_mix", 0.05)] = acc[("nn_mix", 0.05)], acc[("nn", 0.0)]
        paired = tables.paired_table(frame(acc), NO_CURVES, 1.0)
        table = tables.findings_table(paired, [], pd.DataFrame(columns=["epsilon", "metric"]),
                                      pd.DataFrame(columns=["epsilon"]), pd.DataFrame(
                                          columns=["model", "metric", "notebook", "difference"]), 1.0)
        verdicts[flip] = table.set_index(["question", "model"]).loc[(1, "nn_mix")]
    assert verdicts[False]["verdict"].startswith("better") and verdicts[False]["estimate"] > 0
    assert verdicts[True]["verdict"].startswith("worse") and verdicts[True]["estimate"] < 0


def test_quantity_ratios_are_geometric_means_of_the_per_seed_ratios():
    rows = []
    for seed, (nn_grad, frob_grad) in enumerate([(8.0, 1.0), (10.0, 2.0), (6.0, 1.5)]):
        rows += [dict(seed=seed, model="nn", lam=0.0, phase="after", selected=False, notebook_lambda=True,
                      diverged=False, converged=True, grad=nn_grad, mix_norm=1, spectral_bound=1, frob_bound=1),
                 dict(seed=seed, model="nn_frob", lam=0.01, phase="after", selected=True, notebook_lambda=False,
                      diverged=False, converged=True, grad=frob_grad, mix_norm=1, spectral_bound=1, frob_bound=1)]
    ratios = tables.quantity_ratios(pd.DataFrame(rows), 1.0)
    grad = next(r for r in ratios if r["quantity"] == "grad")
    table = tables.findings_table(pd.DataFrame(columns=["lambda_choice"]), ratios,
                                  pd.DataFrame(columns=["epsilon", "metric"]), pd.DataFrame(columns=["epsilon"]),
                                  pd.DataFrame(columns=["model", "metric", "notebook", "difference"]), 1.0)
    row = table[(table["question"] == 4) & (table["quantity"] == "grad")].iloc[0]
    assert row["estimate"] == pytest.approx((1 / 8 * 2 / 10 * 1.5 / 6) ** (1 / 3))
    assert (grad["wins"], grad["losses"]) == (0, 3) and "lower on 3 of 3 seeds" in row["verdict"]


def test_fidelity_verdict_by_the_tolerances():
    assert findings.fidelity_verdict(0.0, 0.0002)[0] == "exact"
    assert findings.fidelity_verdict(0.01, 0.05)[0] == "tolerance"
    assert findings.fidelity_verdict(0.03, 0.05)[0] == "not_reproduced"
    assert findings.fidelity_verdict(0.0, 0.2)[0] == "not_reproduced"


def test_best_certificate_is_the_largest_radius_the_classifier_has():
    points = pd.DataFrame([dict(seed=0, model="svc", lam=np.nan, radius_mix=np.nan, radius_spectral=np.nan,
                                radius_frob=np.nan, radius_local=np.nan, radius_kernel=r, distance=2.0)
                           for r in (0.2, 0.6)]
                          + [dict(seed=0, model="nn", lam=0.0, radius_mix=0.1, radius_spectral=0.3, radius_frob=0.05,
                                  radius_local=r, distance=2.0) for r in (0.4, 0.8)]).assign(radius_kernel=lambda p: p[
                                      "radius_kernel"].where(p["model"] == "svc"))
    accuracy = robust_accuracy(points, [0.5]).set_index("model")
    assert accuracy.loc["svc", "certified_best"] == 0.5 and accuracy.loc["nn", "certified_best"] == 0.5
    assert math.isnan(accuracy.loc["nn", "certified_kernel"]) and math.isnan(accuracy.loc["svc", "certified_local"])
