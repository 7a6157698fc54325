"""The penalties, one definition each: every script, table, figure, template and config
check reads them from here. Torch-free at import (the workflow parses it): the torch code
a definition names runs only when it is called.

Adding a penalty is one :func:`register` call at the end of this file, e.g. λ·||W||_1::

    register(Penalty("l1", label="NN+L1", name="L1", tex=r"\\|W\\|_1",
                     value=lambda W, b, gradients: W.abs().sum((-2, -1)), lambdas=(1e-4, 1e-3)))

and ``nn_l1`` in the config's ``models``, its grid in ``lambdas.l1`` (without one: the definition's ``lambdas``).
Without a hand-derived ``gradient`` the batched trainer differentiates ``value`` with
``torch.func``; a penalty that is not one of the notebook's trains in chunks of its own
(:meth:`normbound.grid.Grid.chunks`), so the notebook's networks stay bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

# The spectral comparator penalises the Schatten norm of this order instead of ||W||_2
# itself (normbound.model.schatten_norm; normbound.objective.spectral_penalty says why). A power
# of 2 of at least 4, so that the trainer's gradient is a short chain of matrix squarings.
SCHATTEN_P = 8


@dataclass(frozen=True)
class Penalty:
    """One penalty λ·value(W, b) of the network model ``nn_<key>``.

    ``value(W, b, gradients)``: the term λ multiplies, one value per network for
    ``W (..., h, d)``, ``b (..., h)``; ``gradients (N, d)``, the input gradients at the
    network's training points, is given only where ``reads_gradients`` (else None).
    ``gradient``: the batched trainer's hand-derived λ·value and its gradient,
    ``(W, lam, active, s, weights) -> (value (M,), dW (M, h, d))`` (the arguments of
    `normbound.objective.objective_and_gradient`); None: ``torch.func`` differentiates
    ``value`` in W and b (which then must not read the data). ``notebook_lambda``: the
    notebook's λ for one of the notebook's penalties, None for any other."""

    key: str  # the config's lambdas key
    label: str  # a reader's name, as the notebook prints them: NN+Frob
    name: str  # its name in prose: "Frobenius" (penalty)
    tex: str  # the term λ multiplies, TeX math without $
    value: Callable
    gradient: Callable | None = None
    lambdas: tuple[float, ...] = ()  # the default λ grid, for a config whose lambdas lacks it
    colour: str = "#7f7f7f"  # its colour in the figures
    shades: str = "Greys"  # a matplotlib colour map, for figures that shade its λ grid
    marker: str = "X"
    notebook_lambda: float | None = None
    reads_gradients: bool = False

    @property
    def model(self) -> str:
        return f"nn_{self.key}"

    @property
    def notebook(self) -> bool:
        return self.notebook_lambda is not None

    def __post_init__(self):
        if self.reads_gradients and self.gradient is None:
            raise ValueError(f"penalty {self.key!r} reads the input gradients: it needs a hand-derived gradient")


# Penalty name (the config's lambdas key) -> its definition, in the order tables list them.
PENALTIES: dict[str, Penalty] = {}


def register(penalty: Penalty) -> Penalty:
    """Add ``penalty`` to :data:`PENALTIES` (after the others)."""
    if not penalty.key.isidentifier() or penalty.key in PENALTIES:
        raise ValueError(f"penalty key {penalty.key!r}: not a new identifier")
    PENALTIES[penalty.key] = penalty
    return penalty


def _model(name):
    """normbound.model's function ``name``, imported at the call (this module stays torch-free)."""
    def call(*args):
        from . import model
        return getattr(model, name)(*args)
    return call


def _objective(name):
    """normbound.objective's function ``name``, imported at the call."""
    def call(*args):
        from . import objective
        return getattr(objective, name)(*args)
    return call


# The notebook's two bounds, then two comparators the notebook did not have: a smooth upper
# bound of the tightest norm of the bound chain (the Schatten norm above ||W||_2, so
# sqrt(h)||W||_{S_p} still bounds ||grad_x f||), and the mean squared input gradient over
# the network's training points. The reference loop differentiates the values by autograd;
# the batched trainer has their gradients by hand.
register(Penalty("frob", label="NN+Frob", name="Frobenius", tex=r"h\,\|W\|_F^2",
                 value=lambda W, b, gradients: W.shape[-2] * _model("frobenius_norm")(W) ** 2,
                 gradient=_objective("frobenius_penalty"), lambdas=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05),
                 colour="#1f77b4", shades="Blues", marker="s", notebook_lambda=0.005))
register(Penalty("mix", label="NN+Mix", name="mixed-norm", tex=r"\|W\|_\mathrm{Mix}^2",
                 value=lambda W, b, gradients: _model("mixed_norm")(W) ** 2,
                 gradient=_objective("mixed_penalty"), lambdas=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
                 colour="#d95f02", shades="Oranges", marker="^", notebook_lambda=0.025))
register(Penalty("spec", label="NN+Spec", name="spectral-norm", tex=rf"h\,\|W\|_{{S_{SCHATTEN_P}}}^2",
                 value=lambda W, b, gradients: W.shape[-2] * _model("schatten_norm")(W) ** 2,
                 gradient=_objective("spectral_penalty"), lambdas=(0.001, 0.003, 0.01, 0.03, 0.1),
                 colour="#1b9e77", shades="Greens", marker="D"))
register(Penalty("grad", label="NN+Grad", name="input-gradient", tex=r"\mathrm{mean}_n\,\|\nabla_x f(x_n)\|^2",
                 value=lambda W, b, gradients: (gradients**2).sum(-1).mean(0),
                 gradient=_objective("gradient_penalty"), lambdas=(0.01, 0.03, 0.1, 0.3, 1.0),
                 colour="#e7298a", shades="RdPu", marker="v", reads_gradients=True))

# The notebook's penalty that every other is compared with: the tighter of its two bounds.
COMPARED_WITH = "mix"


def notebook() -> list[str]:
    """The notebook's penalties, in order."""
    return [key for key, p in PENALTIES.items() if p.notebook]


def comparators() -> list[str]:
    """The penalties the notebook did not have, in order."""
    return [key for key, p in PENALTIES.items() if not p.notebook]


def by_model() -> dict[str, Penalty]:
    """Network model name (``nn_<key>``) -> its penalty."""
    return {p.model: p for p in PENALTIES.values()}
