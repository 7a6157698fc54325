"""The mathematics of the study, written once: data protocol, network, norms, trainers.

Every script of the workflow imports this module, so the reference one-at-a-time loop
and the batched trainer share the forward pass, the norms and the penalties; a test that
compares the two compares training, not two copies of the formulas.

Shapes: ``W`` is stored as PyTorch stores a linear layer's weight, ``(hidden, inputs)``;
a batch of M networks is ``W: (M, hidden, inputs)``, ``b: (M, hidden)``.
The network is the notebook's: f(x) = sum_j s_j relu(W_j x + b_j) with fixed output
weights s_j = +1 for the first half of the hidden units and -1 for the rest.
The loss is the hinge loss mean(max(0, 1 - f(x) t)), as in the notebook's code (its text
says "MSE"; the code, and this study, use the hinge loss).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field

import numpy as np
import torch

log = logging.getLogger("normbound")

MODELS = ("rf", "svc", "nn", "nn_frob", "nn_mix")
NETWORKS = ("nn", "nn_frob", "nn_mix")
# Relative slack allowed in the bound chain: the norms are evaluated in float64 from
# float32 weights, so a true violation is many orders of magnitude above this.
BOUND_RTOL = 1e-6


# --------------------------------------------------------------------------- data
class DataError(ValueError):
    """A dataset that cannot be used; the message says what is wrong for a person."""


def load_dataset(source: str, target: str = "target", min_rows: int = 20):
    """Return ``(X, t)``: features float64 ``(n, d)`` and labels in {-1, +1}.

    ``source`` is ``breast_cancer`` (scikit-learn's bundled copy, no network needed) or
    the path of a CSV file with numeric feature columns and a binary ``target`` column.
    A binary target with values other than {-1, 1} is mapped in sorted order: the smaller
    value becomes -1 (so {0, 1} gives t = 2 * target - 1, as the notebook does).
    """
    if source == "breast_cancer":
        from sklearn.datasets import load_breast_cancer

        data = load_breast_cancer()
        return data.data.astype(np.float64), 2.0 * data.target - 1.0
    import pandas as pd

    if not os.path.isfile(source):
        raise DataError(f"dataset.source: no such file {source!r} (expected 'breast_cancer' or a CSV path)")
    try:
        frame = pd.read_csv(source)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataError(f"dataset.source: {source!r} is not a readable CSV file ({err})") from None
    if target not in frame.columns:
        raise DataError(
            f"dataset.target: column {target!r} not in {source!r} (columns: {', '.join(map(str, frame.columns))})"
        )
    # Rows first: an empty table has no column types to judge.
    if len(frame) < min_rows:
        raise DataError(f"dataset.source: {source!r} has {len(frame)} rows; the splits need at least {min_rows}")
    if frame.isna().any().any():
        bad = [str(c) for c in frame.columns if frame[c].isna().any()]
        raise DataError(f"dataset.source: {source!r} has missing values in column(s) {', '.join(bad)}")
    features = frame.drop(columns=[target])
    if features.shape[1] == 0:
        raise DataError(f"dataset.source: {source!r} has no feature columns besides {target!r}")
    # pandas' own test: numpy's issubdtype fails on pandas' string dtype instead of answering.
    non_numeric = [str(c) for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if non_numeric:
        raise DataError(f"dataset.source: {source!r} has non-numeric feature column(s) {', '.join(non_numeric)}")
    infinite = [str(c) for c in features.columns if not np.isfinite(features[c].to_numpy(dtype=np.float64)).all()]
    if infinite:
        raise DataError(f"dataset.source: {source!r} has infinite values in column(s) {', '.join(infinite)}")
    values = np.unique(frame[target].to_numpy())
    if len(values) != 2:
        raise DataError(
            f"dataset.target: column {target!r} must be binary (two distinct values), found {len(values)}"
        )
    t = np.where(frame[target].to_numpy() == values[1], 1.0, -1.0)
    return features.to_numpy(dtype=np.float64), t


def data_hash(X: np.ndarray, t: np.ndarray) -> str:
    """SHA-256 of the raw arrays, so a result can be traced to the exact data it used."""
    digest = hashlib.sha256()
    for array in (X, t):
        digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
    return digest.hexdigest()


def noisy_positions(n: int, rate: float) -> np.ndarray:
    """Positions flipped by label noise: evenly spaced, ``floor(i / rate)``.

    For rate 0.04 these are 0, 25, 50, ... -- exactly the notebook's ``[::25]``. The
    order they index is already a random permutation, so the flipped points are random.
    """
    if rate <= 0:
        return np.zeros(0, dtype=np.int64)
    positions = np.floor(np.arange(math.ceil(n * rate) + 1) / rate + 1e-9).astype(np.int64)
    return positions[positions < n]


def normalise(X_fit: np.ndarray, *others: np.ndarray):
    """Standardise with the statistics of ``X_fit`` alone (population std + 1e-9)."""
    mean, std = X_fit.mean(axis=0), X_fit.std(axis=0) + 1e-9
    return mean, std, [(X - mean) / std for X in (X_fit, *others)]


def split_data(X, t, seed: int, test_fraction: float, label_noise: float, validation_fraction: float):
    """The notebook's protocol for any seed: permute, split, flip, normalise.

    The permutation is ``numpy.random.RandomState(seed).permutation(n)``; the first
    ``floor(n * (1 - test_fraction))`` indices train, the rest test. Training labels at
    :func:`noisy_positions` are flipped; test labels stay clean. Training statistics alone
    normalise both sets. For λ selection the last ``ceil(validation_fraction * n_train)``
    training points form the validation part (``is_validation``); their labels keep their
    noise, since a user cannot tell which labels are wrong.
    """
    n = len(t)
    order = np.random.RandomState(seed).permutation(n)
    n_train = int(math.floor(n * (1.0 - test_fraction) + 1e-9))
    train, test = order[:n_train], order[n_train:]
    n_val = int(math.ceil(validation_fraction * n_train - 1e-9))
    if min(n_train - n_val, n_val, n - n_train) < 2:
        raise DataError(
            f"dataset.source: {n} rows give {n_train - n_val} fit, {n_val} validation and "
            f"{n - n_train} test points; each needs at least 2 (more rows or other fractions)"
        )
    t_train = t[train].copy()
    flipped = noisy_positions(n_train, label_noise)
    t_train[flipped] *= -1
    mean, std, (X_train, X_test) = normalise(X[train], X[test])
    arrays = dict(
        X_train=X_train, t_train=t_train, X_test=X_test, t_test=t[test].copy(),
        is_validation=np.arange(n_train) >= n_train - n_val, train_index=train, test_index=test,
    )
    sidecar = dict(
        seed=seed, n=n, n_train=n_train, n_test=n - n_train, n_validation=n_val,
        label_noise=label_noise, flipped_positions=flipped.tolist(),
        flipped_indices=train[flipped].tolist(), mean=mean.tolist(), std=std.tolist(),
        raw_sha256=data_hash(X, t),
    )
    return arrays, sidecar


# --------------------------------------------------------------------------- network
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


def spectral_bound(W: torch.Tensor) -> torch.Tensor:
    """sqrt(h) * ||W||_2: also bounds ||df/dx|| since ||W^T D s|| <= ||W||_2 ||s||."""
    finite = torch.isfinite(W).all(-1).all(-1)
    # An SVD of a diverged network's weights raises; its bound is NaN instead.
    norm = torch.linalg.matrix_norm(torch.where(finite[..., None, None], W, 0.0), ord=2)
    return torch.where(finite, math.sqrt(W.shape[-2]) * norm, math.nan)


def penalty(W: torch.Tensor, lam_frob: torch.Tensor, lam_mix: torch.Tensor) -> torch.Tensor:
    """lam_frob * h * ||W||_F^2 + lam_mix * ||W||_Mix^2 per network (the notebook's penalties)."""
    return lam_frob * W.shape[-2] * frobenius_norm(W) ** 2 + lam_mix * mixed_norm(W) ** 2


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


# --------------------------------------------------------------------------- training
def pick_device(name: str) -> torch.device:
    """``auto`` takes CUDA when present, else the CPU (``cuda`` without CUDA is refused
    by :func:`check_config` before any job runs)."""
    return torch.device("cuda" if name in ("auto", "cuda") and torch.cuda.is_available() else "cpu")


@dataclass
class Grid:
    """The networks of one batched program: a model name, a penalty strength and the
    training subset ("train": the whole training set; "fit": training minus validation,
    for choosing λ) for each network."""

    models: list[str]
    lams: list[float]
    subsets: list[str]

    @classmethod
    def study(cls, frob: list[float], mix: list[float]) -> "Grid":
        """The networks of one seed: on the whole training set the unregularised network
        and both λ grids; on the fit part both λ grids again, for validation."""
        models = ["nn_frob"] * len(frob) + ["nn_mix"] * len(mix)
        lams = [*frob, *mix]
        return cls(["nn", *models, *models], [0.0, *lams, *lams],
                   ["train"] * (1 + len(lams)) + ["fit"] * len(lams))

    def chunks(self, size: int) -> list["Grid"]:
        """Consecutive sub-grids of at most ``size`` networks (bounded memory)."""
        return [Grid(self.models[i:i + size], self.lams[i:i + size], self.subsets[i:i + size])
                for i in range(0, len(self), size)]

    def tensors(self, is_validation: torch.Tensor, dtype=torch.float32):
        """Per-network ``lam_frob (M,)``, ``lam_mix (M,)`` and sample weights ``(M, N)``:
        1/n_m on network m's training points, 0 elsewhere."""
        dev = is_validation.device
        lams = torch.tensor(self.lams, dtype=dtype, device=dev)
        zero = torch.zeros_like(lams)
        lam_frob = torch.where(torch.tensor([m == "nn_frob" for m in self.models], device=dev), lams, zero)
        lam_mix = torch.where(torch.tensor([m == "nn_mix" for m in self.models], device=dev), lams, zero)
        fit_only = torch.tensor([sub == "fit" for sub in self.subsets], device=dev)
        used = ~(fit_only[:, None] & is_validation[None, :])
        return lam_frob, lam_mix, used / used.sum(1, keepdim=True).to(dtype)

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


def adam_update(p, g, m, v, step_size, bias2_sqrt, betas=(0.9, 0.999), eps=1e-8):
    """One in-place Adam step, in the order ``torch.optim.Adam`` (defaults) computes it.

    ``step_size = lr / (1 - beta1^k)`` and ``bias2_sqrt = sqrt(1 - beta2^k)`` come in as
    0-d tensors, so a compiled step is not recompiled for every k."""
    m.lerp_(g, 1 - betas[0])
    v.mul_(betas[1]).addcmul_(g, g, value=1 - betas[1])
    p.add_(-step_size * m / (v.sqrt() / bias2_sqrt + eps))


def adam_schedule(steps: int, lr: float, device, dtype=torch.float32, betas=(0.9, 0.999)) -> torch.Tensor:
    """Row k-1 holds step k's ``lr / (1 - beta1^k)``, ``sqrt(1 - beta2^k)`` and k, computed
    in Python floats as ``torch.optim.Adam`` does; made once, so the training loop copies
    nothing to the device and a compiled step is not recompiled for every k."""
    rows = [[lr / (1 - betas[0] ** k), math.sqrt(1 - betas[1] ** k), k] for k in range(1, steps + 1)]
    return torch.tensor(rows, dtype=torch.float64).to(device, dtype)


def objective_and_gradient(P, s, X1, X1t, t, weights, lam_frob, lam_mix):
    """The batched objective and its hand-derived gradient (no autograd graph).

    ``P (M, h, d+1)`` holds each network's ``[W | b]`` in one flat buffer; ``X1 (N, d+1)``
    is the inputs with a column of ones and ``X1t`` its transpose. Laid out this way the
    hidden activations are one matrix product, ``A (M, h, N)``, and the whole gradient of
    the hinge term is a second one, ``dP_m = s * (1[A_m > 0] @ (g_m * X1))`` with
    ``g_m = d loss_m / d f_m``; the masks follow autograd (clamp passes the gradient at a
    margin of exactly 0, ReLU does not at 0). ``weights (M, N)`` make each network's hinge
    term the mean over its own training points. Returns the objective ``(M,)`` and
    ``dP (M, h, d+1)``.
    """
    M, h, d1 = P.shape
    A = torch.mm(P.view(M * h, d1), X1t).relu_().view(M, h, -1)
    margin = 1 - torch.matmul(s, A) * t
    loss = (torch.clamp(margin, min=0) * weights).sum(1)
    g = torch.where(margin >= 0, -t * weights, 0.0)
    dP = torch.bmm(A.sign_(), g[:, :, None] * X1).mul_(s[:, None])
    W = P[..., :-1]
    col_l1 = W.abs().sum(1, keepdim=True)
    dP[..., :-1] += (2 * h) * lam_frob[:, None, None] * W + 2 * lam_mix[:, None, None] * col_l1 * torch.sign(W)
    # where(): an unpenalised network's objective stays finite even when ||W||^2 overflows.
    frob = torch.where(lam_frob > 0, lam_frob * h * (W**2).sum((1, 2)), 0.0)
    mix = torch.where(lam_mix > 0, lam_mix * (col_l1**2).sum((1, 2)), 0.0)
    return loss + frob + mix, dP


def training_step(P, m, v, s, X1, X1t, t, weights, lam_frob, lam_mix, step_size, bias2_sqrt, k, first_bad):
    """One step for all networks: gradient, Adam on the flat buffer, and divergence
    bookkeeping (``first_bad`` takes k where a network's objective first stops being finite)."""
    objective, dP = objective_and_gradient(P, s, X1, X1t, t, weights, lam_frob, lam_mix)
    adam_update(P, dP, m, v, step_size, bias2_sqrt)
    first_bad.copy_(torch.where(~torch.isfinite(objective) & (first_bad < 0), k, first_bad))
    return objective


# The fast path: torch.compile fuses the element-wise work of a step into a few loops.
# dynamic=False specialises on the batch shape and dtype; a workflow job has one or two
# shapes, the benchmark's scaling curve about a dozen, more than torch's default limit of 8.
torch._dynamo.config.recompile_limit = 64
compiled_training_step = torch.compile(training_step, dynamic=False, fullgraph=True)

CURVE_COLUMNS = ("train_loss", "train_acc", "val_acc", "test_acc", "grad", "mix_norm", "frob_bound")


def to_tensors(data: dict, device, dtype=torch.float32) -> dict[str, torch.Tensor]:
    """The arrays a trainer needs as tensors (the validation mask as bool)."""
    out = {k: torch.as_tensor(data[k], dtype=dtype, device=device) for k in ("X_train", "t_train", "X_test", "t_test")}
    out["is_validation"] = torch.as_tensor(data["is_validation"], dtype=torch.bool, device=device)
    out["X_val"], out["t_val"] = out["X_train"][out["is_validation"]], out["t_train"][out["is_validation"]]
    return out


def train_grid(
    grid: Grid, data: dict, seed: int, hidden: int, steps: int, lr: float, init_scale: float = 0.1,
    device: str = "cpu", curve_every: int = 0, compile_step: bool = False, progress_seconds: float = 30.0,
    dtype=torch.float32,
) -> TrainResult:
    """Train every network of ``grid`` together, as one batched tensor program.

    All networks start from the seed's initialisation (as each of the notebook's
    classifiers re-seeds before building its layer). Adam is element-wise and the summed
    objective separates per network, so this is the same mathematics as training each one
    alone (:func:`train_reference`); tests check it. A network whose objective becomes NaN
    or infinite is recorded with that step in ``diverged_step``; the others go on.
    """
    dev = torch.device(device)
    tensors = to_tensors(data, dev, dtype)
    X, t = tensors["X_train"], tensors["t_train"]
    X1 = torch.cat([X, torch.ones_like(X[:, :1])], 1)
    X1t = X1.T.contiguous()
    W0, b0 = init_network(seed, X.shape[1], hidden, init_scale)
    P = torch.cat([W0, b0[:, None]], 1).to(dev, dtype).expand(len(grid), -1, -1).contiguous()
    s = output_signs(hidden, dtype).to(dev)
    lam_frob, lam_mix, weights = grid.tensors(tensors["is_validation"], dtype)
    m, v = torch.zeros_like(P), torch.zeros_like(P)
    first_bad = torch.full((len(grid),), -1.0, dtype=dtype, device=dev)  # exact for any step < 2**24
    step = compiled_training_step if compile_step else training_step
    schedule = adam_schedule(steps, lr, dev, dtype)
    curves = []

    def record(k, objective):
        m = measure(P[..., :-1], P[..., -1], s, tensors)
        curves.extend(dict(model=grid.models[i], lam=grid.lams[i], subset=grid.subsets[i], step=k,
                           objective=float(objective[i]), **{c: float(m[c][i]) for c in CURVE_COLUMNS})
                      for i in range(len(grid)))
        return m

    before = record(0, torch.full((len(grid),), float("nan"))) if curve_every else measure(P[..., :-1], P[..., -1], s, tensors)
    start = last_report = time.perf_counter()
    for k in range(1, steps + 1):
        objective = step(P, m, v, s, X1, X1t, t, weights, lam_frob, lam_mix, *schedule[k - 1], first_bad)
        if curve_every and (k % curve_every == 0 or k == steps):
            record(k, objective)
        now = time.perf_counter()
        if now - last_report >= progress_seconds:
            last_report = now
            log.info("step %d of %d, %.0f s elapsed, about %.0f s remaining (%d networks)",
                     k, steps, now - start, (now - start) / k * (steps - k), len(grid))
    log.info("trained %d networks x %d steps in %.1f s", len(grid), steps, time.perf_counter() - start)
    W, b = P[..., :-1], P[..., -1]
    return TrainResult(W.cpu(), b.cpu(), before, measure(W, b, s, tensors),
                       first_bad.cpu().numpy().astype(np.int64), curves)


class ReferenceNetwork(torch.nn.Module):
    """The notebook's classifier, one network at a time, trained with autograd and
    ``torch.optim.Adam`` -- the plain loop the batched trainer is tested against."""

    def __init__(self, seed, inputs, hidden, init_scale=0.1, lam_frob=0.0, lam_mix=0.0):
        super().__init__()
        W, b = init_network(seed, inputs, hidden, init_scale)
        self.layer = torch.nn.Linear(inputs, hidden)
        with torch.no_grad():
            self.layer.weight.copy_(W)
            self.layer.bias.copy_(b)
        self.register_buffer("s", output_signs(hidden))
        self.lam_frob, self.lam_mix = lam_frob, lam_mix

    def forward(self, X):
        return torch.relu(self.layer(X)) @ self.s

    def objective(self, X, t):
        W = self.layer.weight
        lam_frob, lam_mix = (torch.tensor(x, dtype=W.dtype) for x in (self.lam_frob, self.lam_mix))
        return torch.clamp(1 - self(X) * t, min=0).mean() + penalty(W, lam_frob, lam_mix)

    def fit(self, X, t, steps, lr=0.01):
        optimiser = torch.optim.Adam(self.parameters(), lr=lr)
        for _ in range(steps):
            optimiser.zero_grad()
            self.objective(X, t).backward()
            optimiser.step()
        return self


def train_reference(model: str, lam: float, data: dict, seed: int, hidden: int, steps: int,
                    lr: float, init_scale: float = 0.1, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Train one network with :class:`ReferenceNetwork`; returns its ``W (h, d)``, ``b (h,)``."""
    X = torch.as_tensor(data["X_train"], dtype=dtype)
    t = torch.as_tensor(data["t_train"], dtype=dtype)
    net = ReferenceNetwork(seed, X.shape[1], hidden, init_scale,
                           lam if model == "nn_frob" else 0.0, lam if model == "nn_mix" else 0.0).to(dtype)
    net.fit(X, t, steps, lr)
    return net.layer.weight.detach().clone(), net.layer.bias.detach().clone()


# --------------------------------------------------------------------------- config
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA = os.path.join(REPO, "workflow", "schemas", "config.schema.yaml")

# The config keys each stage depends on: a rule's params, so that changing a key reruns
# exactly the stages that read it.
STAGE_KEYS = {
    "data": ("dataset", "label_noise", "test_fraction", "validation_fraction"),
    "baselines": ("models",),
    "networks": ("models", "hidden", "init_scale", "lr", "steps", "lambdas", "curve_every",
                 "device", "batch_size", "compile"),
}


class ConfigError(ValueError):
    """A config mistake; the message names the key and what was expected."""


def stage_settings(config: dict, stage: str) -> dict:
    """The part of ``config`` that ``stage`` reads."""
    return {key: config[key] for key in STAGE_KEYS[stage]}


def check_config(config: dict) -> None:
    """The rules a JSON-Schema cannot say: finite numbers, the notebook's λ inside the
    grids, a usable CSV dataset, CUDA present when asked for. Raises :class:`ConfigError`."""

    def walk(value, key):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{key}.{k}" if key else k)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{key}[{i}]")
        elif isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"config key '{key}': {value} is not a finite number")

    walk(config, "")
    for penalty_name in ("frob", "mix"):
        lam = config["notebook_lambdas"][penalty_name]
        if f"nn_{penalty_name}" in config["models"] and lam not in config["lambdas"][penalty_name]:
            raise ConfigError(f"config key 'notebook_lambdas.{penalty_name}': {lam} is not in "
                              f"lambdas.{penalty_name} {config['lambdas'][penalty_name]}")
    if config["device"] == "cuda" and not torch.cuda.is_available():
        raise ConfigError("config key 'device': 'cuda' was asked for but torch sees no CUDA device "
                          "(use 'auto' or 'cpu')")
    dataset = config["dataset"]
    try:
        X, t = load_dataset(dataset["source"], dataset["target"])
        split_data(X, t, 0, config["test_fraction"], config["label_noise"], config["validation_fraction"])
    except DataError as err:
        raise ConfigError(f"config key {err}") from None


def load_config(path: str) -> dict:
    """Read a config file as the workflow does: schema (with defaults), then :func:`check_config`.

    For scripts run by hand: a mistake ends the program with a one-paragraph message that
    names the file and the key (``SystemExit``, so no stack trace), as the workflow does."""
    import jsonschema
    import yaml
    from snakemake.utils import validate

    try:
        with open(path) as handle:
            config = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as err:
        raise SystemExit(f"{path}: cannot read the config file ({err})") from None
    if not isinstance(config, dict):
        raise SystemExit(f"{path}: expected a mapping of config keys, found {type(config).__name__}")
    try:
        validate(config, SCHEMA)
        check_config(config)
    except ConfigError as err:
        raise SystemExit(f"{path}: {err}") from None
    except Exception as err:  # snakemake wraps jsonschema's error in a WorkflowError
        cause = next((a for a in err.args if isinstance(a, jsonschema.ValidationError)), None)
        if cause is None:
            raise SystemExit(f"{path}: {err}") from None
        key = ".".join(map(str, cause.absolute_path)) or "(top level)"
        expected = cause.schema.get("description", "") if isinstance(cause.schema, dict) else ""
        raise SystemExit(f"{path}: config key '{key}': {cause.message}" + (f" ({expected})" if expected else "")) from None
    return config


# --------------------------------------------------------------------------- files
def write_atomically(path: str, write) -> None:
    """``write(tmp)`` to a temporary name beside ``path``, then rename it to ``path``: a
    result file is complete or absent. The temporary name keeps the extension, so
    writers that choose the format by it (numpy, matplotlib) behave the same."""
    root, ext = os.path.splitext(path)
    tmp = f"{root}.tmp{ext}"
    write(tmp)
    os.replace(tmp, path)


def write_json(path: str, obj) -> None:
    def dump(tmp):
        with open(tmp, "w") as handle:
            json.dump(obj, handle, indent=2, sort_keys=True)
            handle.write("\n")

    write_atomically(path, dump)


def write_csv(frame, path: str) -> None:
    write_atomically(path, lambda tmp: frame.to_csv(tmp, index=False))


def setup_logging(log_path: str | None = None) -> None:
    """Log to ``log_path`` (Snakemake's ``log:``) or to stderr."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        filename=log_path, force=True)
