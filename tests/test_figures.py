"""The report's figures drawn from hand-made results: what each must show (the spectral
bound, points rather than bars on a logarithmic axis, a logarithmic step axis, ties and
overlapping seeds in the λ selection) and the words of figure 3's caption."""

import math
import os

import matplotlib
import numpy as np
import pandas as pd
import pytest

from helpers import TEMPLATES

import figures

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


def draw(name, study):
    figures.plots.style()
    return figures.FIGURES[name](study)


def test_norms_against_lambda_show_the_spectral_bound(study):
    fig = draw("norms_vs_lambda", study)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert r"$\sqrt{h}\,\|W\|_2$" in labels and len(labels) == 4


def test_bound_chain_has_a_panel_per_middle_bound_and_counts_initialisations(study):
    fig = draw("bound_chain", study)
    assert [ax.get_xlabel() for ax in fig.axes[:2]] == [r"Grad / $\|W\|_\mathrm{Mix}$", r"Grad / $\sqrt{h}\,\|W\|_2$"]
    # 6 trained networks and 2 initialisations, not "12 networks"
    assert fig._suptitle.get_text().startswith("6 trained networks; before training, 2 initialisations")


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
