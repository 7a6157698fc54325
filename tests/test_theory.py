"""The theory checks (exercises 1 and 2): scripts/theory_hessian.py, scripts/theory_bounds.py,
scripts/normbound/report/equations.py and the theory section of the report."""

import itertools
import json

import markupsafe
import numpy as np
import pandas as pd
import pytest
import torch

from helpers import TEMPLATES

from normbound.report import equations, markup, sections, views
from normbound.report import theory as report_theory
import theory_bounds as tb
import theory_hessian as th
from normbound import bounds, io
from normbound.data import load_dataset
from normbound.model import input_gradients, output_signs

# The figures of each exercise (normbound.layout.THEORY_FIGURE_NAMES).
FIGURES = {"exercise1": ("hessian_convergence", "optimiser_steps"), "exercise2": ("bound_ratios", "pattern_gap")}


# --------------------------------------------------------------------------- exercise 1
def test_autograd_hessian_is_the_second_moment_whatever_the_labels():
    X, t, _ = th.draw_data(500, 5, 2.0, 1.5, seed=3)
    H = th.autograd_hessian(X, t)
    torch.testing.assert_close(H, th.second_moment(X), rtol=0, atol=1e-12)
    # t² = 1 removes the labels, and J is quadratic in w: neither labels nor bias matter.
    torch.testing.assert_close(th.autograd_hessian(X, -t, b=0.7), H, rtol=0, atol=1e-12)


def test_closed_form_eigenvalues():
    mu = torch.tensor([3.0, -4.0, 0.0, 0.0], dtype=torch.float64)  # ‖μ‖ = 5
    eig = torch.linalg.eigvalsh(th.closed_form_hessian(mu, 2.0))
    torch.testing.assert_close(eig, torch.tensor([4.0, 4.0, 4.0, 29.0], dtype=torch.float64))
    assert th.condition_number(th.closed_form_hessian(mu, 2.0)) == pytest.approx(1 + 25 / 4)


@pytest.mark.parametrize("ratio", [0.5, 2.0, 4.0])
def test_condition_number_within_two_percent_at_large_sample(ratio):
    row = th.hessian_row(200_000, 3, ratio, 1.5, seed=1)
    assert row["condition_theory"] == 1 + ratio**2
    assert row["condition_rel_error"] < 0.02
    assert row["eig_max"] == pytest.approx(row["eig_max_theory"], rel=0.02)


def test_hessian_error_shrinks_with_sample_size():
    error = {n: np.median([th.hessian_row(n, 10, 2.0, 1.0, seed)["hessian_rel_error"] for seed in range(5)])
             for n in (1_000, 100_000)}
    # n^(-1/2): a hundredfold sample divides the error by about 10.
    assert error[100_000] < error[1_000] / 5


def test_gradient_descent_steps_follow_the_condition_number():
    rows = th.optimiser_race(ratios=(1.0, 4.0), max_steps=3_000)
    assert rows[1]["condition"] > 5 * rows[0]["condition"]
    assert rows[1]["gd_steps"] > 5 * rows[0]["gd_steps"]
    for row in rows:
        # The slowest mode's worst-case bound (rounded up) bounds the steps and is close to them.
        assert 0.8 * row["gd_steps_bound"] <= row["gd_steps"] <= row["gd_steps_bound"]
        assert row["adam_steps"] is not None


def test_dataset_conditioning_before_and_after_normalisation():
    gen = torch.Generator().manual_seed(0)
    # Independent features on scales 1e-3 .. 1e3 around a large mean: standardising leaves κ near 1.
    X = 50 + torch.randn(5000, 4, generator=gen, dtype=torch.float64) * torch.tensor([1e-3, 1.0, 10.0, 1e3])
    kappa = th.dataset_conditioning(X)
    assert kappa["raw"] > 1e5
    assert kappa["standardised"] < 1.2
    assert kappa["centred"] == pytest.approx(1e12, rel=0.1)


def singular_inputs(n=300, seed=0):
    """Five varying columns a..e and a constant one, ``stuck``: a stuck sensor."""
    X = np.random.default_rng(seed).normal(size=(n, 5)) * [1.0, 10.0, 0.1, 3.0, 1.0] + 2.0
    return np.column_stack([X, np.full(n, 3.7)]), ["a", "b", "c", "d", "e", "stuck"]


@pytest.mark.parametrize("matrix", [
    np.zeros((3, 3)),
    np.diag([1.0, 0.0, -1e-17]),  # rounding below 0: λ_max/λ_min would be negative
    th.second_moment(singular_inputs()[0] - singular_inputs()[0].mean(0)),  # a constant column, centred
    th.second_moment(np.column_stack([np.ones(50), np.arange(50.0), np.arange(50.0) + 1])),  # collinear
], ids=["zero", "negative eigenvalue", "constant column", "collinear columns"])
def test_condition_number_of_a_singular_matrix_is_infinite_never_negative(matrix):
    assert th.condition_number(matrix) == np.inf
    assert th.condition_number(torch.as_tensor(matrix)) == np.inf


def test_condition_number_of_a_regular_matrix():
    assert th.condition_number(np.diag([4.0, 1.0, 2.0])) == 4.0
    assert th.condition_number(np.diag([1e12, 1.0])) == pytest.approx(1e12)


def test_dataset_conditioning_names_a_constant_column():
    X, names = singular_inputs()
    kappa = th.dataset_conditioning(X, names)
    assert kappa["constant"] == ["stuck"] and kappa["collinear"] == []
    # Centred, the stuck column is zero: singular, however the data are scaled afterwards.
    assert kappa["centred"] == kappa["standardised"] == np.inf
    assert all(kappa[version] > 0 for version in th.VERSIONS)
    # Without names, columns are numbered from 1.
    assert th.dataset_conditioning(X)["constant"] == ["6"]


def test_dataset_conditioning_names_collinear_columns_not_near_duplicates():
    X, names = singular_inputs()
    X, names = X[:, :5], names[:5]
    combined = np.column_stack([X, X[:, 0] - 2 * X[:, 3]])
    kappa = th.dataset_conditioning(combined, names + ["a - 2d"])
    assert kappa["collinear"] == ["a", "d", "a - 2d"] and kappa["constant"] == []
    assert kappa["centred"] == kappa["standardised"] == np.inf
    # A near-duplicate column (a second sensor with relative noise 1e-6) is ill-conditioned, not singular.
    noise = np.random.default_rng(1).normal(size=len(X))
    near = th.dataset_conditioning(np.column_stack([X, X[:, 0] * (1 + 1e-6 * noise)]), names + ["a'"])
    assert near["collinear"] == [] and 1e9 < near["standardised"] < np.inf


# Three datasets a user may bring: a stuck sensor, a sensor recorded twice, and a class of three rows.
def csv_dataset(kind):
    X, names = singular_inputs(n=60)
    frame = pd.DataFrame(X, columns=names)
    if kind == "near_duplicate":
        frame["stuck"] = frame["a"] * (1 + 1e-6 * np.random.default_rng(1).normal(size=len(frame)))
    if kind == "tiny_class":
        frame = frame.drop(columns="stuck")
    target = np.zeros(len(frame), dtype=int)
    target[:3 if kind == "tiny_class" else 30] = 1
    return frame.assign(target=target)


@pytest.fixture(scope="module")
def exercise2_results():
    """Exercise 2 on a few random networks per family and no trained ones (a study of baselines)."""
    return tb.exercise2(bounds.random_study(wide_count=1, widths=(2,), narrow_count=2), tb.trained_study([], [], []))


@pytest.mark.parametrize("kind", ["constant_column", "near_duplicate", "tiny_class"])
def test_theory_section_renders_any_dataset(kind, tmp_path, exercise2_results):
    """Exercise 1 on a CSV dataset, written and read back as the report does, renders in both
    formats: an infinite condition number as ∞ (|sci cannot print it), the constant column named."""
    source = str(tmp_path / f"{kind}.csv")
    csv_dataset(kind).to_csv(source, index=False)
    X, _ = load_dataset(source)
    results = th.exercise1(X, th.feature_names(source, "target"), source, ratios=(0.0, 2.0), dims=(2, 3),
                           sizes=(100, 1000), opt_ratios=(0.0, 1.0))
    paths = {"exercise1": str(tmp_path / "exercise1.json"), "exercise2": str(tmp_path / "exercise2.json")}
    io.write_json(paths["exercise1"], results)
    io.write_json(paths["exercise2"], exercise2_results)
    theory = views.read_theory(paths)
    conditioning = theory["exercise1"]["dataset_conditioning"]
    assert all(conditioning[version] > 0 for version in th.VERSIONS)
    rendered = {}
    figures = {name: f"{name}.png" for names in FIGURES.values() for name in names}
    parts = sections.numbered([report_theory.section(dict(theory=theory), list(figures))])
    values = dict(theory=theory, **sections.numbers(parts))
    for fmt in ("html", "tex"):
        words = markup.layout_words(fmt, TEMPLATES, values)
        # The section's blocks drawn by the report's own macros.
        template = (f'{{% from "blocks.{fmt}.j2" import block with context %}}'
                    "{% for b in blocks %}{{ block(b) }}{% endfor %}") if fmt == "html" else (
                    r'\BLOCK{from "blocks.tex.j2" import block with context}\BLOCK{for b in blocks}\VAR{block(b)|safe}\BLOCK{endfor}')
        rendered[fmt] = markup.environment(fmt, TEMPLATES).from_string(template).render(
            blocks=parts[0].blocks, theory_figures=figures, figures={}, sweep_figures={}, **values, **words)
    singular = "The covariance is singular:"
    if kind == "constant_column":
        assert conditioning["constant"] == ["stuck"] and conditioning["standardised"] == np.inf
        assert "column <code>stuck</code> is constant." in rendered["html"]
        assert r"column \texttt{stuck} is constant." in rendered["tex"] and r"$\infty$ centred only" in rendered["tex"]
    else:
        assert singular not in rendered["html"] and singular not in rendered["tex"]


# --------------------------------------------------------------------------- exercise 2
@pytest.mark.parametrize("family", list(bounds.FAMILIES))
@pytest.mark.parametrize("hidden", [6, 40])
def test_bound_chain_holds_on_every_family(family, hidden):
    gen = torch.Generator().manual_seed(hidden)
    W = bounds.random_weights(family, 20, hidden, 8, gen)
    b = bounds.random_biases(W, gen)
    X = torch.randn(300, 8, generator=gen, dtype=torch.float64)
    m = bounds.measure_random(W, b, X, gen, exact=hidden <= 8)
    assert bounds.chain_violations(m) == []
    assert (m["grad"] <= m["grad_max"]).all() and (m["grad_max"] <= m["mix_norm"] * (1 + 1e-9)).all()
    assert (m["mix_norm"] <= m["frob_bound"] * (1 + 1e-9)).all()
    if family == "equal_inputs":  # Cauchy–Schwarz is an equality for equal magnitudes
        np.testing.assert_allclose(m["mix_norm"], m["frob_bound"], rtol=1e-12)
    if family == "aligned":  # the all-active pattern reaches ‖W‖_Mix
        np.testing.assert_allclose(m["pattern_search"], m["mix_norm"], rtol=1e-12)


def test_chain_violations_reports_a_broken_link():
    m = dict(grad=np.array([1.0]), grad_max=np.array([2.0]), pattern_max=np.array([1.5]),
             pattern_search=np.array([1.5]), mix_norm=np.array([3.0]), frob_bound=np.array([4.0]),
             spectral_bound=np.array([3.5]))
    assert len(bounds.chain_violations(m)) == 1 and "grad_max" in bounds.chain_violations(m)[0]


def brute_force_pattern_max(w, s):
    """max over patterns of ‖Σ_j a_j s_j w_j‖ by an explicit Python loop, one network."""
    best = 0.0
    for a in itertools.product((0.0, 1.0), repeat=len(s)):
        best = max(best, float(((torch.tensor(a, dtype=w.dtype) * s) @ w).norm()))
    return best


def test_enumeration_agrees_with_an_explicit_loop():
    gen = torch.Generator().manual_seed(7)
    W = torch.randn(5, 6, 3, generator=gen, dtype=torch.float64)
    s = output_signs(6, torch.float64)
    exact = bounds.pattern_max(W, s)
    np.testing.assert_allclose(exact.numpy(), [brute_force_pattern_max(w, s) for w in W], rtol=1e-12)
    # The ascent is a lower bound and, on so small a network, finds the maximum.
    search = bounds.pattern_search(W, s, gen)
    assert (search <= exact * (1 + 1e-12)).all()
    np.testing.assert_allclose(search.numpy(), exact.numpy(), rtol=1e-12)


def test_enumeration_equals_the_largest_gradient_over_dense_inputs():
    """h = d = 3, full rank: all 8 patterns are reachable (one cone each around the point
    where the three hyperplanes meet), so dense inputs find the enumeration's maximum."""
    gen = torch.Generator().manual_seed(1)
    W = torch.randn(1, 3, 3, generator=gen, dtype=torch.float64)
    b = torch.randn(1, 3, generator=gen, dtype=torch.float64)
    s = output_signs(3, torch.float64)
    vertex = torch.linalg.solve(W[0], -b[0])
    X = vertex + torch.randn(200_000, 3, generator=gen, dtype=torch.float64)
    sampled = input_gradients(W, b, s, X).norm(dim=-1).max()
    assert float(sampled) == pytest.approx(float(bounds.pattern_max(W, s)[0]), rel=1e-12)
    # Wider than the input (h = 6 > d = 2): some patterns are unreachable; enumeration still bounds.
    W, b = torch.randn(1, 6, 2, generator=gen, dtype=torch.float64), torch.randn(1, 6, generator=gen, dtype=torch.float64)
    s = output_signs(6, torch.float64)
    X = 5 * torch.randn(200_000, 2, generator=gen, dtype=torch.float64)
    assert float(input_gradients(W, b, s, X).norm(dim=-1).max()) <= float(bounds.pattern_max(W, s)[0]) * (1 + 1e-12)


# --------------------------------------------------------------------------- scripts and report
def test_mathml_filter_marks_a_math_element_safe():
    out = equations.mathml(r"\|W\|_{\mathrm{Mix}} \le \sqrt{h}\,\|W\|_F", display=True)
    assert isinstance(out, markupsafe.Markup)
    assert out.startswith("<math") and 'display="block"' in out and "<msqrt>" in out


@pytest.mark.slow
def test_workflow_theory_outputs(small_study):
    theory_dir = small_study / "results" / "theory"
    theory = {}
    for exercise in ("exercise1", "exercise2"):
        with open(theory_dir / f"{exercise}.json") as handle:
            theory[exercise] = json.load(handle)
    assert theory["exercise1"]["summary"]["max_autograd_vs_moment"] < 1e-9
    checked = theory["exercise2"]["summary"]["networks_checked"]
    assert checked["random"] > 0 and checked["trained"] > 0
    names = [name for names in FIGURES.values() for name in names]
    for name in names:
        for ext in ("pdf", "png"):
            assert (theory_dir / f"{name}.{ext}").stat().st_size > 10_000
    html = (small_study / "results" / "report" / "report.html").read_text()
    section = html[html.index('<section id="theory">'):]
    section = section[:section.index("</section>")]
    # Equations as MathML (rendered offline), figures embedded, no fallback LaTeX source.
    assert section.count("<math") > 30 and "<code>\\" not in section
    assert section.count("data:image/png;base64,") == len(names)
    tex = (small_study / "results" / "report" / "report.tex").read_text()
    assert r"\section{Theory, checked by computation}" in tex
    assert r"1 + \frac{\|\mu\|^2}{\sigma^2}" in tex
