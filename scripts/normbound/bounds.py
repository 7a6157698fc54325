"""Exercise 2's networks on random weight families (:func:`random_study`), and the links
of the bound chain measured on them and on the study's networks: shared by the two rules
of exercise 2, ``theory_random`` (the families, which read nothing of the study) and
``theory_bounds`` (the study's trained networks beside them).

For f(x) = Σ_j s_j relu(W_j x + b_j), ‖∂f/∂x‖ ≤ max_a ‖Σ_j a_j s_j W_j‖ ≤ ‖W‖_Mix: the
largest gradient over all 2^h activation patterns, exact by enumeration for small widths
(:func:`pattern_max`), a lower bound on it by ascent for wide ones (:func:`pattern_search`).
"""

import itertools

import numpy as np
import pandas as pd
import torch

from .model import BOUND_RTOL, bound_violations, frobenius_bound, input_gradients, mixed_norm, output_signs, spectral_bound

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
