"""The report's figures drawn from hand-made results: what each must show (the spectral
bound, points rather than bars on a logarithmic axis, a logarithmic step axis, ties and
overlapping seeds in the λ selection, the theory figures' legends and an infinite condition
number), symbols as mathtext, and the words of the bound chain's caption."""

import math
import os
import re

import matplotlib
import numpy as np
import pandas as pd
import pytest

from helpers import TEMPLATES

import figures
import theory_bounds as tb
from normbound import bounds
import theory_hessian as th

LAMS = {"frob": 0.005, "mix": 0.025}
RADII = ("radius_mix", "radius_spectral", "radius_frob", "radius_local")


@pytest.fixture
def study():
    """Two seeds; every network before and after training at the notebook's λ, and curves."""
    rows, curves = [], []
    for seed in (0, 1):
        for model, lam in (("nn", 0.0), ("nn_frob", 0.005), ("nn_mix", 0.025)):
            for phase, scale in (("before", 5.0), ("after", 1.0 + seed)):
                rows.append(dict(seed=seed, model=model, lam=lam, phase=phase, selected=phase == "after",
                                 notebook_lambda=True, train_acc=0.9, test_acc=0.8 + 0.1 * seed, grad=0.3 * scale,
                                 mix_norm=scale, spectral_bound=0.8 * scale, frob_bound=1.5 * scale, diverged=False))
            for step in (0, 10, 100, 1000):
                curves.append(dict(seed=seed, model=model, lam=lam, notebook_lambda=True, subset="train", step=step,
                                   train_loss=1 / (1 + step), test_acc=0.9, grad=1.0, mix_norm=2.0))
    selection = pd.DataFrame([dict(seed=seed, model=model, lam=lam, val_acc=acc, val_loss=0.1, diverged=False,
                                   selected=chosen)
                              for seed in (0, 1) for model, grid in (("nn_frob", (0.005, 0.01)), ("nn_mix", (0.025, 0.05)))
                              # both λ tie on validation accuracy; the larger is chosen
                              for lam, acc, chosen in ((grid[0], 0.9, False), (grid[1], 0.9, True))])
    # Robustness: 4 test points per seed; the networks' radii and distances, the SVC's distances only.
    robustness = pd.DataFrame([dict(seed=seed, model=model, lam=lam, point=point, correct=True,
                                    **{c: math.nan if model == "svc" else 0.2 * point for c in RADII},
                                    radius_kernel=0.1 * point if model == "svc" else math.nan,
                                    distance=0.3 * point + 0.1 * seed)
                               for seed in (0, 1) for model, lam in (("svc", math.nan), ("nn", 0.0), ("nn_mix", 0.025))
                               for point in range(4)])
    return figures.Study(pd.DataFrame(rows), selection, pd.DataFrame(curves), LAMS, robustness, [0, 0.25, 0.5, 1.0])


@pytest.fixture(autouse=True)
def close_figures():
    """pyplot keeps every figure a test drew until it is closed."""
    yield
    matplotlib.pyplot.close("all")


def draw(name, study):
    figures.plots.style()
    return figures.FIGURES[name](study)


def test_norms_against_lambda_show_the_spectral_bound(study):
    fig = draw("norms_vs_lambda", study)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert r"$\sqrt{h}\,\|W\|_2$" in labels and len(labels) == 4


def test_bound_chain_has_a_panel_per_middle_bound_and_counts_initialisations(study):
    fig = draw("bound_chain", study)
    # Each axis names its ratio's largest value (Grad/B = 0.3 and 0.3/0.8; B/(√h‖W‖_F) = 1/1.5 and 0.8/1.5).
    left, right = fig.axes[:2]
    assert left.get_xlabel() == r"Grad / $\|W\|_\mathrm{Mix}$, largest 0.300"
    assert left.get_ylabel() == r"$\|W\|_\mathrm{Mix}$ / ($\sqrt{h}\,\|W\|_F$), largest 0.667"
    assert right.get_xlabel() == r"Grad / $\sqrt{h}\,\|W\|_2$, largest 0.375"
    assert right.get_ylabel() == r"$\sqrt{h}\,\|W\|_2$ / ($\sqrt{h}\,\|W\|_F$), largest 0.533"
    # 6 trained networks and 2 initialisations, not "12 networks"
    assert fig._suptitle.get_text().startswith("6 trained networks; before training, 2 initialisations")
    # One legend entry and one point per initialisation, not one per model on top of each other.
    labels = [text.get_text() for text in fig.legends[0].get_texts()]
    assert [label for label in labels if "before" in label] == ["before training (one initialisation per seed)"]
    assert len(left.collections[0].get_offsets()) == 2


def test_bound_chain_shades_where_the_chain_would_fail(study):
    """The shading covers the ratios above 1, where no network can lie, not the square
    [0, 1]² where every network lies."""
    ax = draw("bound_chain", study).axes[0]
    (region,) = ax.patches
    shaded = lambda x, y: region.contains_point(ax.transData.transform((x, y)))  # noqa: E731
    assert not shaded(0.5, 0.5) and not shaded(0.99, 0.99)
    assert shaded(1.1, 0.5) and shaded(0.5, 1.1) and shaded(1.1, 1.1)


def test_before_after_draws_points_not_bars(study):
    fig = draw("before_after", study)
    assert len(fig.axes) == 5
    for ax in fig.axes:
        assert not [p for p in ax.patches if isinstance(p, matplotlib.patches.Rectangle)], ax.get_title()
    assert all(ax.get_yscale() == "log" for ax in fig.axes[1:])


def test_training_curves_on_a_logarithmic_step_axis(study):
    fig = draw("training_curves", study)
    assert all(ax.get_xscale() == "log" for ax in fig.axes)
    steps = fig.axes[0].get_lines()[0].get_xdata()
    assert list(steps) == [10, 100, 1000]  # step 0 has no place on the axis


def test_lambda_selection_shows_ties_and_keeps_seeds_apart(study):
    fig = draw("lambda_chosen", study)
    ax = fig.axes[0]
    offsets = np.concatenate([c.get_offsets() for c in ax.collections if len(c.get_offsets())])
    # two seeds × (one chosen, one tied) points, none on top of another
    assert len(offsets) == 4 and len({tuple(p) for p in offsets.round(6).tolist()}) == 4
    assert "2 seeds, 2 with a tie" in ax.get_title()
    assert any("tied" in text.get_text() for text in fig.legends[0].get_texts())
    # The legend's markers in one neutral colour: every panel draws them in its penalty's.
    handles = fig.legends[0].legend_handles
    edges = {matplotlib.colors.to_hex(handle.get_markeredgecolor()) for handle in handles}
    assert len(handles) == 2 and len(edges) == 1 and edges.isdisjoint(figures.COLOURS.values())


def test_bound_chain_caption_names_the_axes_as_drawn():
    with open(os.path.join(TEMPLATES, "captions", "bound_chain.rst")) as handle:
        caption = handle.read()
    # "y against x": the old caption had them the other way round.
    assert "B/(√h‖W‖_F) against Grad/B" in caption and "√h‖W‖₂" in caption


def test_robustness_curves_have_a_panel_per_classifier_and_bands_inside_zero_one(study):
    fig = draw("robustness_curves", study)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["SVC", "NN", "NN+Mix (λ: 0.025)"]
    # The SVC has its kernel certificate and the attack's curve; a network its four and the attack's.
    assert [len(ax.get_lines()) for ax in panels] == [2, 5, 5]
    for ax in panels:
        for band in ax.collections:
            y = np.concatenate([path.vertices[:, 1] for path in band.get_paths()])
            assert y.min() >= 0 and y.max() <= 1
    # Seed 0's distances 0, 0.3, 0.6, 0.9 and seed 1's 0.1, 0.4, 0.7, 1.0: at ε = 0.5, 2 of 4 each.
    empirical = panels[1].get_lines()[-1]
    assert list(empirical.get_xdata()) == [0, 0.25, 0.5, 1.0]
    assert empirical.get_ydata()[2] == 0.5


@pytest.mark.parametrize("name", ["accuracy_vs_lambda", "norms_vs_lambda", "lambda_chosen"])
def test_penalty_figures_have_a_panel_per_trained_penalty_and_no_other(study, name):
    """The hand-made study trained nn_frob and nn_mix, not the comparators: two panels, in
    one row; with no penalised network, none, and the figure says so."""
    visible = lambda fig: [ax.get_title() for ax in fig.axes if ax.axison]  # noqa: E731
    titles = visible(draw(name, study))
    assert len(titles) == 2 and titles[0].startswith("NN+Frob") and titles[1].startswith("NN+Mix"), titles
    unpenalised = figures.Study(study.metrics[study.metrics["model"] == "nn"], study.selection.iloc[:0], study.curves,
                                LAMS, study.robustness, study.epsilons)
    fig = draw(name, unpenalised)
    assert visible(fig) == [] and [t.get_text() for t in fig.texts] == ["no penalised network in this study"]


# --------------------------------------------------------------------------- the theory's figures
@pytest.fixture(scope="module")
def theory():
    """Small versions of the theory rules' tables: exercise 1's grid, optimiser race and the
    conditioning of a dataset with a constant column; exercise 2's random families and
    trained networks (two seeds, before training, NN and two λ of NN+Frob)."""
    X = np.random.default_rng(0).normal(size=(200, 3))
    stuck = np.column_stack([X, np.full(len(X), 3.7)])
    trained = pd.DataFrame([dict(seed=seed, model=model, lam=lam, phase=phase, mix_over_frob=0.5 + 0.1 * seed,
                                 grad_over_mix=0.2 + lam)
                            for seed in (0, 1)
                            for model, lam, phase in (("nn", 0.0, "before"), ("nn_frob", 0.005, "before"),
                                                      ("nn", 0.0, "after"), ("nn_frob", 0.005, "after"),
                                                      ("nn_frob", 0.05, "after"))])
    return dict(grid=th.hessian_grid(ratios=(0.0, 2.0), dims=(2, 3), sizes=(100, 1000)),
                optimiser=th.optimiser_race(ratios=(0.0, 1.0)), dataset=th.dataset_conditioning(stuck),
                random=bounds.random_study(wide_count=2, widths=(2, 4), narrow_count=3), trained=trained)


THEORY_FIGURES = {"hessian_convergence": lambda t: th.hessian_convergence(t["grid"]),
                  "optimiser_steps": lambda t: th.optimiser_steps(t["optimiser"], t["dataset"]),
                  "bound_ratios": lambda t: tb.bound_ratios(t["random"], t["trained"]),
                  "pattern_gap": lambda t: tb.pattern_gap(t["random"])}
# The report's figures that the hand-made study can draw (it has no sweep).
SINGLE_CELL = [name for name in figures.FIGURES if not name.startswith("sweep")]


@pytest.mark.parametrize("name", SINGLE_CELL + list(THEORY_FIGURES))
def test_figure_text_writes_symbols_as_mathtext(name, study, theory):
    """No raw subscript ("‖W‖_Mix", "s_j W_ji") outside $...$: matplotlib prints it as is."""
    figures.plots.style()
    fig = THEORY_FIGURES[name](theory) if name in THEORY_FIGURES else figures.FIGURES[name](study)
    texts = [text.get_text() for text in fig.findobj(matplotlib.text.Text)]
    assert [text for text in texts if "_" in re.sub(r"\$[^$]*\$", "", text)] == []


def test_bound_ratios_legend_explains_the_shades_of_lambda(theory):
    fig = THEORY_FIGURES["bound_ratios"](theory)
    labels = [text.get_text() for legend in fig.legends for text in legend.get_texts()]
    assert "light: a grid's smallest λ" in labels and "dark: its largest λ" in labels
    assert "aligned signs" in labels and "Frobenius penalty" in labels


def test_optimiser_steps_draws_an_infinite_condition_number_as_a_hatched_bar(theory):
    assert [math.isinf(theory["dataset"][k]) for k in th.VERSIONS] == [False, True, True, True]
    ax = THEORY_FIGURES["optimiser_steps"](theory).axes[1]
    bars = ax.patches
    heights = [bar.get_height() for bar in bars]
    assert all(map(math.isfinite, heights)) and heights[0] < min(heights[1:])
    assert [bool(bar.get_hatch()) for bar in bars] == [False, True, True, True]
    assert [text.get_text() for text in ax.texts][1:] == ["∞ (singular)"] * 3
    assert ax.get_ylim()[1] > max(heights)  # room for the labels
