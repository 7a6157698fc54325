"""The reference loop: the notebook's classifier, one network at a time, trained with
autograd and ``torch.optim.Adam``, that the batched trainer (:mod:`normbound.train`) is
tested against.
"""

from __future__ import annotations

import torch

from .model import init_network, output_signs, penalty
from .penalties import PENALTIES, by_model
from .train import LR_SCHEDULES


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
