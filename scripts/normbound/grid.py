"""The networks of one batched program: which model, λ and training subset each network
has, and how a seed's networks split into chunks (:meth:`Grid.chunks`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch

from .penalties import PENALTIES, by_model


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
