"""Exercise 2, checked by computation: how tight are the bounds on ‖∂f/∂x‖?

For f(x) = Σ_j s_j relu(W_j x + b_j), ∂f/∂x_i = Σ_j s_j 1[a_j > 0] W_ji, hence
‖∂f/∂x‖ ≤ min(‖W‖_Mix, √h ‖W‖₂) ≤ √h ‖W‖_F; neither middle bound is always the smaller.
Between the gradient and ‖W‖_Mix sits the largest gradient over all 2^h
activation patterns, max_a ‖Σ_j a_j s_j W_j‖. That maximum bounds the gradient at every x
(every reachable pattern is one of the 2^h); it equals max_x ‖∂f/∂x‖ when every pattern is
reachable, which holds when W has full row rank h ≤ d (then W x + b can take any signs).

Measured on random weight families (:func:`normbound.bounds.random_study`, run once by the rule
``theory_random``: they do not depend on the study's results, which change more often) and
here on every trained network of the study:
Grad (mean ‖∂f/∂x‖ over inputs) / ‖W‖_Mix, ‖W‖_Mix / (√h ‖W‖_F) and √h ‖W‖₂ / ‖W‖_Mix
(below 1 where the spectral bound is the tighter); for small widths the
exact pattern maximum by enumeration; for wide networks a lower bound on it by ascent.
Writes a JSON of results and two figures (PDF and PNG each).

By hand:  python scripts/theory_random.py --out /tmp/random_families.csv
          python scripts/theory_bounds.py --random /tmp/random_families.csv \\
              --networks results/noise0.04_h100_steps10000/seed0/networks.csv \\
              --weights results/noise0.04_h100_steps10000/seed0/weights.npz --seeds 0 \\
              --json exercise2.json --figdir figures
"""

import matplotlib.patches
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from normbound import entry, io, layout, lam_text, plots
from normbound.bounds import (FAMILIES, INPUTS, POINTS, SEARCH_ITERS, SEARCH_STARTS, WIDE, add_ratios, chain_violations,
                              pattern_search)
from normbound.model import output_signs
from normbound.penalties import PENALTIES



def trained_study(networks_paths, weights_paths, seeds, seed=0):
    """The study's networks on the whole training set: their rows of the training jobs'
    ``networks.csv`` (before and after training), plus the pattern ascent on the trained
    weights. One row per network and phase. ``seeds[i]`` is the seed of
    ``weights_paths[i]``. A network is found by (seed, model, λ): λ is the same float in
    both files (written from the config, read back exactly)."""
    # No networks (a model subset of baselines): no rows, with the types a file's rows have.
    metrics = pd.concat([pd.read_csv(path) for path in networks_paths] or [pd.DataFrame(columns=list(MEASURED))],
                        ignore_index=True).astype(MEASURED)
    metrics = metrics[~metrics.diverged.astype(bool)].copy()
    gen = torch.Generator().manual_seed(seed)
    found = [pd.DataFrame(columns=["seed", "model", "lam", "phase", "pattern_search"])]
    for path, weights_seed in zip(weights_paths, seeds, strict=True):
        with np.load(path) as z:
            keep = z["subset"] == "train"
            W = torch.as_tensor(z["W"][keep], dtype=torch.float64)
            s = output_signs(W.shape[1], W.dtype)
            found.append(pd.DataFrame(dict(seed=weights_seed, model=z["model"][keep], lam=z["lam"][keep],
                                           phase="after", pattern_search=pattern_search(W, s, gen).numpy())))
    search = pd.concat(found, ignore_index=True).astype({"seed": int, "lam": float, "pattern_search": float})
    table = metrics.merge(search, on=["seed", "model", "lam", "phase"], how="left")
    bad = chain_violations({k: table[k].to_numpy() for k in
                            ("grad", "grad_max", "mix_norm", "frob_bound", "spectral_bound")}
                           | {"pattern_search": table.pattern_search.fillna(0).to_numpy()})
    if bad:
        raise RuntimeError("bound chain violated on trained networks:\n" + "\n".join(bad))
    return add_ratios(table)


# The columns of a training job's networks.csv that the trained networks' rows use, and their types.
MEASURED = {"seed": int, "model": str, "lam": float, "phase": str, "grad": float, "grad_max": float, "mix_norm": float,
            "frob_bound": float, "spectral_bound": float, "diverged": bool}


RATIOS = ("grad_over_mix", "grad_max_over_mix", "search_over_mix", "mix_over_frob", "spectral_over_mix")
NARROW_RATIOS = ("grad_max_over_pattern", "pattern_over_mix", "mix_over_frob")


def spread(values):
    """Median, smallest and largest of a column, for the report."""
    values = pd.Series(values).dropna()
    return dict(median=float(values.median()), min=float(values.min()), max=float(values.max()), count=len(values))


def summarise(random, trained):
    """The tables the report shows, computed from the per-network rows."""
    wide = random[random.hidden == WIDE]
    narrow = random[random.hidden != WIDE]
    families = {f: {r: spread(wide[wide.family == f][r]) for r in RATIOS} for f in FAMILIES}
    enumeration = {f: {str(h): dict(**{r: spread(g[r]) for r in NARROW_RATIOS},
                                    all_reachable=float(g.all_reachable.mean()))
                       for h, g in narrow[narrow.family == f].groupby("hidden")} for f in FAMILIES}
    # The study's networks per λ: a ratio pooled over λ would hide how it moves with λ.
    before, after = trained[trained.phase == "before"], trained[trained.phase == "after"]
    groups = [("before", "before", "", before)] + [
        (model if model == "nn" else f"{model} {lam_text(lam)}", model, "" if model == "nn" else lam_text(lam), g)
        for (model, lam), g in after.groupby(["model", "lam"])]
    return dict(families=families, enumeration=enumeration,
                trained={key: {r: spread(g[r]) for r in RATIOS} for key, _, _, g in groups if len(g)},
                trained_groups=[[key, model, lam] for key, model, lam, g in groups if len(g)],
                # Over every λ of a model: how much looser than ‖W‖_Mix the spectral bound gets.
                largest_spectral_over_mix={model: float(g.spectral_over_mix.max()) for model, g in after.groupby("model")},
                # Before training a seed's networks are copies of one initialisation.
                networks_checked=dict(random=len(random), trained=len(after), initialisations=before.seed.nunique()),
                narrow_all_reachable=float(narrow.all_reachable.mean()),
                search_matches_enumeration=float((narrow.pattern_search >= narrow.pattern_max * (1 - 1e-9)).mean()))


COLOURS = dict(zip(FAMILIES, ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3")))
MIX, FROB_BOUND = plots.NORMS["mix_norm"], plots.NORMS["frob_bound"]
# The trained networks in panel (b): colour map (darker: larger λ), marker and legend entry.
TRAINED_STYLE = dict(nn=("black", "o", "no penalty"),
                     **{p.model: (p.shades, p.marker, f"{p.name} penalty") for p in PENALTIES.values()})
SHADES = (0.35, 1.0)  # the colour maps' range, from a grid's smallest λ to its largest


def bound_ratios(random, trained):
    """Grad/‖W‖_Mix against ‖W‖_Mix/(√h‖W‖_F): (a) random families, (b) trained networks."""
    fig, axes = plt.subplots(1, 2, figsize=(plots.WIDTH, 3.6), sharex=True, sharey=True)
    wide = random[random.hidden == WIDE]
    for family, label in FAMILIES.items():
        g = wide[wide.family == family]
        axes[0].scatter(g.mix_over_frob, g.grad_over_mix, s=10, alpha=0.6, color=COLOURS[family], label=label)
    axes[0].set_title(f"(a) random families, h = {WIDE}")
    ax = axes[1]
    before = trained[trained.phase == "before"]
    ax.scatter(before.mix_over_frob, before.grad_over_mix, s=28, color="grey", marker="x", label="before training")
    after = trained[trained.phase == "after"]
    for model, (colour, marker, label) in TRAINED_STYLE.items():
        g = after[after.model == model]
        if model == "nn":
            ax.scatter(g.mix_over_frob, g.grad_over_mix, s=28, color=colour, marker=marker, label=label)
            continue
        # Rank, not value, so every λ of the grid gets its own shade, from the smallest λ's.
        shade = (g.lam.rank(method="dense") - 1) / max(1, g.lam.nunique() - 1)
        ax.scatter(g.mix_over_frob, g.grad_over_mix, s=28, c=plt.get_cmap(colour)(np.interp(shade, (0, 1), SHADES)),
                   marker=marker, edgecolor="none", label=label)
    ax.set_title("(b) the study's networks")
    # The shades as grey swatches of their own: they mean the same for every penalty.
    shades = [matplotlib.patches.Patch(color=plt.get_cmap("Greys")(shade), label=words)
              for shade, words in zip(SHADES, ("light: a grid's smallest λ", "dark: its largest λ"))]
    for ax, side, extra in zip(axes, ("left", "right"), ([], shades)):
        ax.set(xlim=(0, 1.05), xlabel=f"{MIX} / ({FROB_BOUND})")
        plots.plain_log(ax)
        ax.axvline(1, color="grey", lw=0.6)
        # Below the panels: inside, the entries covered points.
        fig.legend(handles=ax.get_legend_handles_labels()[0] + extra, loc=f"outside lower {side}", ncol=2,
                   frameon=False, fontsize=6.5)
    axes[0].set_ylabel(f"Grad / {MIX}")
    return fig


def pattern_gap(random):
    """The gap from the sampled gradient to √h‖W‖_F split into three factors, against h."""
    narrow = random[random.hidden != WIDE]
    fig, axes = plt.subplots(1, 3, figsize=(plots.WIDTH, 3.2), sharey=True)
    titles = dict(grad_max_over_pattern="(a) sampled max / pattern max",
                  pattern_over_mix=f"(b) pattern max / {MIX}",
                  mix_over_frob=f"(c) {MIX} / ({FROB_BOUND})")
    for ax, (ratio, title) in zip(axes, titles.items()):
        for family, label in FAMILIES.items():
            g = narrow[narrow.family == family].groupby("hidden")[ratio]
            q = g.quantile([0.1, 0.5, 0.9]).unstack()
            ax.plot(q.index, q[0.5], marker="o", ms=4, color=COLOURS[family], label=label)
            ax.fill_between(q.index, q[0.1], q[0.9], color=COLOURS[family], alpha=0.15)
        ax.set(title=title, xlabel="hidden units h", xticks=sorted(narrow.hidden.unique()), ylim=(0, 1.05))
    axes[0].set_ylabel("ratio (median, 10–90 %)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=3, frameon=False, fontsize=7)
    return fig


def read_random(path):
    """:func:`random_study`'s table as written to CSV, every float read back exactly."""
    return pd.read_csv(path, float_precision="round_trip")


def theory_bounds(random, networks, weights, seeds, json, figures, seed=0, threads=1):
    """Every measurement of exercise 2 on the study's networks (``networks``, ``weights``:
    each seed's files), beside the random families' (``random``); write ``json`` and
    ``figures`` (name -> (pdf, png))."""
    torch.set_num_threads(threads)
    families = read_random(random)
    trained = trained_study(networks, weights, seeds, seed)
    plots.draw({"bound_ratios": lambda: bound_ratios(families, trained), "pattern_gap": lambda: pattern_gap(families)},
               figures)
    result = exercise2(families, trained, seed)
    io.write_json(json, result)
    return result


def exercise2(random, trained, seed=0):
    """The results the report reads: the settings, the widths and counts as the random
    table holds them (:func:`random_study`'s arguments), and :func:`summarise`."""
    networks = random.groupby("hidden").size() // len(FAMILIES)
    widths = [int(h) for h in networks.index if h != WIDE]
    return dict(
        settings=dict(families=list(FAMILIES.items()), inputs=INPUTS, wide=WIDE, wide_count=int(networks[WIDE]),
                      widths=widths, narrow_count=int(networks[widths].max()), points=POINTS,
                      search_starts=SEARCH_STARTS, search_iters=SEARCH_ITERS, seed=seed),
        summary=summarise(random, trained),
    )


SCRIPT = entry.Script(
    __doc__, theory_bounds,
    random=entry.inp("the random families' table (scripts/theory_random.py)"),
    networks=entry.inp("networks.csv of each seed (one cell)", many=True),
    weights=entry.inp("weights.npz of each seed, in the same order", many=True),
    seeds=entry.Arg(lambda smk, name: smk.params.seeds,
                    dict(nargs="*", type=int, default=[], help="the seed of each weights file, in order")),
    json=entry.out("output: results as JSON"),
    figures=entry.figure_outputs(layout.THEORY_FIGURE_NAMES["theory_bounds"]),
    seed=entry.option("seed of the pattern ascent (default: 0)", type=int, default=0),
    threads=entry.threads(1, "torch threads (default: 1)"),
)
main = SCRIPT.main

if __name__ == "__main__":
    SCRIPT.start(globals())
