"""The study's code, one module per concern; importing the package imports nothing heavy.

- :mod:`normbound.config`: the config's schema check and cross-key checks (no torch).
- :mod:`normbound.layout`: where every file of a study goes, written once (no torch).
- :mod:`normbound.data`:   the data protocol: load, split, label noise, normalise (numpy).
- :mod:`normbound.model`:  the network, its norms and penalties, the measurements (torch).
- :mod:`normbound.penalties`: every penalty, one definition each (no torch).
- :mod:`normbound.grid`:   the networks of one batched program and its chunks (torch).
- :mod:`normbound.objective`: the batched objective and its gradient (torch).
- :mod:`normbound.train`:  the batched trainer's engine (Adam, compile, CUDA graphs) (torch).
- :mod:`normbound.reference`: the one-at-a-time reference loop it is tested against (torch).
- :mod:`normbound.io`:     atomic writes and logging, shared by every script.

This module holds the study's vocabulary: the model names, which penalty each network
model carries and the sweep axes, written once for every script, table and template; the
penalties themselves are :mod:`normbound.penalties`' (no torch).
"""

from .penalties import PENALTIES, by_model

# Every model, in the order tables and figures list them: the baselines, the unpenalised
# network, then one network model per penalty.
BASELINES = ("rf", "svc")
NETWORKS = ("nn", *(p.model for p in PENALTIES.values()))
MODELS = (*BASELINES, *NETWORKS)
# A penalised network model -> the name of its penalty (the config's ``lambdas`` keys).
PENALTY = {p.model: p.key for p in PENALTIES.values()}
# The config keys that take one value or a list: each list is a sweep axis, and every
# combination of their values is a study cell (normbound.config.cells), in this order.
SWEEP_AXES = ("label_noise", "hidden", "steps")
# Names a reader sees, as the notebook prints them (the other penalties' in the same style).
LABELS = {"rf": "RForest", "svc": "SVC", "nn": "NN", **{model: p.label for model, p in by_model().items()}}


def lam_text(lam) -> str:
    """λ as every table, figure and sentence prints it: the shortest general format, so
    that λ = 1 reads "1" everywhere (never "1.0"), 5e-05 as Python writes it."""
    return f"{float(lam):g}"
