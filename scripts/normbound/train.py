"""Training: the batched trainer of the workflow and the one-at-a-time reference loop
(the notebook's ``nn.Module`` + autograd + ``torch.optim.Adam``) it is tested against.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .model import init_network, measure, output_signs, penalty
from .penalties import PENALTIES, SCHATTEN_P, by_model

log = logging.getLogger("normbound")


class NoCudaError(RuntimeError):
    """``device: cuda`` on a machine where torch sees no CUDA device."""


def pick_device(name: str) -> torch.device:
    """``auto`` takes CUDA when present, else the CPU; ``cuda`` insists on CUDA. Checked
    here, where training runs, not while the workflow parses: on a cluster the workflow
    starts on a login node without a GPU and sends training to a GPU node."""
    if name == "cuda" and not torch.cuda.is_available():
        raise NoCudaError("device: cuda was asked for, but torch sees no CUDA device on this machine "
                          f"({torch.__version__}); use device: auto or cpu, or run the job on a GPU node")
    return torch.device("cuda" if name in ("auto", "cuda") and torch.cuda.is_available() else "cpu")


def own_chunk(model: str) -> str:
    """The penalty whose networks train in chunks of their own: any but the notebook's
    ("" for those and for nn). Such a penalty's gradient takes operations beyond the
    notebook's penalties' step (spec: powers of the d × d Gram matrix; grad: the input
    gradients; another: its autograd graph), and a chunk runs only its own penalty's
    operations beside the notebook's (:meth:`Grid.penalties`, a Python tuple: neither the
    eager step nor the compiled graph holds the others'). So the notebook's networks'
    results stay bit for bit what they were before any other penalty existed, and a
    spectral network does not pay for the gradient penalty's products."""
    penalty = by_model().get(model)
    return "" if penalty is None or penalty.notebook else penalty.key


def held_out_part(subset: str) -> int:
    """The k-fold part a training subset leaves out: i for "fold<i>", else 0."""
    return int(subset[4:]) if subset.startswith("fold") else 0


@dataclass
class Grid:
    """The networks of one batched program: a model name, a penalty strength and the
    training subset for each network: "train", the whole training set; "fit", training
    minus the hold-out validation part, for choosing λ; with k-fold selection "fold1" ...
    "foldk", training minus that part (:func:`normbound.data.validation_parts`)."""

    models: list[str]
    lams: list[float]
    subsets: list[str]

    @classmethod
    def study(cls, lambdas: dict[str, list[float]], folds: int = 1) -> "Grid":
        """The networks of one seed: the unregularised network, then every λ grid of
        ``lambdas`` (penalty name -> λ list) on the whole training set, again on the fit
        part (hold-out validation) and, for ``folds`` >= 2, once per fold; the notebook's
        penalties first, each other penalty after them (:func:`own_chunk`)."""
        subsets = ["train", "fit", *(f"fold{i}" for i in range(1, folds + 1) if folds > 1)]
        out = cls(["nn"], [0.0], ["train"])
        notebook = tuple(key for key, p in PENALTIES.items() if p.notebook)
        for group in (notebook, *((key,) for key in PENALTIES if key not in notebook)):
            grid = [(PENALTIES[key].model, lam) for key in group for lam in lambdas.get(key, [])]
            for subset in subsets:
                out.models += [model for model, _ in grid]
                out.lams += [lam for _, lam in grid]
                out.subsets += [subset] * len(grid)
        return out

    @property
    def penalties(self) -> tuple[str, ...]:
        """The penalties a step of the grid computes: the notebook's, always (so their
        operations are the same in every chunk), then those of :func:`own_chunk` that its
        networks carry (a chunk: at most one)."""
        own = {own_chunk(model) for model in self.models}
        return tuple(key for key, p in PENALTIES.items() if p.notebook or key in own)

    @property
    def held_out(self) -> int:
        """The validation part (1..k) that the grid's networks leave out; 0 for the whole
        training set or the hold-out fit part (one chunk: :meth:`chunks`)."""
        return held_out_part(self.subsets[0]) if self.subsets else 0

    def chunks(self, size: int) -> list["Grid"]:
        """Consecutive sub-grids of at most ``size`` networks (bounded memory). A chunk
        holds the networks of one :func:`own_chunk` penalty or none, and the networks of one
        k-fold part or none (each part is measured on its own validation points)."""
        parts = []
        key = lambda i: (own_chunk(self.models[i]), held_out_part(self.subsets[i]))  # noqa: E731
        for _, run in itertools.groupby(range(len(self)), key):
            run = list(run)
            parts += [Grid(*(getattr(self, f)[i:min(i + size, run[-1] + 1)] for f in ("models", "lams", "subsets")))
                      for i in range(run[0], run[-1] + 1, size)]
        return parts

    def tensors(self, is_validation: torch.Tensor, dtype=torch.float32):
        """Per-network λ of every penalty, ``{name: (M,)}`` (0 where the network carries
        another), and sample weights ``(M, N)``: 1/n_m on network m's training points, 0
        elsewhere."""
        dev = is_validation.device
        lams = torch.tensor(self.lams, dtype=dtype, device=dev)
        zero = torch.zeros_like(lams)
        lam = {key: torch.where(torch.tensor([m == p.model for m in self.models], device=dev), lams, zero)
               for key, p in PENALTIES.items()}
        # One chunk holds one k-fold part's networks (the data's is_validation marks it) or
        # none; "fit" networks leave out the validation points, "train" networks use all.
        fit_only = torch.tensor([sub != "train" for sub in self.subsets], device=dev)
        used = ~(fit_only[:, None] & is_validation[None, :])
        return lam, used / used.sum(1, keepdim=True).to(dtype)

    def __len__(self):
        return len(self.models)


@dataclass
class TrainResult:
    W: torch.Tensor  # (M, h, d) on the CPU
    b: torch.Tensor  # (M, h)
    before: dict[str, np.ndarray]
    after: dict[str, np.ndarray]
    diverged_step: np.ndarray  # (M,), -1 where the objective stayed finite
    curves: list[dict] = field(default_factory=list)
    seconds: float = 0.0  # the training loop's wall time (on CUDA: to the last step's end)
    converged: np.ndarray | None = None  # (M,) bool by :func:`converged`; None without curves


def adam_update(p, g, m, v, step_size, bias2_sqrt, betas=(0.9, 0.999), eps=1e-8):
    """One in-place Adam step, in the order ``torch.optim.Adam`` (defaults) computes it.

    ``step_size = lr / (1 - beta1^k)`` and ``bias2_sqrt = sqrt(1 - beta2^k)`` come in as
    0-d tensors, so a compiled step is not recompiled for every k."""
    m.lerp_(g, 1 - betas[0])
    v.mul_(betas[1]).addcmul_(g, g, value=1 - betas[1])
    p.add_(-step_size * m / (v.sqrt() / bias2_sqrt + eps))


# Learning-rate schedules: the factor on ``lr`` at step k + 1 of ``steps``. ``constant`` is
# the notebook's; ``cosine`` decays to 0 by the last step, for the penalised objectives that
# a constant rate leaves unsettled (the report's notes on convergence measure it).
LR_SCHEDULES = {
    "constant": lambda k, steps: 1.0,
    "cosine": lambda k, steps: 0.5 * (1 + math.cos(math.pi * k / steps)),
}


def adam_schedule(steps: int, lr: float, device, dtype=torch.float32, betas=(0.9, 0.999),
                  lr_schedule: str = "constant") -> torch.Tensor:
    """Row k-1 holds step k's ``lr_k / (1 - beta1^k)``, ``sqrt(1 - beta2^k)`` and k, computed
    in Python floats as ``torch.optim.Adam`` under ``LambdaLR(LR_SCHEDULES[lr_schedule])``
    does; made once, so the training loop copies nothing to the device and a compiled step
    is not recompiled for every k."""
    factor = LR_SCHEDULES[lr_schedule]
    rows = [[lr * factor(k - 1, steps) / (1 - betas[0] ** k), math.sqrt(1 - betas[1] ** k), k] for k in range(1, steps + 1)]
    return torch.tensor(rows, dtype=torch.float64).to(device, dtype)


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
    (:meth:`Grid.tensors`). ``penalties`` (a Python tuple of penalty names,
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
    (:func:`converged`) and √h||W||_2 fell with λ, from 5.3 to 0.94. p = 4 is looser (up to
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


def training_step(P, m, v, s, X1, X1t, t, weights, lam, penalties, step_size, bias2_sqrt, k, first_bad):
    """One step for all networks: gradient, Adam on the flat buffer, and divergence
    bookkeeping (``first_bad`` takes k where a network's objective first stops being finite)."""
    objective, dP = objective_and_gradient(P, s, X1, X1t, t, weights, lam, penalties)
    adam_update(P, dP, m, v, step_size, bias2_sqrt)
    first_bad.copy_(torch.where(~torch.isfinite(objective) & (first_bad < 0), k, first_bad))
    return objective


def training_steps(P, m, v, s, X1, X1t, t, weights, lam, penalties, schedule, first_bad):
    """``len(schedule)`` consecutive steps in one call, step i reading its Adam scalars from
    row i of ``schedule`` (rows of :func:`adam_schedule`): exactly the operations of that
    many :func:`training_step` calls, in the same order. Returns the last objective.

    The unit of the fast path: on CUDA it is captured, compiled or not, in a CUDA graph
    that replays K steps per launch; on the CPU it runs with K = 1 by default (see
    :func:`train_grid`)."""
    for i in range(schedule.shape[0]):
        objective = training_step(P, m, v, s, X1, X1t, t, weights, lam, penalties, *schedule[i], first_bad)
    return objective


@functools.cache
def compiled_training_steps():
    """:func:`training_steps` fused by ``torch.compile``. Made on first use, so importing
    this module compiles nothing. ``dynamic=False`` specialises on the number of networks,
    the dtype, K and the ``penalties`` tuple; a workflow job has a few such shapes."""
    return torch.compile(training_steps, dynamic=False, fullgraph=True)


# K, the steps per CUDA graph replay. Compiling K unrolled steps takes about K times as long
# (10-20 s for K = 10 on an H100); K = 10 already gives the GPU back nearly all the time
# launching steps one at a time cost (measured on an H100: docs/performance.md).
CUDA_UNROLL = 10

CURVE_COLUMNS = ("train_loss", "train_acc", "val_acc", "test_acc", "grad", "mix_norm", "frob_bound")

# The convergence criterion (:func:`converged`): the share of the steps at the end that it
# looks at, and how far above the lowest objective of the run their mean may be.
CONVERGENCE_WINDOW = 0.2
CONVERGENCE_RTOL = 0.5
CONVERGENCE_ATOL = 0.02


def converged(step, objective, steps: int, window: float = CONVERGENCE_WINDOW, rtol: float = CONVERGENCE_RTOL,
              atol: float = CONVERGENCE_ATOL) -> bool:
    """Whether a network's training objective settled: over its logged curve points in the
    last ``window`` of the ``steps`` (step >= (1 - window)·steps), the mean objective is at
    most ``(1 + rtol)`` times the lowest objective logged in the run plus ``atol``, and
    every logged objective is finite. ``step``, ``objective``: the curve (step 0, before
    training, has no objective and is ignored).

    Adam with a constant rate never comes to rest, so the test is whether the objective has
    stopped improving, not whether it stopped moving. The late window's relative range
    (max - min)/mean does not separate the cases (measured on the default study with the
    old spectral penalty, λh||W||_2² by power iteration; 9 points over the last 2000 of
    10 000 steps): isolated upward spikes of settled networks reach 6 times their lowest
    value (nn_grad, λ = 0.01: ranges up to 3.1 times the mean), while nn_spec at λ = 1 sat
    on a plateau with a range of 0.2-0.4 times its mean, 1.9-2.6 times above the 1.6-2.1 it
    had reached by step 50. The mean against the run's lowest value catches both failures,
    that climb and a lasting swing (nn_spec at λ = 0.1: between 0.27 and 1.8, the mean
    0.75-1.4 times above the lowest), while a spike moves a mean of 9 points little: every
    nn, nn_frob, nn_mix and nn_grad network of that study passed, using at most 79 % of
    the tolerance. ``atol`` judges objectives near 0 (the unpenalised hinge loss reaches 0,
    small penalties stay near it) on an absolute scale instead of as a ratio of tiny
    numbers: 0.02 is a fiftieth of the hinge loss at initialisation (about 1). A window of
    20 % is 9 curve points by default, the span over which tests/test_training.py averages
    the notebook's regularised norms. The objective alone is judged: weights may still
    wander along directions it hardly sees (||W||_Mix, for one)."""
    step, objective = np.asarray(step, dtype=float), np.asarray(objective, dtype=float)
    logged = objective[step > 0]
    if not np.isfinite(logged).all():
        return False
    late = objective[step >= (1 - window) * steps]
    return bool(late.mean() <= (1 + rtol) * logged.min() + atol)


def to_tensors(data: dict, device, dtype=torch.float32) -> dict[str, torch.Tensor]:
    """The arrays a trainer needs as tensors (the validation mask as bool)."""
    out = {k: torch.as_tensor(data[k], dtype=dtype, device=device)
           for k in ("X_train", "t_train", "t_train_clean", "X_test", "t_test") if k in data}
    out["is_validation"] = torch.as_tensor(data["is_validation"], dtype=torch.bool, device=device)
    out["X_val"], out["t_val"] = out["X_train"][out["is_validation"]], out["t_train"][out["is_validation"]]
    return out


def curve_steps(steps: int, curve_every: int) -> list[int]:
    """The steps at which curves are recorded: every ``curve_every`` steps and the last,
    and before the first of those a 1-2-5 sequence (1, 2, 5, 10, 20, 50, ...). On a
    logarithmic step axis the first ``curve_every`` steps, where a network moves most,
    would otherwise be a single point. No curves for ``curve_every`` 0."""
    if not curve_every:
        return []
    early = {m * 10**e for e in range(len(str(curve_every))) for m in (1, 2, 5)}
    return sorted({k for k in early if k < min(curve_every, steps)} | {*range(curve_every, steps, curve_every), steps})


def step_ranges(steps: int, ends: list[int], unroll: int) -> list[tuple[int, int]]:
    """The calls of the K-step function: ``(start, stop)`` ranges of at most ``unroll``
    steps (step k is ``start < k <= stop``) that end at every step of ``ends`` and at the
    last step. Between two ends the ranges are ``unroll`` long but the last, so there are
    few lengths to compile or capture."""
    ranges, start = [], 0
    for end in sorted({*ends, steps}):
        ranges += [(k, min(k + unroll, end)) for k in range(start, end, unroll)]
        start = end
    return ranges


def captured(fn, args: tuple, first_bad: torch.Tensor, rows: torch.Tensor):
    """``fn(*args, schedule, first_bad)`` captured in a CUDA graph for ``len(rows)`` steps;
    returns ``replay(rows)``, which copies the rows (device to device) into the graph's
    static schedule buffer, replays it and returns the graph's objective tensor.

    Two warm-up calls on a side stream first (they compile, and set up cuBLAS and the
    allocator outside the capture); they train, so the state is restored afterwards."""
    schedule = rows.clone()
    state = (*args[:3], first_bad)  # P, m, v and first_bad change in place
    saved = [x.clone() for x in state]
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(2):
            fn(*args, schedule, first_bad)
    torch.cuda.current_stream().wait_stream(side)
    for x, old in zip(state, saved):
        x.copy_(old)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        objective = fn(*args, schedule, first_bad)

    def replay(rows):
        schedule.copy_(rows)
        graph.replay()
        return objective

    return replay


def train_grid(
    grid: Grid, data: dict, seed: int, hidden: int, steps: int, lr: float, init_scale: float = 0.1,
    device: str = "cpu", curve_every: int = 0, compile_step: bool = False, progress_seconds: float = 30.0,
    dtype=torch.float32, unroll: int | None = None, lr_schedule: str = "constant",
) -> TrainResult:
    """Train every network of ``grid`` together, as one batched tensor program.

    All networks start from the seed's initialisation (as each of the notebook's
    classifiers re-seeds before building its layer). Adam is element-wise and the summed
    objective separates per network, so this is the same mathematics as training each one
    alone (:func:`train_reference`); tests check it. A network whose objective becomes NaN
    or infinite is recorded with that step in ``diverged_step``; the others go on.

    The fast path is :func:`training_steps`, K steps a call, compiled when
    ``compile_step``. On CUDA, K steps (``unroll``, default :data:`CUDA_UNROLL`) are
    captured in a CUDA graph and replayed, so the GPU no longer waits on Python between
    steps. On the CPU the default is K = 1, one call per step: a step of one seed's grid is
    about a millisecond of arithmetic, and K = 10 saved only the call overhead, about 60 µs
    a step, while compiling took 1-7 s longer per job (measured on this project's 2-core
    machine). Any K gives bit-identical weights on the CPU: the same operations run in the
    same order. Curves are measured between calls, at the steps of :func:`curve_steps`.
    """
    dev = torch.device(device)
    tensors = to_tensors(data, dev, dtype)
    X, t = tensors["X_train"], tensors["t_train"]
    X1 = torch.cat([X, torch.ones_like(X[:, :1])], 1)
    X1t = X1.T.contiguous()
    W0, b0 = init_network(seed, X.shape[1], hidden, init_scale)
    P = torch.cat([W0, b0[:, None]], 1).to(dev, dtype).expand(len(grid), -1, -1).contiguous()
    s = output_signs(hidden, dtype).to(dev)
    lam, weights = grid.tensors(tensors["is_validation"], dtype)
    m, v = torch.zeros_like(P), torch.zeros_like(P)
    first_bad = torch.full((len(grid),), -1.0, dtype=dtype, device=dev)  # exact for any step < 2**24
    args = (P, m, v, s, X1, X1t, t, weights, lam, grid.penalties)
    fn = compiled_training_steps() if compile_step else training_steps
    if dev.type == "cuda":
        graphs = {}

        def advance(rows):
            if len(rows) not in graphs:
                graphs[len(rows)] = captured(fn, args, first_bad, rows)
            return graphs[len(rows)](rows)
    else:
        def advance(rows):
            return fn(*args, rows, first_bad)

    schedule = adam_schedule(steps, lr, dev, dtype, lr_schedule=lr_schedule)
    curves = []

    def record(k, objective):
        m = measure(P[..., :-1], P[..., -1], s, tensors)
        objective = objective.tolist()
        curves.extend(dict(model=grid.models[i], lam=grid.lams[i], subset=grid.subsets[i], step=k,
                           objective=objective[i], **{c: float(m[c][i]) for c in CURVE_COLUMNS})
                      for i in range(len(grid)))
        return m

    before = record(0, torch.full((len(grid),), float("nan"))) if curve_every else measure(P[..., :-1], P[..., -1], s, tensors)
    start = last_report = time.perf_counter()
    # Each (networks, dtype, K) is compiled once; a process that trains many shapes (the
    # tests, the benchmark) would otherwise pass dynamo's limit of 8 and run eagerly.
    # Eager runs skip it: importing dynamo alone takes seconds.
    with torch._dynamo.config.patch(recompile_limit=64) if compile_step else contextlib.nullcontext():
        logged = curve_steps(steps, curve_every)
        for first, k in step_ranges(steps, logged, unroll or (CUDA_UNROLL if dev.type == "cuda" else 1)):
            objective = advance(schedule[first:k])
            if k in logged:
                record(k, objective)
            now = time.perf_counter()
            if now - last_report >= progress_seconds:
                last_report = now
                log.info("step %d of %d, %.0f s elapsed, about %.0f s remaining (%d networks)",
                         k, steps, now - start, (now - start) / k * (steps - k), len(grid))
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    seconds = time.perf_counter() - start
    log.info("trained %d networks x %d steps in %.1f s", len(grid), steps, seconds)
    W, b = P[..., :-1], P[..., -1]
    # Network i's curve points are every len(grid)-th row, from row i.
    settled = np.array([converged([c["step"] for c in curves[i::len(grid)]],
                                  [c["objective"] for c in curves[i::len(grid)]], steps)
                        for i in range(len(grid))]) if curves else None
    return TrainResult(W.cpu(), b.cpu(), before, measure(W, b, s, tensors),
                       first_bad.cpu().numpy().astype(np.int64), curves, seconds, settled)


class ReferenceNetwork(torch.nn.Module):
    """The notebook's classifier, one network at a time, trained with autograd and
    ``torch.optim.Adam`` -- the plain loop the batched trainer is tested against.
    ``lam``: penalty name -> λ (none: the unregularised network). The spectral penalty (the
    Schatten norm) is differentiated through the singular values (``torch.linalg.svdvals``),
    not the batched trainer's matrix powers, the gradient penalty by double back-propagation
    (the input gradient computed with ``create_graph=True``, then differentiated again)."""

    def __init__(self, seed, inputs, hidden, init_scale=0.1, lam=None):
        super().__init__()
        W, b = init_network(seed, inputs, hidden, init_scale)
        self.layer = torch.nn.Linear(inputs, hidden)
        with torch.no_grad():
            self.layer.weight.copy_(W)
            self.layer.bias.copy_(b)
        self.register_buffer("s", output_signs(hidden))
        self.lam = dict(lam or {})

    def forward(self, X):
        return torch.relu(self.layer(X)) @ self.s

    def objective(self, X, t):
        W = self.layer.weight
        gradients = None
        if any(PENALTIES[name].reads_gradients for name in self.lam):
            X = X.detach().requires_grad_()
            f = self(X)
            # The rows of X are independent, so the gradient of the sum is each point's.
            (gradients,) = torch.autograd.grad(f.sum(), X, create_graph=True)
        else:
            f = self(X)
        lam = {name: torch.tensor(value, dtype=W.dtype) for name, value in self.lam.items()}
        return torch.clamp(1 - f * t, min=0).mean() + penalty(W, self.layer.bias, lam, gradients)

    def fit(self, X, t, steps, lr=0.01, lr_schedule="constant"):
        optimiser = torch.optim.Adam(self.parameters(), lr=lr)
        decay = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda k: LR_SCHEDULES[lr_schedule](k, steps))
        for _ in range(steps):
            optimiser.zero_grad()
            self.objective(X, t).backward()
            optimiser.step()
            decay.step()
        return self


def train_reference(model: str, lam: float, data: dict, seed: int, hidden: int, steps: int,
                    lr: float, init_scale: float = 0.1, dtype=torch.float32,
                    lr_schedule: str = "constant") -> tuple[torch.Tensor, torch.Tensor]:
    """Train one network with :class:`ReferenceNetwork`; returns its ``W (h, d)``, ``b (h,)``."""
    X = torch.as_tensor(data["X_train"], dtype=dtype)
    t = torch.as_tensor(data["t_train"], dtype=dtype)
    penalty = by_model().get(model)
    net = ReferenceNetwork(seed, X.shape[1], hidden, init_scale, {penalty.key: lam} if penalty else None)
    net.to(dtype).fit(X, t, steps, lr, lr_schedule)
    return net.layer.weight.detach().clone(), net.layer.bias.detach().clone()
