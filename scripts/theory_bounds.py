"""Exercise 2, checked by computation: how tight are the bounds on ‖∂f/∂x‖?

For f(x) = Σ_j s_j relu(W_j x + b_j), ∂f/∂x_i = Σ_j s_j 1[a_j > 0] W_ji, hence
‖∂f/∂x‖ ≤ min(‖W‖_Mix, √h ‖W‖₂) ≤ √h ‖W‖_F; neither middle bound is always the smaller.
Between the gradient and ‖W‖_Mix sits the largest gradient over all 2^h
activation patterns, max_a ‖Σ_j a_j s_j W_j‖. That maximum bounds the gradient at every x
(every reachable pattern is one of the 2^h); it equals max_x ‖∂f/∂x‖ when every pattern is
reachable, which holds when W has full row rank h ≤ d (then W x + b can take any signs).

Measured on random weight families (:func:`random_study`, run once by the rule
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

import argparse
import itertools

import matplotlib.patches
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from normbound import io, plots
from normbound.penalties import PENALTIES
from normbound.model import (BOUND_RTOL, bound_violations, frobenius_bound, input_gradients, mixed_norm,
                             output_signs, spectral_bound)

# Random families of h x d weights W, as the setup's: "units" are the rows W_j (hidden units
# j), "inputs" the columns W_:,i. The names are plain words (the report's tables print them
# as text); theory.text.j2 defines each family in symbols.
FAMILIES = {
    "dense": "dense Gaussian",
    "sparse": "sparse (10 % nonzero)",
    "few_units": "a few large units",
    "equal_inputs": "equal magnitudes per input",
    "aligned": "aligned signs",
}
INPUTS = 30  # d, as the breast-cancer data
WIDE = 100  # h of the study's networks
WIDE_COUNT = 100  # networks per family at h = WIDE
WIDTHS = (2, 4, 8, 12, 16)  # enumerated exactly: 2^16 patterns is still cheap
NARROW_COUNT = 30  # networks per family and width
POINTS = 1000  # inputs x ~ N(0, I) at which Grad is averaged (the study's data are standardised)
SEARCH_STARTS = 64  # random starting directions of the pattern ascent (plus one per unit)
SEARCH_ITERS = 30
FIGURES = ("bound_ratios", "pattern_gap")  # each drawn by the function of its name


def random_weights(family, count, hidden, inputs, gen):
    """``count`` weight matrices ``(count, hidden, inputs)`` of one family, float64."""
    shape = (count, hidden, inputs)
    G = torch.randn(shape, generator=gen, dtype=torch.float64)
    if family == "dense":
        return G
    if family == "sparse":
        return G * (torch.rand(shape, generator=gen, dtype=torch.float64) < 0.1)
    if family == "few_units":
        # One unit in twenty (at least one) is ten times larger than the rest.
        large = max(1, hidden // 20)
        scale = torch.ones(count, hidden, 1, dtype=torch.float64)
        scale[:, :large] = 10.0
        return G * scale
    if family == "equal_inputs":
        # |W_ji| = c_i for every unit j, random signs: ‖W_:,i‖₁ = √h ‖W_:,i‖₂ for each input i.
        signs = torch.where(torch.rand(shape, generator=gen) < 0.5, -1.0, 1.0).to(torch.float64)
        return signs * G[:, :1].abs()
    if family == "aligned":
        return output_signs(hidden, torch.float64)[:, None] * G.abs()
    raise ValueError(f"unknown family {family!r} (one of {', '.join(FAMILIES)})")


def random_biases(W, gen):
    """b_j = ‖W_j‖ g_j, g ~ N(0, 1): for x ~ N(0, I) each unit is active about half the time."""
    return W.norm(dim=-1) * torch.randn(W.shape[:2], generator=gen, dtype=W.dtype)


def all_patterns(hidden):
    """Every activation pattern a ∈ {0, 1}^h as rows of a ``(2^h, h)`` float64 tensor."""
    codes = torch.arange(2**hidden)
    return ((codes[:, None] >> torch.arange(hidden)) & 1).to(torch.float64)


def pattern_max(W, s):
    """max over all a ∈ {0, 1}^h of ‖Σ_j a_j s_j W_j‖, by enumeration, per network.

    ``W (M, h, d)``; returns ``(M,)``. The maximum over ALL patterns: an upper bound of the
    maximum over the patterns some input reaches (equal when all are reachable)."""
    patterns = all_patterns(W.shape[1])
    # One network at a time: 2^16 patterns x 30 inputs is 16 MB; a batch would multiply it.
    return torch.stack([(patterns @ (s[:, None] * w)).norm(dim=-1).max() for w in W])


def pattern_search(W, s, gen, starts=SEARCH_STARTS, iters=SEARCH_ITERS):
    """A lower bound on :func:`pattern_max` for wide networks, by ascent.

    max_a ‖Σ_j a_j v_j‖ (v_j = s_j W_j) equals max over unit u of Σ_j relu(v_j · u). From a
    direction u, the best pattern is a = 1[v · u > 0] and the best direction for that pattern
    is g = Σ_j a_j v_j; alternating the two never decreases ‖g‖. Starts: ``starts`` random
    directions and every v_j. Returns the best ‖g‖ found ``(M,)``."""
    V = s[:, None] * W  # (M, h, d)
    U = torch.cat([torch.randn(len(W), starts, W.shape[-1], generator=gen, dtype=W.dtype), V], dim=1)
    best = torch.zeros(len(W), dtype=W.dtype)
    for _ in range(iters):
        G = (U @ V.transpose(1, 2) > 0).to(W.dtype) @ V  # (M, S, d)
        norms = G.norm(dim=-1)
        best = torch.maximum(best, norms.max(1).values)
        U = G / norms.clamp_min(1e-300)[..., None]
    return best


def measure_random(W, b, X, gen, exact):
    """The chain for random networks: mean and largest ‖∂f/∂x‖ over ``X``, the pattern
    maximum (``exact``: enumeration; otherwise the ascent's lower bound), the norms."""
    s = output_signs(W.shape[1], W.dtype)
    norms = input_gradients(W, b, s, X).norm(dim=-1)  # (N, M)
    out = dict(grad=norms.mean(0), grad_max=norms.max(0).values, mix_norm=mixed_norm(W),
               frob_bound=frobenius_bound(W), spectral_bound=spectral_bound(W),
               pattern_search=pattern_search(W, s, gen))
    if exact:
        out["pattern_max"] = pattern_max(W, s)
        # Every pattern is reachable when the nonzero units' weights are linearly independent.
        nonzero = (W.abs().sum(-1) > 0).sum(-1)
        out["all_reachable"] = (torch.linalg.matrix_rank(W) == nonzero).to(W.dtype)
    return {k: v.numpy() for k, v in out.items()}


def chain_violations(m):
    """The links of the bound chain that fail, beyond float tolerance, as messages."""
    bad = bound_violations(m)
    links = [("pattern_search", "mix_norm")]
    if "pattern_max" in m:
        links += [("grad_max", "pattern_max"), ("pattern_search", "pattern_max"), ("pattern_max", "mix_norm")]
    for lower, upper in links:
        over = m[lower] > m[upper] * (1 + BOUND_RTOL) + 1e-12
        bad += [f"network {i}: {lower}={m[lower][i]:.9g} > {upper}={m[upper][i]:.9g}" for i in np.flatnonzero(over)]
    return bad


def random_study(seed=0, wide_count=WIDE_COUNT, widths=WIDTHS, narrow_count=NARROW_COUNT):
    """Every random family at the study's width (``wide_count`` networks each) and at the
    enumerable ``widths`` (``narrow_count`` each): one table row per network. Raises if any
    link of the bound chain fails."""
    rows = []
    for (f, family), hidden in itertools.product(enumerate(FAMILIES), (WIDE, *widths)):
        gen = torch.Generator().manual_seed(seed * 1_000_000 + f * 1_000 + hidden)
        count = wide_count if hidden == WIDE else narrow_count
        W = random_weights(family, count, hidden, INPUTS, gen)
        b = random_biases(W, gen)
        X = torch.randn(POINTS, INPUTS, generator=gen, dtype=torch.float64)
        m = measure_random(W, b, X, gen, exact=hidden != WIDE)
        bad = chain_violations(m)
        if bad:
            raise RuntimeError(f"bound chain violated, family {family}, h = {hidden}:\n" + "\n".join(bad))
        rows += [dict(family=family, hidden=hidden, **{k: float(v[i]) for k, v in m.items()}) for i in range(count)]
    return add_ratios(pd.DataFrame(rows))


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


def add_ratios(table):
    """The ratios the report discusses, each ≤ 1 by the bound chain except
    ``spectral_over_mix``, which says which of the two middle bounds is the tighter."""
    table = table.copy()
    table["grad_over_mix"] = table.grad / table.mix_norm
    table["grad_max_over_mix"] = table.grad_max / table.mix_norm
    table["search_over_mix"] = table.pattern_search / table.mix_norm
    table["mix_over_frob"] = table.mix_norm / table.frob_bound
    table["spectral_over_mix"] = table.spectral_bound / table.mix_norm
    if "pattern_max" in table:
        table["grad_max_over_pattern"] = table.grad_max / table.pattern_max
        table["pattern_over_mix"] = table.pattern_max / table.mix_norm
    return table


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
        (model if model == "nn" else f"{model} {lam:g}", model, "" if model == "nn" else f"{lam:g}", g)
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


def theory_bounds(random_path, networks_paths, weights_paths, seeds, json_path, figures, seed=0, threads=1):
    """Every measurement of exercise 2 on the study's networks, beside the random families'
    (``random_path``); write ``json_path`` and ``figures`` (name -> (pdf, png))."""
    torch.set_num_threads(threads)
    random = read_random(random_path)
    trained = trained_study(networks_paths, weights_paths, seeds, seed)
    plots.draw({"bound_ratios": lambda: bound_ratios(random, trained), "pattern_gap": lambda: pattern_gap(random)},
               figures)
    result = exercise2(random, trained, seed)
    io.write_json(json_path, result)
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--random", required=True, help="the random families' table (scripts/theory_random.py)")
    parser.add_argument("--networks", nargs="*", default=[], help="networks.csv of each seed (one cell)")
    parser.add_argument("--weights", nargs="*", default=[], help="weights.npz of each seed, in the same order")
    parser.add_argument("--seeds", nargs="*", type=int, default=[], help="the seed of each weights file, in order")
    parser.add_argument("--json", required=True, help="output: results as JSON")
    parser.add_argument("--figdir", required=True, help="output folder for the figures")
    parser.add_argument("--seed", type=int, default=0, help="seed of the pattern ascent (default: 0)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    args = parser.parse_args(argv)
    io.setup_logging()
    figures = plots.files_in(args.figdir, FIGURES)
    theory_bounds(args.random, args.networks, args.weights, args.seeds, args.json, figures, args.seed, args.threads)


if __name__ == "__main__":
    if "snakemake" in globals():
        io.setup_logging(snakemake.log[0])
        theory_bounds(snakemake.input.random, snakemake.input.networks, snakemake.input.weights, snakemake.params.seeds,
                      snakemake.output.json, plots.outputs(snakemake.output), threads=snakemake.threads)
    else:
        main()
