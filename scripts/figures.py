"""The report's figures from the study's results: each as a vector PDF (for LaTeX) and a
PNG (embedded in the HTML report and in Snakemake's own report).

Means and error bars (one standard deviation over seeds) come from
:func:`tables.summary_by`, the same summary as the report's tables; diverged networks are
left out, as there. The single-cell figures draw the report's cell (the config's first);
the sweep figures draw :func:`normbound.summary.sweep_summary` of every cell, the numbers
of the report's sweep table. The notebook's λ is the results' own (``notebook_lambda``).

The robustness figure draws the corrected resampled t interval over seeds as its band
(:func:`normbound.summary.summarise`, as the tables).

Run by hand, it draws the figures that the workflow draws for the config (``--config``),
from the results files at their results/ paths unless told otherwise.

By hand:  python scripts/figures.py --metrics results/metrics.csv --selection results/selection.csv \
              --curves results/curves.csv --robustness results/robustness.csv --outdir /tmp/figures
"""

import math
from dataclasses import dataclass, field

import matplotlib.lines
import matplotlib.patches
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd

from normbound import LABELS, MODELS, NETWORKS, PENALTY, SWEEP_AXES, entry, lam_text, layout, plots
from normbound.config import swept
from normbound.penalties import PENALTIES
from normbound.plots import WIDTH, plain_log
from normbound.summary import (PAIRS, ROBUST_MEASURES, along, comparison_rows, in_cell, paired_difference, robust_accuracy,
                               seed_accuracy, summary_by, sweep_summary, ties, trained, usable, usable_points)

COLOURS = {"rf": "#8c6d31", "svc": "#7b4173", "nn": "#252525", **{p.model: p.colour for p in PENALTIES.values()}}
QUANTITIES = {"grad": r"Grad = mean $\|\nabla_x f\|$", **plots.NORMS}
QUANTITY_STYLE = {"grad": dict(color="C0", marker="o", ls="-"), "mix_norm": dict(color="C1", marker="s", ls="--"),
                  "spectral_bound": dict(color="C3", marker="D", ls="-."), "frob_bound": dict(color="C2", marker="^", ls=":")}
# The two upper bounds of max ‖∇f‖ below √h‖W‖_F; neither is always the smaller.
MIDDLE_BOUNDS = ("mix_norm", "spectral_bound")
LAMBDA = "penalty strength λ"
# The robustness figure's curves: the global certificates in their bounds' styles, the
# local certificate and the attack drawn heavier.
ROBUST_STYLE = {
    "certified_frob": dict(label=r"certified, $\sqrt{h}\,\|W\|_F$", color="C2", ls=":", lw=1.2),
    "certified_spectral": dict(label=r"certified, $\sqrt{h}\,\|W\|_2$", color="C3", ls="-.", lw=1.2),
    "certified_mix": dict(label=r"certified, $\|W\|_\mathrm{Mix}$", color="C1", ls="--", lw=1.2),
    "certified_local": dict(label="certified, local", color="C4", ls="-", lw=1.8),
    "certified_kernel": dict(label="certified, RBF kernel", color="C5", ls="-", lw=1.8),
    "empirical": dict(label="not broken by the attack", color="k", ls="-", lw=1.8),
}


@dataclass
class Study:
    """The results a figure draws from: the report's cell's tables, and for the sweep
    figures every cell's :func:`normbound.summary.sweep_summary` and the report's cell."""

    metrics: pd.DataFrame
    selection: pd.DataFrame
    curves: pd.DataFrame
    notebook_lambdas: dict
    robustness: pd.DataFrame  # results/robustness.csv: one row per classifier, seed and test point
    epsilons: list  # the robustness figure's radii
    sweep: pd.DataFrame = None
    cell: dict = field(default_factory=dict)
    # n_test/n_train of one split, for the corrected intervals drawn as bands; None: no bands.
    test_over_train: float | None = None


def wide(summary: pd.DataFrame, key: str) -> pd.DataFrame:
    """A :func:`tables.summary_by` frame with one row per ``key``: columns mean/std per metric."""
    return summary.pivot(index=key, columns="metric", values=["mean", "std"])


def penalty_panels(study: "Study", height: float):
    """A figure with one panel per penalised model that the study trained (that has rows in
    its results, diverged or not), two a row with a shared y axis, in the order of
    :data:`PENALTY`; returns the figure, its axes and ``(panel, (model, penalty))`` pairs. A
    study without penalised networks gets one row of empty space saying so."""
    trained_models = set(study.metrics["model"])
    penalties = [(model, penalty) for model, penalty in PENALTY.items() if model in trained_models]
    rows = max(1, math.ceil(len(penalties) / 2))
    fig, axes = plt.subplots(rows, 2, figsize=(WIDTH, rows * height), sharey=True, squeeze=False)
    for ax in axes.flat[len(penalties):]:
        ax.set_axis_off()
    if not penalties:
        fig.text(0.5, 0.5, "no penalised network in this study", ha="center", va="center", color="0.4")
    return fig, axes, list(zip(axes.flat, penalties))


def labelled(fig, axes, ylabel: str, ncol: int):
    """``fig`` with its panels' first column's y label and one legend of every panel's
    entries (each label once) below them."""
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    handles = {label: h for ax in axes.flat for h, label in zip(*ax.get_legend_handles_labels())}
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncol=ncol, frameon=False)
    return fig


def mark_notebook_lambda(ax, study: "Study", penalty: str) -> None:
    """The notebook's λ of ``penalty`` as a dotted line; the comparators have none."""
    if penalty not in study.notebook_lambdas:
        return
    lam = study.notebook_lambdas[penalty]
    ax.axvline(lam, color="0.5", lw=0.8, ls=(0, (2, 2)), zorder=0)
    ax.annotate("notebook λ", (lam, 1), xycoords=("data", "axes fraction"), xytext=(3, -3),
                textcoords="offset points", va="top", fontsize=7, color="0.4")


def penalised(metrics: pd.DataFrame, model: str, columns) -> pd.DataFrame:
    """Mean and std per λ of ``columns`` for ``model``'s trained, non-diverged networks."""
    return wide(summary_by(trained(metrics)[lambda m: m["model"] == model], ["lam"], columns), "lam")


def accuracy_vs_lambda(study: Study):
    """Test (and training) accuracy against λ per penalty; baselines as bands."""
    fig, axes, panels = penalty_panels(study, 2.6)
    reference = wide(summary_by(trained(study.metrics), ["model"], ["test_acc"]), "model")
    for ax, (model, penalty) in panels:
        for other in ("rf", "svc", "nn"):
            if other in reference.index:
                mean, std = reference.loc[other, ("mean", "test_acc")], reference.loc[other, ("std", "test_acc")]
                ax.axhspan(mean - np.nan_to_num(std), mean + np.nan_to_num(std), color=COLOURS[other], alpha=0.15, lw=0)
                ax.axhline(mean, color=COLOURS[other], lw=1, label=f"{LABELS[other]} test (mean ± sd)")
        if model in set(trained(study.metrics)["model"]):  # every network may have diverged
            s = penalised(study.metrics, model, ["test_acc", "train_acc"])
            ax.errorbar(s.index, s[("mean", "test_acc")], s[("std", "test_acc")], color=COLOURS[model], marker="o",
                        ms=4, capsize=2.5, label=f"{LABELS[model]} test")
            ax.errorbar(s.index, s[("mean", "train_acc")], s[("std", "train_acc")], color=COLOURS[model], marker="o",
                        ms=4, mfc="white", ls="--", capsize=2.5, label=f"{LABELS[model]} train")
        mark_notebook_lambda(ax, study, penalty)
        ax.set(xscale="log", xlabel=LAMBDA, title=f"{LABELS[model]}: penalty λ·${PENALTIES[penalty].tex}$")
    return labelled(fig, axes, "accuracy", 4)


def norms_vs_lambda(study: Study):
    """Grad, ‖W‖_Mix, √h‖W‖₂ and √h‖W‖_F against λ (log-log); the unpenalised NN as dashed lines."""
    fig, axes, panels = penalty_panels(study, 2.8)
    quantities = list(QUANTITIES)
    unpenalised = wide(summary_by(trained(study.metrics), ["model"], quantities), "model")
    for ax, (model, penalty) in panels:
        if model in set(trained(study.metrics)["model"]):  # every network may have diverged
            s = penalised(study.metrics, model, quantities)
            for q in quantities:
                ax.errorbar(s.index, s[("mean", q)], s[("std", q)], ms=4, capsize=2.5, label=QUANTITIES[q],
                            **QUANTITY_STYLE[q])
                if "nn" in unpenalised.index:
                    ax.axhline(unpenalised.loc["nn", ("mean", q)], color=QUANTITY_STYLE[q]["color"], lw=0.8,
                               ls=(0, (5, 3)), alpha=0.7)
        mark_notebook_lambda(ax, study, penalty)
        ax.set(xscale="log", xlabel=LAMBDA, title=f"{LABELS[model]} (thin dashed: NN without penalty)")
        plain_log(ax)
    return labelled(fig, axes, "mean ± sd over seeds", 4)


def bound_chain(study: Study):
    """For every network before and after training, each path of the bound chain
    Grad ≤ B ≤ √h‖W‖_F with B = ‖W‖_Mix (left) and B = √h‖W‖₂ (right): B/(√h‖W‖_F)
    against Grad/B, each axis labelled with its largest ratio. A link of the chain fails
    where a ratio exceeds 1: that region is shaded, so that it shows empty."""
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.4), sharex=True, sharey=True)
    nets = study.metrics[study.metrics["model"].isin(NETWORKS) & ~study.metrics["diverged"].astype(bool)]
    after = nets[nets["phase"] == "after"]
    # Before training a seed's networks are copies of one initialisation: one point per seed.
    before = nets[nets["phase"] == "before"].drop_duplicates("seed")
    ratios = {bound: (nets["grad"] / nets[bound], nets[bound] / nets["frob_bound"]) for bound in MIDDLE_BOUNDS}
    limit = max(1.15, 1.05 * max(max(x.max(), y.max()) for x, y in ratios.values()))
    for ax, bound in zip(axes, MIDDLE_BOUNDS):
        fails = [(1, 0), (limit, 0), (limit, limit), (0, limit), (0, 1), (1, 1)]
        ax.add_patch(matplotlib.patches.Polygon(fails, color="#f4c7c3", lw=0, zorder=0,
                                                label="a link of the chain would fail here"))
        x, y = ratios[bound]
        ax.scatter(x[before.index], y[before.index], s=22, lw=0.9, facecolors="none", edgecolors="0.35", zorder=3,
                   label="before training (one initialisation per seed)")
        for model in NETWORKS:
            mine = after.index[after["model"] == model]
            if len(mine):
                ax.scatter(x[mine], y[mine], s=16, lw=0, alpha=0.8, color=COLOURS[model],
                           label=f"{LABELS[model]}, trained")
        ax.axvline(1, color="k", lw=0.8)
        ax.axhline(1, color="k", lw=0.8)
        ax.set(xlim=(0, limit), ylim=(0, limit), title=f"B = {QUANTITIES[bound]}",
               xlabel=f"Grad / {QUANTITIES[bound]}, largest {x.max():.3f}",
               ylabel=f"{QUANTITIES[bound]} / ({QUANTITIES['frob_bound']}), largest {y.max():.3f}")
    fig.suptitle(f"{len(after)} trained networks; before training, {len(before)} initialisations (one per seed, "
                 "shared by its networks)", fontsize=9)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=3, frameon=False, markerscale=1.3)
    return fig


def before_after(study: Study):
    """Test accuracy and the four quantities before and after training: mean ± sd as
    points (a bar's length on a logarithmic axis would depend on where the axis starts)."""
    nets = study.metrics[~study.metrics["diverged"].astype(bool) & study.metrics["notebook_lambda"]]
    models = [m for m in NETWORKS if m in set(nets["model"])]
    columns = ["test_acc", *QUANTITIES]
    s = summary_by(nets, ["model", "phase"], columns).set_index(["model", "phase", "metric"])
    fig, axes = plt.subplots(1, len(columns), figsize=(WIDTH, 2.6))
    positions = np.arange(len(models))
    for ax, column in zip(axes, columns):
        for offset, phase, fill in ((-0.15, "before", "0.55"), (0.15, "after", None)):
            for position, model in zip(positions, models):
                row = s.loc[(model, phase, column)]
                ax.errorbar(position + offset, row["mean"], row["std"], fmt="o", ms=4, capsize=2, lw=0.8,
                            color=fill or COLOURS[model], mfc="white" if phase == "before" else None)
        ax.set_xticks(positions, [LABELS[m] for m in models], rotation=30, ha="right")
        ax.set_xlim(-0.6, len(models) - 0.4)
        ax.set_title("test accuracy" if column == "test_acc" else QUANTITIES[column])
        if column != "test_acc":
            plain_log(ax)
        ax.grid(axis="x", visible=False)
    at = ", ".join(f"{LABELS[m]} at λ={lam_text(study.notebook_lambdas[PENALTY[m]])}" for m in models if m in PENALTY)
    fig.supxlabel(f"grey open: before training; colour: after ({at}); mean ± sd over seeds", fontsize=8)
    return fig


def training_curves(study: Study):
    """Hinge loss, test accuracy, Grad and ‖W‖_Mix during training (mean ± sd band)."""
    curves = study.curves[(study.curves["subset"] == "train") & study.curves["notebook_lambda"]]
    columns = {"train_loss": "training hinge loss", "test_acc": "test accuracy", "grad": QUANTITIES["grad"],
               "mix_norm": QUANTITIES["mix_norm"]}
    curves = curves[curves["step"] > 0]  # the step axis is logarithmic
    fig, axes = plt.subplots(2, 2, figsize=(WIDTH, 4.6), sharex=True)
    for model, mine in curves.groupby("model", sort=False):
        s = wide(summary_by(mine, ["step"], list(columns)), "step")
        label = LABELS[model] if model == "nn" else f"{LABELS[model]} (λ={lam_text(mine['lam'].iloc[0])})"
        for ax, column in zip(axes.flat, columns):
            mean, std = s[("mean", column)], s[("std", column)].fillna(0)
            ax.plot(s.index, mean, color=COLOURS[model], lw=1.2, label=label)
            ax.fill_between(s.index, mean - std, mean + std, color=COLOURS[model], alpha=0.2, lw=0)
    for ax, (column, title) in zip(axes.flat, columns.items()):
        ax.set_title(title)
        if column != "test_acc":
            plain_log(ax)
    for ax in axes.flat:
        plain_log(ax, "x")
    for ax in axes[1]:
        ax.set_xlabel("Adam step (logarithmic)")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncol=3, frameon=False)
    return fig


# The seeds' lines in the λ-selection figure are shifted apart by this many decades each,
# so that seeds with equal validation accuracies stay visible (10 seeds: ±0.09 decades).
SEED_SHIFT = 0.02


def lambda_chosen(study: Study):
    """Validation accuracy against λ for every seed (slightly shifted apart), the chosen λ
    filled, the other λ tied with it for the best validation accuracy open."""
    fig, axes, panels = penalty_panels(study, 2.7)
    selection = study.selection[~study.selection["diverged"].astype(bool)]
    for ax, (model, penalty) in panels:
        mine = selection[selection["model"] == model]
        groups = list(mine.groupby("seed"))
        tied_seeds = 0
        for i, (seed, runs) in enumerate(groups):
            x = runs["lam"] * 10 ** (SEED_SHIFT * (i - (len(groups) - 1) / 2))
            chosen = runs["selected"].astype(bool)
            tied = ties(runs)["accuracy"] & ~chosen
            tied_seeds += tied.any()
            ax.plot(x, runs["val_acc"], color="0.65", lw=0.7, zorder=1)
            ax.scatter(x[tied], runs["val_acc"][tied], s=24, facecolors="none", edgecolors=COLOURS[model], lw=1,
                       zorder=2)
            ax.scatter(x[chosen], runs["val_acc"][chosen], s=24, color=COLOURS[model], zorder=3)
        for lam in mine["lam"].unique():  # the grid's λ, which the shifted seeds lie around
            ax.axvline(lam, color="0.88", lw=0.6, zorder=0)
        for lam, count in mine.loc[mine["selected"].astype(bool), "lam"].value_counts().items():
            ax.annotate(f"{count}×", (lam, 0), xycoords=("data", "axes fraction"), xytext=(0, 3),
                        textcoords="offset points", ha="center", fontsize=8, color=COLOURS[model])
        mark_notebook_lambda(ax, study, penalty)
        ax.margins(y=0.15)  # room for the counts below and the notebook's λ above the points
        ax.set(xscale="log", xlabel=LAMBDA,
               title=f"{LABELS[model]}: {len(groups)} seeds, {tied_seeds} with a tie for the best")
    for ax in axes[:, 0]:
        ax.set_ylabel("validation accuracy")
    # The markers' shapes in a neutral colour: each panel draws them in its penalty's colour.
    marker = dict(ls="", marker="o", ms=5, mew=1, color="0.3")
    handles = [plt.Line2D([], [], **marker, label="chosen λ of a seed"),
               plt.Line2D([], [], **marker, mfc="none",
                          label="tied with it for the best validation accuracy, not chosen")]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False,
               title="grey: one line per seed; coloured count at the bottom: seeds for which that λ was chosen",
               title_fontsize=8)
    return fig


# The sweep axes as an x-axis label, and as "key = value" for the other axes' values.
AXIS_LABELS = {"label_noise": "label noise rate", "hidden": "hidden units h", "steps": "Adam steps"}
AXIS_SYMBOLS = {"label_noise": "noise", "hidden": "h", "steps": "steps"}
# The sweep figure's columns: test accuracy at the chosen λ, the networks' quantities at the notebook's λ.
SWEEP_COLUMNS = {"test_acc": "test accuracy", "grad": "Grad", "mix_norm": QUANTITIES["mix_norm"],
                 "frob_bound": QUANTITIES["frob_bound"]}


def swept_axes(summary: pd.DataFrame) -> list:
    """The sweep axes with more than one value among the summary's cells."""
    return [key for key in SWEEP_AXES if summary[key].nunique() > 1]


def elsewhere(cell: dict, axis: str) -> str:
    """Where the other axes stand: "at noise = 0.04, steps = 300"."""
    return "at " + ", ".join(f"{AXIS_SYMBOLS[key]} = {value:g}" for key, value in cell.items() if key != axis)


def axis_scale(ax, values) -> None:
    """A logarithmic x-axis for positive values spanning a decade or more (widths, steps)."""
    if min(values) > 0 and max(values) / min(values) >= 10:
        plain_log(ax, "x")
    ax.set_xticks(sorted(values), [f"{v:g}" for v in sorted(values)])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def sweep(study: Study):
    """One row of panels per swept key: test accuracy of every model at the λ chosen on
    validation data, and Grad, ‖W‖_Mix and √h‖W‖_F of the networks at the notebook's λ,
    mean ± sd over seeds, against the key; every other key at the report cell's value."""
    keys = swept_axes(study.sweep)
    fig, grid = plt.subplots(len(keys), len(SWEEP_COLUMNS), figsize=(WIDTH, 0.5 + 2.3 * len(keys)), squeeze=False)
    after = study.sweep[study.sweep["phase"] == "after"]
    for axes, key in zip(grid, keys):
        part = along(after, key, study.cell)
        for ax, (metric, title) in zip(axes, SWEEP_COLUMNS.items()):
            for model in MODELS:
                line = part[(part["model"] == model) & (part["metric"] == metric)].sort_values(key)
                if len(line):
                    ax.errorbar(line[key], line["mean"], line["std"], color=COLOURS[model], marker="o", ms=4,
                                capsize=2.5, label=LABELS[model])
            axis_scale(ax, part[key].unique())
            ax.set(title=title, xlabel=AXIS_LABELS[key])
            if metric != "test_acc":
                plain_log(ax)
        axes[0].set_ylabel(elsewhere(study.cell, key))
    fig.suptitle("test accuracy at the λ chosen on validation data; Grad and norms of the networks at the "
                 "notebook's λ", fontsize=8.5)
    handles = {label: h for ax in grid[0] for h, label in zip(*ax.get_legend_handles_labels())}
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncol=len(handles), frameon=False,
               title="mean ± sd over seeds", title_fontsize=8)
    return fig


def sweep_width_ratio(study: Study):
    """‖W‖_Mix / (√h‖W‖_F) of the networks at the notebook's λ against h (mean ± sd over
    seeds), after training and at the initialisation, beside the theory's range: at most 1
    (the worst case of ‖W‖_Mix ≤ √h‖W‖_F, where it is tight) and at least 1/√h."""
    part = along(study.sweep[study.sweep["metric"] == "mix_over_frob"], "hidden", study.cell)
    fig, ax = plt.subplots(figsize=(WIDTH, 3.0))
    widths = np.geomspace(part["hidden"].min(), part["hidden"].max(), 50)
    ax.plot(widths, np.ones_like(widths), color="k", lw=1,
            label=r"worst case: $\|W\|_\mathrm{Mix} = \sqrt{h}\,\|W\|_F$")
    ax.plot(widths, 1 / np.sqrt(widths), color="k", lw=1, ls=":", label=r"least possible: $1/\sqrt{h}$")
    for model in NETWORKS:
        line = part[(part["model"] == model) & (part["phase"] == "after")].sort_values("hidden")
        if len(line):
            ax.errorbar(line["hidden"], line["mean"], line["std"], color=COLOURS[model], marker="o", ms=4,
                        capsize=2.5, label=f"{LABELS[model]}, trained")
    # Every network of a seed starts from one initialisation: the first network model's rows show it.
    start = part[part["phase"] == "before"]
    start = start[start["model"] == start["model"].min()].sort_values("hidden")
    ax.errorbar(start["hidden"], start["mean"], start["std"], color="0.55", marker="o", mfc="white", ms=4,
                capsize=2.5, ls="--", label="initialisation")
    axis_scale(ax, part["hidden"].unique())
    plain_log(ax)
    ax.set(xlabel=AXIS_LABELS["hidden"], ylabel=r"$\|W\|_\mathrm{Mix} / (\sqrt{h}\,\|W\|_F)$",
           title=f"{elsewhere(study.cell, 'hidden')}; mean ± sd over seeds")
    fig.legend(loc="outside right center", frameon=False)
    return fig


def paired_differences(study: Study):
    """Each paired difference in test accuracy at the λ chosen on validation data, the
    report's main comparison: one grey dot per seed, and the mean with its corrected
    interval (:func:`normbound.summary.paired_difference`, as the paired table) in the
    first model's colour. Networks left out of the statistics are left out here too."""
    after = comparison_rows(study.metrics, chosen=True)
    accuracy = seed_accuracy(after[usable(after)])
    pairs = [(m, o) for m, o in PAIRS if m in accuracy and o in accuracy]
    fig, ax = plt.subplots(figsize=(WIDTH * 0.75, 0.45 * len(pairs) + 1.2))
    for y, (model, other) in enumerate(pairs):
        seeds = (accuracy[model] - accuracy[other]).dropna()
        # Seeds spread a little apart vertically, so that equal differences stay visible.
        offsets = np.linspace(-0.18, 0.18, len(seeds)) if len(seeds) > 1 else np.zeros(1)
        ax.plot(seeds.to_numpy(), y + offsets, "o", ms=3, color="0.6")
        stats = paired_difference(seeds, study.test_over_train) if study.test_over_train else {}
        if np.isfinite(stats.get("ci_low", np.nan)):
            ax.plot([stats["ci_low"], stats["ci_high"]], [y, y], color=COLOURS[model], lw=2.2)
        ax.plot([seeds.mean()], [y], "D", ms=6, color=COLOURS[model], markeredgecolor="k", mew=0.6)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(range(len(pairs)), [f"{LABELS[m]} − {LABELS[o]}" for m, o in pairs])
    ax.invert_yaxis()
    ax.set_xlabel("difference in test accuracy (first model − second)")
    # The legend in neutral colours: each row's colour is its first model's.
    legend = [matplotlib.lines.Line2D([], [], ls="", marker="o", ms=3, color="0.6", label="one seed"),
              matplotlib.lines.Line2D([], [], color="0.3", lw=2.2, label="corrected interval of the mean"),
              matplotlib.lines.Line2D([], [], ls="", marker="D", ms=6, color="white", markeredgecolor="k",
                                      label="mean over seeds")]
    fig.legend(handles=legend, loc="outside lower center", ncol=3, frameon=False)
    return fig


def robustness_curves(study: Study):
    """Robust accuracy against ε, one panel per classifier (networks at the chosen λ, the
    SVC): the fraction of test points each certificate certifies and the attack leaves
    unbroken at radius ε; mean over seeds with the corrected interval as a band (the
    tables' standard, :mod:`normbound.summary`). Networks left out of the statistics
    (diverged, not converged) are left out here too."""
    accuracy = robust_accuracy(usable_points(study.robustness, study.metrics), study.epsilons)
    models = [m for m in MODELS if m in set(accuracy["model"])]
    summary = summary_by(accuracy, ["model", "epsilon"], list(ROBUST_MEASURES.values()), study.test_over_train)
    columns = min(3, max(1, len(models)))
    rows = max(1, math.ceil(len(models) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(WIDTH, 2.4 * rows + 0.5), sharex=True, sharey=True, squeeze=False)
    for ax, model in zip(axes.flat, models):
        mine = summary[(summary["model"] == model) & (summary["n"] > 0)]
        for measure, style in ROBUST_STYLE.items():
            curve = mine[mine["metric"] == measure]
            if len(curve):
                ax.plot(curve["epsilon"], curve["mean"], **style)
                ax.fill_between(curve["epsilon"], curve["ci_low"].fillna(curve["mean"]),
                                curve["ci_high"].fillna(curve["mean"]), color=style["color"], alpha=0.15, lw=0)
        lams = accuracy.loc[accuracy["model"] == model, "lam"]
        # The range of the λ chosen over seeds: a list of them overran the next panel's title.
        span = lam_text(lams.min()) + (f"–{lam_text(lams.max())}" if lams.nunique() > 1 else "")
        chosen = f" (λ: {span})" if model in PENALTY else ""
        ax.set_title(LABELS[model] + chosen)
        ax.set_ylim(0, 1.02)
    for ax in axes.flat[len(models):]:
        ax.set_visible(False)
    for ax in axes.flat[max(0, len(models) - columns):len(models)]:  # the lowest panel of each column
        ax.xaxis.set_tick_params(labelbottom=True)
        ax.set_xlabel("radius ε (L2, normalised inputs)")
    return labelled(fig, axes, "robust accuracy", 3)


FIGURES = {f.__name__: f for f in (paired_differences, accuracy_vs_lambda, norms_vs_lambda, bound_chain, before_after,
                                   training_curves, lambda_chosen, robustness_curves, sweep, sweep_width_ratio)}


def notebook_lambdas(metrics: pd.DataFrame) -> dict:
    """The notebook's λ per penalty, as the results flag it (``notebook_lambda``, set by
    the aggregation from the config): the figures match no floats of their own."""
    flagged = metrics[metrics["notebook_lambda"].astype(bool) & metrics["model"].isin(list(PENALTY))]
    return {PENALTY[model]: lam for model, lam in zip(flagged["model"], flagged["lam"])}


def load_study(metrics: str, selection: str, curves: str, robustness: str, epsilons, cell: dict,
               test_fraction: float) -> Study:
    """The results files, the single-cell figures' part of them ``cell``'s."""
    tables = [pd.read_csv(path) for path in (metrics, selection, curves, robustness)]
    metrics, selection, curves, robustness = (in_cell(frame, cell) for frame in tables)
    return Study(metrics, selection, curves, notebook_lambdas(metrics), robustness, list(epsilons),
                 sweep_summary(tables[0]), cell, test_fraction / (1 - test_fraction))


def run(metrics, selection, curves, robustness, epsilons, cell, test_fraction, figures):
    """Draw ``figures`` (name -> (pdf, png))."""
    plots.draw(FIGURES, figures, load_study(metrics, selection, curves, robustness, epsilons, cell, test_fraction))


SCRIPT = entry.Script(
    __doc__, run,
    **{name: entry.inp(f"the study's {name}.csv", default=path)
       for name, path in (("metrics", layout.METRICS), ("selection", layout.SELECTION), ("curves", layout.CURVES),
                          ("robustness", layout.ROBUSTNESS))},
    epsilons=entry.param(lambda config: config["robustness"]["epsilons"]),
    cell=entry.REPORT_CELL,
    test_fraction=entry.param(lambda config: config["test_fraction"]),
    # By hand, the figures that the workflow draws for the config.
    figures=entry.figure_outputs(lambda config: [*layout.FIGURE_NAMES, *layout.sweep_figure_names(swept(config))],
                                 flag="--outdir"),
)
main = SCRIPT.main

if __name__ == "__main__":
    SCRIPT.start(globals())
