"""The batched trainer's objective and its gradient: the hinge loss and the penalties,
their gradients derived by hand (or by ``torch.func`` for a penalty defined by its value
alone), with no autograd graph. The reference loop (:mod:`normbound.reference`)
differentiates the same objective by autograd; tests compare the two.
"""

from __future__ import annotations

import torch

from .penalties import PENALTIES, SCHATTEN_P


def objective_and_gradient(P, s, X1, X1t, t, weights, lam, penalties):
    """The batched objective and its gradient, hand-derived (no autograd graph) but for a
    penalty defined by its value alone (:func:`penalty_gradient`).

    ``P (M, h, d+1)`` holds each network's ``[W | b]`` in one flat buffer; ``X1 (N, d+1)``
    is the inputs with a column of ones and ``X1t`` its transpose. Laid out this way the
    hidden activations are one matrix product, ``A (M, h, N)``, and the whole gradient of
    the hinge term is a second one, ``dP_m = s * (1[A_m > 0] @ (g_m * X1))`` with
    ``g_m = d loss_m / d f_m``; the masks follow autograd (clamp passes the gradient at a
    margin of exactly 0, ReLU does not at 0). ``weights (M, N)`` make each network's hinge
    term the mean over its own training points. ``lam``: per penalty name, λ per network
    (:meth:`normbound.grid.Grid.tensors`). ``penalties`` (a Python tuple of penalty names,
    :meth:`Grid.penalties`) adds those penalties (:func:`penalty_gradient`), in its order;
    the others are not computed at all.
    Returns the objective ``(M,)`` and ``dP (M, h, d+1)``.
    """
    M, h, d1 = P.shape
    A = torch.mm(P.view(M * h, d1), X1t).relu_().view(M, h, -1)
    # The output f = s @ A, summed over the h units. Compiled, inductor lowers matmul(s, A)
    # to a sum over h, in h order, that gathers A's elements one at a time across its rows;
    # written as a reduction over dim 1, the same sum in the same order runs along A's rows,
    # vectorised: the same bits, a fifth less time a step (docs/performance.md, "Roofline").
    # Eagerly, matmul stays (BLAS; no (M, h, N) temporary).
    f = (A * s[:, None]).sum(1) if torch.compiler.is_compiling() else torch.matmul(s, A)
    margin = 1 - f * t
    loss = (torch.clamp(margin, min=0) * weights).sum(1)
    g = torch.where(margin >= 0, -t * weights, 0.0)
    dP = torch.bmm(A.sign_(), g[:, :, None] * X1).mul_(s[:, None])
    W, b = P[..., :-1], P[..., -1]
    objective, dW = loss, None
    for name in penalties:
        value, gW, gb = penalty_gradient(PENALTIES[name], W, b, lam[name], A, s, weights)
        objective = objective + value
        # The first term as it is, not 0 + it: the sum of the notebook's two is what it was
        # when they were written as one expression, bit for bit.
        dW = gW if dW is None else dW + gW
        if gb is not None:
            dP[..., -1] += gb
    if dW is not None:
        dP[..., :-1] += dW
    return objective, dP


def penalty_gradient(penalty, W, b, lam, active, s, weights):
    """λ·value of ``penalty`` per network and its gradient in W and in b (None: 0), by its
    hand-derived ``gradient`` where it has one, else by ``torch.func`` through its value
    (the networks' values are independent: the gradient of their sum is each one's).
    where(): an unpenalised network's objective stays finite even when its value overflows."""
    if penalty.gradient is not None:
        return (*penalty.gradient(W, lam, active, s, weights), None)

    def total(W, b):
        value = penalty.value(W, b, None)
        return value.sum(), value

    (gW, gb), (_, value) = torch.func.grad_and_value(total, argnums=(0, 1), has_aux=True)(W, b)
    return torch.where(lam > 0, lam * value, 0.0), lam[:, None, None] * gW, lam[:, None] * gb


def frobenius_penalty(W, lam, active, s, weights):
    """λ·h·||W||_F² per network and its gradient 2λh·W."""
    h = W.shape[1]
    return torch.where(lam > 0, lam * h * (W**2).sum((1, 2)), 0.0), (2 * h) * lam[:, None, None] * W


def mixed_penalty(W, lam, active, s, weights):
    """λ·||W||_Mix² per network and its gradient 2λ·(Σ_j |W_ji|)·sign(W_ji) (a subgradient
    at 0, as autograd's)."""
    col_l1 = W.abs().sum(1, keepdim=True)
    return torch.where(lam > 0, lam * (col_l1**2).sum((1, 2)), 0.0), 2 * lam[:, None, None] * col_l1 * torch.sign(W)


def spectral_penalty(W, lam, active=None, s=None, weights=None, p=SCHATTEN_P):
    """λ·h·||W||_{S_p}² per network, the squared Schatten-p norm (:func:`normbound.model.
    schatten_norm`, p = :data:`normbound.SCHATTEN_P`), and its exact gradient.

    Why not λ·h·||W||_2² itself: ||W||_2 is not differentiable where the top singular values
    tie, and the penalty drives W there (it lowers σ1 until σ2, σ3, ... meet it). Its
    gradient 2λh·σ1 u1 v1ᵀ then turns to whichever direction is on top at this step, and
    Adam, which moves every weight by about lr whatever the gradient's size, turns that into
    oscillation: with it (from a persistent power iteration) nn_spec did not settle at
    λ = 0.1 (||W||_Mix's range over the last 2000 of 10 000 steps: a median 1.3 times its
    mean, the other penalties' medians at most 0.2) and at λ = 1 its objective rose from
    1.8 at step 50 to 5.8, and √h||W||_2 did not fall with λ. ||W||_{S_p} =
    tr(B^(p/2))^(1/p), B = WᵀW, lies between ||W||_2 and rank^(1/p)·||W||_2, and is smooth
    where W != 0: where singular values tie it pushes all of them down together. With
    p = 8, on the 10 default seeds, every network of the grid (λ = 0.001 to 0.1) converged
    (:func:`normbound.train.converged`) and √h||W||_2 fell with λ, from 5.3 to 0.94. p = 4 is looser (up to
    30^(1/4) = 2.3 times ||W||_2); p = 16, closer to ||W||_2, swung more at λ = 1. At
    λ >= 0.3 the weights are so small that Adam's constant step keeps any such objective
    swinging (at λ = 1, 2 of 10 networks did not converge), hence the grid's top of 0.1.

    The gradient is ∂||W||_{S_p}²/∂W = 2 W B^(p/2-1) / tr(B^(p/2))^(1-2/p), on the d × d Gram
    matrix (d = 30 inputs), whatever h: B is scaled by its trace ||W||_F² first (the ratio
    is unchanged: no overflow, and every power has entries at most 1), then B^(p/4) by
    log2(p) - 2 squarings, the power B^(p/4-1) collected along the way, and tr(B^(p/2)) =
    ||B^(p/4)||_F² since B is symmetric. p = 8: four small matrix products, no state from
    step to step; a fixed sequence of operations, so it compiles and runs in a CUDA graph."""
    h, tiny = W.shape[1], torch.finfo(W.dtype).tiny
    B = torch.bmm(W.transpose(1, 2), W)
    # The traces are at least the smallest normal float: W = 0 gives 0, not 0/0.
    scale = B.diagonal(dim1=1, dim2=2).sum(1).clamp_min(tiny)  # ||W||_F²
    Q, R = B / scale[:, None, None], None  # Q: B^(2^i) (scaled); R: the product of those before
    for _ in range(p.bit_length() - 3):
        R = Q if R is None else torch.bmm(R, Q)
        Q = torch.bmm(Q, Q)
    trace = Q.square().sum((1, 2)).clamp_min(tiny)  # tr(B^(p/2)) of the scaled B
    value = torch.where(lam > 0, lam * h * scale * trace ** (2 / p), 0.0)
    power = Q if R is None else torch.bmm(R, Q)  # B^(p/2 - 1), scaled
    return value, (2 * h) * (lam / trace ** (1 - 2 / p))[:, None, None] * torch.bmm(W, power)


def gradient_penalty(W, lam, mask, s, weights):
    """λ·mean_n ||∇ₓf(x_n)||² over each network's training points and its exact gradient.

    ∇ₓf(x_n) = Wᵀa_n with a_n = D_n s (``mask (M, h, N)``: 1 where unit j is active at
    x_n): one matrix product gives every point's input gradient, ``G = Wᵀ a (M, d, N)``.
    With ``weights`` w (1/n on the network's points) the penalty is λ·Σ_n w_n ||G_n||², and
    its gradient 2λ·Σ_n w_n a_n a_nᵀ W = 2λ·a diag(w) Gᵀ is a second product. (Forming
    Σ_n w_n a_n a_nᵀ first costs h/d times as much: h = 100 units, d = 30 inputs.) The mask
    is piecewise constant in W and b, so its derivative is 0 almost everywhere (autograd's
    double back-propagation through the ReLU agrees), and b gets no gradient."""
    a = mask * s[:, None]
    G = torch.bmm(W.transpose(1, 2), a)
    wG = G * weights[:, None, :]
    value = torch.where(lam > 0, lam * (G * wG).sum((1, 2)), 0.0)
    return value, 2 * lam[:, None, None] * torch.bmm(a, wG.transpose(1, 2))
