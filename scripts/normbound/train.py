"""The batched trainer of the workflow, the execution engine: Adam on every network of a
:class:`normbound.grid.Grid` at once, one step (:func:`training_step`: the objective and
gradient of :mod:`normbound.objective`, then Adam) or K steps a call, compiled with
``torch.compile`` and on CUDA replayed from a CUDA graph; curves and convergence. The
one-at-a-time loop it is tested against is :mod:`normbound.reference`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .grid import Grid
from .model import init_network, measure, output_signs
from .objective import objective_and_gradient

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
    alone (:func:`normbound.reference.train_reference`); tests check it. A network whose objective becomes NaN
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
