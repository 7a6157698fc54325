"""The study's code, one module per concern; importing the package imports nothing heavy.

- :mod:`normbound.config`: the config's schema check and cross-key checks (no torch).
- :mod:`normbound.layout`: where every file of a study goes, written once (no torch).
- :mod:`normbound.data`:   the data protocol: load, split, label noise, normalise (numpy).
- :mod:`normbound.model`:  the network, its norms and penalties, the measurements (torch).
- :mod:`normbound.train`:  the batched trainer and the one-at-a-time reference loop (torch).
- :mod:`normbound.io`:     atomic writes and logging, shared by every script.

This module holds the study's vocabulary: the model names, which penalty each network
model carries and the sweep axes, written once for every script, table and template.
"""

# Every model, in the order tables and figures list them.
MODELS = ("rf", "svc", "nn", "nn_frob", "nn_mix", "nn_spec", "nn_grad")
BASELINES = ("rf", "svc")
NETWORKS = ("nn", "nn_frob", "nn_mix", "nn_spec", "nn_grad")
# A penalised network model -> the name of its penalty (the config's ``lambdas`` keys):
# the notebook's two bounds, then the two comparators the notebook did not have, the
# tightest norm of the bound chain (spec) and the input gradient itself (grad).
PENALTY = {"nn_frob": "frob", "nn_mix": "mix", "nn_spec": "spec", "nn_grad": "grad"}
# The spectral comparator penalises the Schatten norm of this order instead of ||W||_2
# itself (normbound.model.schatten_norm; normbound.train.spectral_penalty says why). A power
# of 2 of at least 4, so that the trainer's gradient is a short chain of matrix squarings.
SCHATTEN_P = 8
# The config keys that take one value or a list: each list is a sweep axis, and every
# combination of their values is a study cell (normbound.config.cells), in this order.
SWEEP_AXES = ("label_noise", "hidden", "steps")
# Names a reader sees, as the notebook prints them (the comparators' in the same style).
LABELS = {"rf": "RForest", "svc": "SVC", "nn": "NN", "nn_frob": "NN+Frob", "nn_mix": "NN+Mix", "nn_spec": "NN+Spec",
          "nn_grad": "NN+Grad"}


def lam_text(lam) -> str:
    """λ as every table, figure and sentence prints it: the shortest general format, so
    that λ = 1 reads "1" everywhere (never "1.0"), 5e-05 as Python writes it."""
    return f"{float(lam):g}"
