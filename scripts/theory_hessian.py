"""Exercise 1, checked by computation: the conditioning of the linear model's objective.

J(w) = E[½ (1 − (wᵀx + b) t)²] with t ∈ {−1, 1}. Because t² = 1 its Hessian in w (b held
fixed) is E[x xᵀ], whatever the labels; for x ~ N(μ, σ²I) that is σ²I + μμᵀ, with
eigenvalues σ² + ‖μ‖² (along μ) and σ² (d − 1 times), so the condition number is
1 + ‖μ‖²/σ². Trained jointly with the bias, the Hessian in (w, b) is E[(x, 1)(x, 1)ᵀ],
whose condition number grows much faster with ‖μ‖ (:func:`joint_condition_theory`).

This script measures it: the autograd Hessian of the empirical objective against the
sample's E[x xᵀ] and against the closed form, over a grid of ‖μ‖/σ, dimensions and sample
sizes, with b fixed and with b trained jointly; gradient descent and Adam steps (b fixed
at 0) to a fixed tolerance against the condition number;
and the condition number of a dataset's E[x xᵀ] before and after normalisation: ∞ where
the matrix is singular (a constant or collinear column, which the JSON names), written as
JSON's Infinity, which the report's json.load reads back.
Writes a JSON of results and two figures (PDF and PNG each).

The dataset is the config's (``--config`` by hand), as the workflow passes it.

By hand:  python scripts/theory_hessian.py --json exercise1.json --figdir figures
"""

import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from normbound import entry, io, layout, plots
from normbound.data import load_dataset, normalise
from normbound.train import adam_schedule, adam_update

# The measured grid. Sample sizes reach 10^5 so the error's n^(-1/2) decay is visible over
# three decades; d = 30 is the breast-cancer input dimension.
RATIOS = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)  # ‖μ‖/σ
DIMS = (2, 10, 30)
SIZES = (100, 1_000, 10_000, 100_000)
SIGMA = 1.5  # not 1, so a formula that drops σ² would show
# Optimiser comparison: one problem per ratio, solved to a relative suboptimality TOL.
OPT_RATIOS = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 11.0, 16.0)
OPT_DIM, OPT_SIZE, OPT_TOL, OPT_MAX_STEPS = 10, 10_000, 1e-6, 20_000
ADAM_LRS = tuple(10.0 ** np.arange(-3.0, 0.01, 0.5))  # Adam gets its best rate from this grid
# The report quotes the condition numbers' error apart for d up to this, where d/n stays small.
SMALL_D = 10


def draw_data(n, d, ratio, sigma, seed):
    """``X (n, d)`` ~ N(μ, σ²I) with ‖μ‖ = ratio·σ along a random direction, labels
    ``t (n,)`` in {−1, 1} from a random hyperplane through μ (so the problem has signal; the
    Hessian does not depend on t). Returns ``X, t, mu`` as float64 tensors."""
    gen = torch.Generator().manual_seed(seed)
    direction = torch.randn(d, generator=gen, dtype=torch.float64)
    mu = ratio * sigma * direction / direction.norm()
    X = mu + sigma * torch.randn(n, d, generator=gen, dtype=torch.float64)
    normal = torch.randn(d, generator=gen, dtype=torch.float64)
    t = torch.where((X - mu) @ normal >= 0, 1.0, -1.0).to(torch.float64)
    return X, t, mu


def objective(w, X, t, b=0.0):
    """The exercise's J(w) = mean of ½ (1 − (wᵀx + b) t)² over the sample."""
    return 0.5 * ((1 - (X @ w + b) * t) ** 2).mean()


def autograd_hessian(X, t, b=0.0):
    """∂²J/∂w² by automatic differentiation, at w = 0 (J is quadratic: any w gives the same).
    With :func:`with_bias` inputs it is the Hessian in (w, b) jointly: wᵀx + b = (w, b)ᵀ(x, 1)."""
    w0 = torch.zeros(X.shape[1], dtype=X.dtype)
    return torch.autograd.functional.hessian(lambda w: objective(w, X, t, b), w0, vectorize=True)


def with_bias(X):
    """The inputs ``(n, d)`` with a column of ones appended ``(n, d + 1)``: the bias as a weight."""
    return torch.cat([X, torch.ones(len(X), 1, dtype=X.dtype)], dim=1)


def second_moment(X):
    """The sample's E[x xᵀ] = XᵀX / n."""
    return X.T @ X / len(X)


def closed_form_hessian(mu, sigma):
    """σ²I + μμᵀ, the Hessian of J in w for x ~ N(μ, σ²I)."""
    return sigma**2 * torch.eye(len(mu), dtype=mu.dtype) + torch.outer(mu, mu)


def joint_condition_theory(ratio, sigma):
    """The condition number of E[(x, 1)(x, 1)ᵀ] for x ~ N(μ, σ²I), ‖μ‖ = ratio·σ.

    On vectors (v, 0) with v ⊥ μ the matrix is σ²; on the plane of (μ/‖μ‖, 0) and (0, 1) it
    is [[σ² + ‖μ‖², ‖μ‖], [‖μ‖, 1]], with trace T = σ² + ‖μ‖² + 1 and determinant σ². Its
    eigenvalues λ± = (T ± √(T² − 4σ²))/2 enclose σ² (λ₊ ≥ 1, λ₊λ₋ = σ²), so κ = λ₊/λ₋ = λ₊²/σ²."""
    trace = sigma**2 * (1 + ratio**2) + 1
    largest = (trace + math.sqrt(trace**2 - 4 * sigma**2)) / 2
    return largest**2 / sigma**2


def negligible(eig):
    """Which of a symmetric matrix's ascending eigenvalues ``eig`` are 0 within rounding: at
    most d·eps times the largest (numpy's rank tolerance)."""
    return eig <= len(eig) * np.finfo(np.float64).eps * eig[-1]


def condition_number(H):
    """λ_max / λ_min of a symmetric positive semidefinite matrix (array or tensor), never
    negative: rounding can push an eigenvalue of a singular matrix below 0, so negative
    eigenvalues count as 0, and a :func:`negligible` λ_min makes the matrix singular, κ = ∞."""
    eig = np.clip(np.linalg.eigvalsh(np.asarray(H, dtype=np.float64)), 0, None)
    return math.inf if negligible(eig)[0] else float(eig[-1] / eig[0])


def hessian_row(n, d, ratio, sigma, seed):
    """One grid point: the autograd Hessian against E[x xᵀ] and against σ²I + μμᵀ, and the
    joint Hessian in (w, b) against E[(x, 1)(x, 1)ᵀ] and :func:`joint_condition_theory`."""
    X, t, mu = draw_data(n, d, ratio, sigma, seed)
    H_auto = autograd_hessian(X, t)
    H_true = closed_form_hessian(mu, sigma)
    eig = torch.linalg.eigvalsh(H_auto)
    kappa_true = 1 + ratio**2
    kappa = condition_number(H_auto)
    H_joint = autograd_hessian(with_bias(X), t)
    kappa_joint, kappa_joint_true = condition_number(H_joint), joint_condition_theory(ratio, sigma)
    return dict(
        ratio=ratio, d=d, n=n, seed=seed,
        eig_max=float(eig[-1]), eig_min=float(eig[0]),
        eig_max_theory=sigma**2 + float(mu @ mu), eig_min_theory=sigma**2,
        condition=kappa, condition_theory=kappa_true,
        condition_rel_error=abs(kappa - kappa_true) / kappa_true,
        # Spectral norm: the error that moves the eigenvalues (Weyl's inequality).
        hessian_rel_error=float(torch.linalg.matrix_norm(H_auto - H_true, ord=2)
                                / torch.linalg.matrix_norm(H_true, ord=2)),
        autograd_vs_moment=float((H_auto - second_moment(X)).abs().max()),
        condition_joint=kappa_joint, condition_joint_theory=kappa_joint_true,
        condition_joint_rel_error=abs(kappa_joint - kappa_joint_true) / kappa_joint_true,
        joint_autograd_vs_moment=float((H_joint - second_moment(with_bias(X))).abs().max()),
    )


def hessian_grid(ratios=RATIOS, dims=DIMS, sizes=SIZES, sigma=SIGMA, seed=0):
    """Every grid point, each with its own seed derived from ``seed``."""
    rows = []
    for i, (d, n, ratio) in enumerate((d, n, r) for d in dims for n in sizes for r in ratios):
        rows.append(hessian_row(n, d, ratio, sigma, seed * 10_000 + i))
    return rows


def optimiser_race(ratios=OPT_RATIOS, d=OPT_DIM, n=OPT_SIZE, sigma=SIGMA, tol=OPT_TOL,
                   max_steps=OPT_MAX_STEPS, adam_lrs=ADAM_LRS, seed=0):
    """Gradient descent (step 1/λ_max) and Adam (best rate of ``adam_lrs``) on J from w = 0,
    one problem per ratio, all run together. J = ½ − cᵀw + ½ wᵀĤw exactly (t² = 1, b = 0),
    so the gradient is Ĥw − c and the suboptimality ½ (w − w*)ᵀĤ(w − w*).

    A run's steps are the first step whose suboptimality, relative to the start's, is at
    most ``tol`` (None if not within ``max_steps``). Adam with a fixed rate can bounce back
    above ``tol`` afterwards; the first hit is what "steps to reach" means here.
    Returns one row per ratio: κ̂, steps for each method, Adam's chosen rate."""
    problems = [draw_data(n, d, r, sigma, seed * 10_000 + 5_000 + i) for i, r in enumerate(ratios)]
    H = torch.stack([second_moment(X) for X, _, _ in problems])  # (P, d, d)
    c = torch.stack([(X * t[:, None]).mean(0) for X, t, _ in problems])[:, None]  # (P, 1, d)
    w_star = torch.linalg.solve(H, c[:, 0])[:, None]
    eig = torch.linalg.eigvalsh(H)
    start_gap = ((w_star @ H) * w_star).sum(-1)  # (P, 1): the suboptimality at w = 0, times 2

    lr_gd = (1 / eig[:, -1])[:, None, None]
    lrs = torch.tensor(adam_lrs, dtype=torch.float64)[None, :, None]
    # Column 0 is gradient descent, columns 1.. are Adam at each rate: one (P, 1 + K, d) array.
    w = torch.zeros(len(ratios), 1 + len(adam_lrs), d, dtype=torch.float64)
    w_gd, w_adam = w[:, :1], w[:, 1:]
    m, v = torch.zeros_like(w_adam), torch.zeros_like(w_adam)
    steps = torch.full(w.shape[:2], float("nan"), dtype=torch.float64)
    schedule = adam_schedule(max_steps, 1.0, "cpu", torch.float64)
    for k in range(1, max_steps + 1):
        gradient = w @ H - c
        w_gd -= lr_gd * gradient[:, :1]
        bias1, bias2_sqrt, _ = schedule[k - 1]
        adam_update(w_adam, gradient[:, 1:], m, v, lrs * bias1, bias2_sqrt)
        e = w - w_star
        reached = ((e @ H) * e).sum(-1) <= tol * start_gap
        steps = torch.where(reached & steps.isnan(), float(k), steps)
        if k % 100 == 0 and not steps.isnan()[:, 0].any() and (~steps[:, 1:].isnan()).any(1).all():
            break  # every problem solved by GD and by Adam at some rate: the best rate is known
    rows = []
    for p, ratio in enumerate(ratios):
        adam = steps[p, 1:].numpy()
        best = int(np.nanargmin(adam)) if np.isfinite(adam).any() else None
        kappa = condition_number(H[p])
        rows.append(dict(ratio=ratio, condition=kappa, condition_theory=1 + ratio**2,
                         gd_steps=None if steps[p, 0].isnan() else float(steps[p, 0]), gd_lr=float(lr_gd[p]),
                         # The slowest mode shrinks by (1 − 1/κ̂) per step, its suboptimality by the
                         # square: a worst-case bound on the steps (faster modes finish sooner), rounded up.
                         gd_steps_bound=math.ceil(math.log(1 / tol) / (-2 * math.log1p(-1 / kappa))),
                         adam_steps=None if best is None else float(adam[best]),
                         adam_lr=None if best is None else float(adam_lrs[best])))
    return rows


# The versions of a dataset's inputs whose E[x xᵀ] is measured, in the figure's order.
VERSIONS = ("raw", "centred", "scaled", "standardised")


def dataset_conditioning(X, names=None):
    """Condition number of E[x xᵀ] for a dataset's inputs ``X (n, d)``: raw, centred only,
    scaled only and standardised (centred and scaled, as the study's data step does), ∞
    where it is singular; and the columns that make the covariance singular, by ``names``
    (default: their numbers from 1): ``constant`` ones and ``collinear`` ones (in an exact
    linear dependence after centring)."""
    X = np.asarray(X, dtype=np.float64)
    names = names or [str(i + 1) for i in range(X.shape[1])]
    constant = np.ptp(X, axis=0) == 0
    mean, std, (standard,) = normalise(X)
    centred = X - mean
    # A constant column centres to exactly 0: the mean's rounding leaves ~1e-16 of it there
    # (up to ~1e-6 once the data step divides by its std of 1e-9), which would make a
    # singular matrix merely ill-conditioned.
    centred[:, constant] = standard[:, constant] = 0.0
    versions = dict(raw=X, centred=centred, scaled=X / std, standardised=standard)
    kappa = {name: condition_number(second_moment(versions[name])) for name in VERSIONS}
    varying = [name for name, stuck in zip(names, constant) if not stuck]
    return dict(kappa, constant=[name for name, stuck in zip(names, constant) if stuck],
                collinear=collinear_columns(centred[:, ~constant], varying))


def collinear_columns(Z, names):
    """The columns of centred, non-constant inputs ``Z (n, k)`` that take part in an exact
    linear dependence: those with weight in the null space of their correlation matrix."""
    if Z.shape[1] == 0:
        return []
    unit = Z / np.linalg.norm(Z, axis=0)
    eig, vectors = np.linalg.eigh(unit.T @ unit)
    null = vectors[:, negligible(eig)]
    # Each column's squared length in the null space: the same whichever basis eigh chose.
    weight = (null**2).sum(axis=1)
    return [name for name, w in zip(names, weight) if w > 1e-6]


def feature_names(source, target):
    """The names of a CSV dataset's feature columns, from its header as pandas reads it (so
    in :func:`normbound.data.load_dataset`'s order); None for the bundled set, whose columns
    :func:`dataset_conditioning` numbers."""
    if source == "breast_cancer":
        return None
    import pandas as pd  # only for a CSV dataset, as normbound.data

    return [str(column) for column in pd.read_csv(source, nrows=0).columns if column != target]


def summarise(rows):
    """The numbers the report quotes, each computed from the grid's rows."""
    sizes = sorted({r["n"] for r in rows})
    largest = [r for r in rows if r["n"] == sizes[-1]]
    by_n = {n: max(r["hessian_rel_error"] for r in rows if r["n"] == n) for n in sizes}
    return dict(
        max_autograd_vs_moment=max(max(r["autograd_vs_moment"], r["joint_autograd_vs_moment"]) for r in rows),
        largest_n=sizes[-1],
        max_condition_rel_error_largest_n=max(r["condition_rel_error"] for r in largest),
        max_condition_rel_error_largest_n_small_d=max(r["condition_rel_error"] for r in largest if r["d"] <= SMALL_D),
        max_condition_joint_rel_error_largest_n_small_d=max(r["condition_joint_rel_error"] for r in largest
                                                            if r["d"] <= SMALL_D),
        max_hessian_rel_error_by_n={str(n): e for n, e in by_n.items()},
        error_decay_per_decade=float(np.mean([by_n[a] / by_n[b] for a, b in zip(sizes, sizes[1:])])),
    )


def hessian_convergence(rows):
    """(a) κ̂ against 1 + ‖μ‖²/σ², (b) Hessian error and (c) κ error against n."""
    sizes, dims = sorted({r["n"] for r in rows}), sorted({r["d"] for r in rows})
    fig, axes = plt.subplots(1, 3, figsize=(plots.WIDTH, 2.7))
    colours = dict(zip(sizes, plt.cm.viridis(np.linspace(0, 0.85, len(sizes)))))
    markers = dict(zip(dims, "os^"))
    ax = axes[0]
    for n in sizes:
        for d in dims:
            pts = [r for r in rows if r["n"] == n and r["d"] == d]
            ax.scatter([r["condition_theory"] for r in pts], [r["condition"] for r in pts], s=22,
                       color=colours[n], marker=markers[d], alpha=0.85)
    ends = [1, max(r["condition_theory"] for r in rows)]
    ax.plot(ends, ends, "k--", lw=1, label=r"$\hat\kappa = 1 + \|\mu\|^2/\sigma^2$")
    ax.set(xscale="log", yscale="log", xlabel=r"$1 + \|\mu\|^2/\sigma^2$",
           ylabel=r"$\hat\kappa$ of the autograd Hessian", title="(a) condition number")
    handles = [plt.Line2D([], [], color=colours[n], marker="o", ls="", label=f"n = {n:,}") for n in sizes]
    handles += [plt.Line2D([], [], color="grey", marker=markers[d], ls="", label=f"d = {d}") for d in dims]
    ax.legend(handles=handles + ax.get_legend_handles_labels()[0][:1], fontsize=5.5, loc="upper left", ncol=2)
    for ax, key, title in ((axes[1], "hessian_rel_error", r"(b) $\|\hat H - H\|_2 / \|H\|_2$"),
                           (axes[2], "condition_rel_error", r"(c) $|\hat\kappa - \kappa| / \kappa$")):
        for d in dims:
            med = [np.median([r[key] for r in rows if r["n"] == n and r["d"] == d]) for n in sizes]
            ax.plot(sizes, med, marker=markers[d], label=f"d = {d}")
        ax.plot(sizes, [np.sqrt(dims[-1] / n) for n in sizes], "k:", lw=1, label=rf"$\sqrt{{{dims[-1]}/n}}$")
        ax.set(xscale="log", yscale="log", xlabel="sample size n", title=title)
        ax.legend(fontsize=6)
    axes[2].axhline(0.02, color="grey", lw=0.8, ls="--")
    axes[2].annotate("2 %", (sizes[0], 0.02), fontsize=6, va="bottom", color="grey")
    return fig


def optimiser_steps(optimiser, dataset):
    """(a) steps to tolerance against κ̂; (b) a dataset's κ before and after normalisation."""
    fig, axes = plt.subplots(1, 2, figsize=(plots.WIDTH, 2.8),
                             gridspec_kw=dict(width_ratios=[1.4, 1]))
    ax = axes[0]
    kappa = [r["condition"] for r in optimiser]
    steps = {key: [np.nan if r[key] is None else r[key] for r in optimiser] for key in ("gd_steps", "adam_steps")}
    ax.plot(kappa, steps["gd_steps"], "o-", label=r"gradient descent, step $1/\lambda_\max$")
    ax.plot(kappa, [r["gd_steps_bound"] for r in optimiser], "k--", lw=1,
            label=r"worst-case bound: $\lceil \ln(1/\mathrm{tol}) / (-2 \ln(1 - 1/\hat\kappa)) \rceil$")
    ax.plot(kappa, steps["adam_steps"], "s-",
            label="Adam, best rate of the grid")
    ax.set(xscale="log", yscale="log", xlabel=r"condition number $\hat\kappa$ of $\hat H$",
           ylabel=f"steps to suboptimality ≤ {OPT_TOL:g}", title="(a) steps to tolerance")
    ax.legend(fontsize=6)
    ax = axes[1]
    values = [dataset[k] for k in VERSIONS]
    # A singular matrix (κ = ∞) gets a hatched bar above every finite one, labelled ∞.
    ceiling = 100 * max([v for v in values if math.isfinite(v)] + [1.0])
    bars = ax.bar(VERSIONS, [v if math.isfinite(v) else ceiling for v in values],
                  color=["#b2182b", "#ef8a62", "#67a9cf", "#2166ac"])
    for i, (bar, value) in enumerate(zip(bars, values)):
        bar.set_hatch("" if math.isfinite(value) else "///")
        ax.annotate(f"{value:.3g}" if math.isfinite(value) else "∞ (singular)", (i, bar.get_height()), ha="center",
                    va="bottom", fontsize=6)
    # From 1 (perfect conditioning), so the bars' lengths compare on the log scale; room above
    # an infinite κ's bar for its label.
    top = None if all(map(math.isfinite, values)) else 30 * ceiling
    ax.set(yscale="log", ylim=(1, top), ylabel=r"$\kappa$ of E[x xᵀ]", title="(b) dataset inputs")
    ax.tick_params(axis="x", labelsize=7, rotation=20)
    return fig


def exercise1(X, names, source, seed=0, ratios=RATIOS, dims=DIMS, sizes=SIZES, opt_ratios=OPT_RATIOS):
    """Every measurement of exercise 1, with a dataset's inputs ``X`` (columns ``names``,
    read from ``source``), as the JSON that the report reads."""
    rows = hessian_grid(ratios, dims, sizes, seed=seed)
    optimiser = optimiser_race(opt_ratios, seed=seed)
    dataset = dataset_conditioning(X, names)
    return dict(
        settings=dict(ratios=ratios, dims=dims, sizes=sizes, sigma=SIGMA, seed=seed, opt_ratios=opt_ratios,
                      opt_dim=OPT_DIM, opt_size=OPT_SIZE, opt_tol=OPT_TOL, opt_max_steps=OPT_MAX_STEPS,
                      adam_lrs=list(ADAM_LRS), small_d=SMALL_D, dataset=source),
        summary=summarise(rows),
        grid=rows, optimiser=optimiser, dataset_conditioning=dataset,
    )


def theory_hessian(dataset, json, figures, seed=0, threads=1):
    """Run every measurement of exercise 1 with the config's ``dataset``; write ``json``
    and ``figures`` (name -> (pdf, png))."""
    # The matrices are at most 30 x 30: thread start-up would cost more than it saves
    # (a batched 10 x 10 product measured 16 µs on one thread, 1.6 ms on two).
    torch.set_num_threads(threads)
    X, _ = load_dataset(dataset["source"], dataset["target"])
    result = exercise1(X, feature_names(dataset["source"], dataset["target"]), dataset["source"], seed)
    plots.draw({"hessian_convergence": lambda: hessian_convergence(result["grid"]),
                "optimiser_steps": lambda: optimiser_steps(result["optimiser"], result["dataset_conditioning"])},
               figures)
    io.write_json(json, result)
    return result


SCRIPT = entry.Script(
    __doc__, theory_hessian,
    dataset=entry.param(lambda config: config["dataset"]),
    json=entry.out("output: results as JSON"),
    figures=entry.figure_outputs(layout.THEORY_FIGURE_NAMES["theory_hessian"]),
    seed=entry.option("seed of the random draws (default: 0)", type=int, default=0),
    threads=entry.threads(1, "torch threads (default: 1)"),
)
main = SCRIPT.main

if __name__ == "__main__":
    SCRIPT.start(globals())
