"""The network, its norms and penalties, and every measurement, written once.

The reference one-at-a-time loop (:mod:`normbound.reference`) and the batched trainer
(:mod:`normbound.objective`, :mod:`normbound.train`) share
the forward pass, the norms and the penalties, so a test that compares the two compares
training, not two copies of the formulas.

Shapes: ``W`` is stored as PyTorch stores a linear layer's weight, ``(hidden, inputs)``;
a batch of M networks is ``W: (M, hidden, inputs)``, ``b: (M, hidden)``.
The network is the notebook's: f(x) = sum_j s_j relu(W_j x + b_j) with fixed output
weights s_j = +1 for the first half of the hidden units and -1 for the rest.
The loss is the hinge loss mean(max(0, 1 - f(x) t)), as in the notebook's code (its text
says "MSE"; the code, and this study, use the hinge loss).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .penalties import PENALTIES, SCHATTEN_P

# Relative slack allowed in the bound chain: the norms are evaluated in float64 from
# float32 weights, so a true violation is many orders of magnitude above this.
BOUND_RTOL = 1e-6


def output_signs(hidden: int, dtype=torch.float32) -> torch.Tensor:
    """The fixed output weights s: +1 for the first half of the units, -1 after."""
    s = -torch.ones(hidden, dtype=dtype)
    s[: hidden // 2] = 1.0
    return s


def init_network(seed: int, inputs: int, hidden: int, init_scale: float = 0.1):
    """The notebook's initialisation: ``nn.Linear`` right after ``torch.manual_seed(seed)``,
    then the weight (not the bias) times ``init_scale``. Returns ``W (h, d)``, ``b (h,)``."""
    torch.manual_seed(seed)
    layer = torch.nn.Linear(inputs, hidden)
    with torch.no_grad():
        return (layer.weight * init_scale).clone(), layer.bias.clone()


def forward(W: torch.Tensor, b: torch.Tensor, s: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Outputs ``f (N, M)`` of M networks ``W (M, h, d)``, ``b (M, h)`` on ``X (N, d)``.

    The M networks are one wide layer: ``X @ W.view(M*h, d).T`` is a single matrix product.
    """
    M, h, d = W.shape
    A = torch.relu(X @ W.reshape(M * h, d).T + b.reshape(M * h))
    return A.view(len(X), M, h) @ s


def hinge(f: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Mean hinge loss per network: ``f (N, M)``, ``t (N,)`` -> ``(M,)``."""
    return torch.clamp(1 - f * t[:, None], min=0).mean(0)


def accuracy(f: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Fraction of ``sign(f) == t``; f = 0 counts as wrong, as ``numpy.sign`` does."""
    return (torch.sign(f) == t[:, None]).double().mean(0)


def mixed_norm(W: torch.Tensor) -> torch.Tensor:
    """||W||_Mix = sqrt(sum_i (sum_j |W_ji|)^2): l1 over hidden units j, l2 over inputs i.

    ``W (..., h, d)``; returns one value per network. Differentiable (used by the penalty)."""
    return (W.abs().sum(-2) ** 2).sum(-1).sqrt()


def frobenius_norm(W: torch.Tensor) -> torch.Tensor:
    """||W||_F per network, ``W (..., h, d)``."""
    return (W**2).sum((-2, -1)).sqrt()


def frobenius_bound(W: torch.Tensor) -> torch.Tensor:
    """sqrt(h) * ||W||_F, the loose end of the bound chain."""
    return math.sqrt(W.shape[-2]) * frobenius_norm(W)


def spectral_norm(W: torch.Tensor) -> torch.Tensor:
    """||W||_2 per network, ``W (..., h, d)`` (exact: an SVD; differentiable where the top
    singular value is simple)."""
    return torch.linalg.matrix_norm(W, ord=2)


def schatten_norm(W: torch.Tensor, p: int = SCHATTEN_P) -> torch.Tensor:
    """||W||_{S_p} = (sum_i sigma_i^p)^(1/p) per network, ``W (..., h, d)``: the l_p norm of
    the singular values. ||W||_2 <= ||W||_{S_p} <= rank^(1/p) ||W||_2 (at most 30^(1/8) =
    1.53 times for p = 8, d = 30), and p = 2 is ||W||_F. Unlike ||W||_2 it is differentiable
    wherever W != 0, also where the top singular values tie (``svdvals``'s gradient is
    defined there: a symmetric function of the singular values depends on W smoothly)."""
    return torch.linalg.svdvals(W).pow(p).sum(-1).pow(1 / p)


def spectral_bound(W: torch.Tensor) -> torch.Tensor:
    """sqrt(h) * ||W||_2: also bounds ||df/dx|| since ||W^T D s|| <= ||W||_2 ||s||."""
    finite = torch.isfinite(W).all(-1).all(-1)
    # An SVD of a diverged network's weights raises; its bound is NaN instead.
    norm = spectral_norm(torch.where(finite[..., None, None], W, 0.0))
    return torch.where(finite, math.sqrt(W.shape[-2]) * norm, math.nan)


def penalty(W: torch.Tensor, b: torch.Tensor, lam: dict, gradients: torch.Tensor | None = None) -> torch.Tensor:
    """The sum of ``lam``'s penalties (name -> λ, names of :data:`normbound.penalties.
    PENALTIES`), each λ times its value; ``gradients (N, d)``, the input gradients at the
    training points, for those that read them; 0 for none. Written for autograd: the
    reference loop differentiates it."""
    return sum(value * PENALTIES[name].value(W, b, gradients) for name, value in lam.items())


def input_gradients(W, b, s, X, output_weights=None) -> torch.Tensor:
    """d f / d x at every point: ``(N, M, d)``, exactly ``sum_j s_j 1[z_j > 0] W_j``.

    ``output_weights`` replaces s; all ones gives the notebook's "Grad" variant, which
    differentiates the unpooled hidden activations sum_j a_j instead of f (REFERENCE §3).
    """
    M, h, d = W.shape
    active = (X @ W.reshape(M * h, d).T + b.reshape(M * h) > 0).view(len(X), M, h)
    weights = s if output_weights is None else output_weights
    return torch.einsum("nmh,mhd->nmd", active.to(W.dtype) * weights, W)


def measure(W, b, s, data: dict) -> dict[str, np.ndarray]:
    """Every measurement of the study for M networks; each value an array of length M.

    Accuracy and hinge loss use the float32 forward pass the networks were trained with;
    gradients and norms are evaluated in float64 from those weights, so the bound chain is
    checked on exact values, not on rounding.
    """
    with torch.no_grad():
        out = {}
        for part in ("train", "val", "test"):
            f = forward(W, b, s, data[f"X_{part}"])
            out[f"{part}_acc"] = accuracy(f, data[f"t_{part}"])
            out[f"{part}_loss"] = hinge(f, data[f"t_{part}"])
            if part == "train" and "t_train_clean" in data:
                # The training labels are noisy, the test labels clean: this says how much of
                # a gap between the two accuracies the noise alone explains.
                out["train_acc_clean"] = accuracy(f, data["t_train_clean"])
        W64, b64, s64, X64 = W.double(), b.double(), s.double(), data["X_test"].double()
        norms = input_gradients(W64, b64, s64, X64).norm(dim=-1)
        out["grad"] = norms.mean(0)
        out["grad_max"] = norms.max(0).values
        out["grad_notebook"] = input_gradients(W64, b64, s64, X64, torch.ones_like(s64)).norm(dim=-1).mean(0)
        out["mix_norm"] = mixed_norm(W64)
        out["frob_bound"] = frobenius_bound(W64)
        out["spectral_bound"] = spectral_bound(W64)
        return {k: v.detach().cpu().double().numpy() for k, v in out.items()}


def bound_violations(m: dict[str, np.ndarray]) -> list[str]:
    """The links of Grad <= max||grad f|| <= ||W||_Mix <= sqrt(h)||W||_F (and the spectral
    bound between max||grad f|| and sqrt(h)||W||_F) that fail beyond float tolerance."""
    chain = [("grad", "grad_max"), ("grad_max", "mix_norm"), ("mix_norm", "frob_bound"),
             ("grad_max", "spectral_bound"), ("spectral_bound", "frob_bound")]
    bad = []
    for lower, upper in chain:
        lo, up = np.asarray(m[lower]), np.asarray(m[upper])
        finite = np.isfinite(lo) & np.isfinite(up)
        over = finite & (lo > up * (1 + BOUND_RTOL) + 1e-12)
        bad += [f"network {i}: {lower}={lo[i]:.9g} > {upper}={up[i]:.9g}" for i in np.flatnonzero(over)]
    return bad


