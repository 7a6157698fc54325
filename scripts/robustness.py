"""Certified and empirical robustness of one seed's classifiers on its test points
(:mod:`normbound.robust`): for every network model at the λ chosen on validation data
(``nn``: its one network) and for the RBF SVC, per test point, the radius each
certificate guarantees and the distance at which the attack found a misclassified point.

Writes one row per classifier and test point: ``correct`` (sign(f) = t in float64),
``radius_mix``, ``radius_spectral``, ``radius_frob`` (the networks' global bounds),
``radius_local`` (the networks' local certificate), ``radius_kernel`` (the SVC's global
bound, |F(x)|/L with L = √(2γ/e)·Σ_i|α_i|) and ``distance`` (the attack's; 0 for a
misclassified point, inf where no misclassified point was found). A certificate column is
empty for the classifiers it does not apply to: the four network radii for the SVC,
``radius_kernel`` for the networks. Distances are L2 in the normalised input space.

The random forest is left out: it is piecewise constant, so it has no gradient to attack
and no Lipschitz constant to certify with (README, "The study").

A certified radius larger than the attack's distance would be a contradiction, so the job
fails on one, for the networks and the SVC alike, as training fails on a violated bound
chain: it would mean a bug.

By hand (the default config's files):
          seed=results/noise0.04_h100_steps10000/seed0
          python scripts/robustness.py --seed 0 --data results/data/noise0.04/seed0.npz \\
              --networks $seed/networks.csv --weights $seed/weights.npz \\
              --svc results/baselines/noise0.04/seed0_svc.npz --out /tmp/robustness.csv
"""

import logging
import time

import numpy as np
import pandas as pd
import torch

from normbound import PENALTY, entry, io
from normbound import config as study_config
from normbound.model import output_signs
from normbound.robust import Networks, RBFMachine, attack, global_radius, local_radius, violations

# The global certificates: the radius column and the column of networks.csv holding the
# Lipschitz constant it divides by (measured by train_networks in float64 from the same
# weights: the report's norms and these radii use one number).
GLOBAL = {"radius_mix": "mix_norm", "radius_spectral": "spectral_bound", "radius_frob": "frob_bound"}
# Every certificate's column: the networks' (global, local) and the SVC's.
RADII = (*GLOBAL, "radius_local", "radius_kernel")
log = logging.getLogger("normbound")
COLUMNS = ["seed", "model", "lam", "point", "correct", *RADII, "distance"]


def evaluated_networks(networks: pd.DataFrame, weights: dict) -> pd.DataFrame:
    """The networks evaluated: of every network model, the after-training rows chosen on
    validation data, and the unpenalised models' one network; diverged ones left out.
    ``index``: the network's position in ``weights``, matched on model and λ (the same
    config floats, written and read back exactly) among the whole-training-set networks;
    and the network's norms (:data:`GLOBAL`)."""
    after = networks[(networks["phase"] == "after") & ~networks["diverged"].astype(bool)]
    rows = after[after["selected"].astype(bool) | ~after["model"].isin(list(PENALTY))].copy()
    position = {(m, lam): i
                for i, (m, lam, subset) in enumerate(zip(weights["model"], weights["lam"], weights["subset"]))
                if subset == "train"}
    rows["index"] = [position[(m, lam)] for m, lam in zip(rows["model"], rows["lam"])]
    return rows[["model", "lam", "index", *GLOBAL.values()]].reset_index(drop=True)


def network_robustness(data, networks, weights, restarts, steps, generator) -> pd.DataFrame:
    """Radii and attack distances of the evaluated networks, one row per network and test point."""
    chosen = evaluated_networks(networks, weights)
    W = torch.as_tensor(weights["W"][chosen["index"]], dtype=torch.float64)
    b = torch.as_tensor(weights["b"][chosen["index"]], dtype=torch.float64)
    s = output_signs(W.shape[1], torch.float64)
    X, t = torch.as_tensor(data["X_test"]), torch.as_tensor(data["t_test"])[:, None]
    nets = Networks(W, b, s)
    f = nets.value(X[:, None].expand(-1, len(W), -1))
    norm = {column: torch.tensor(chosen[column].to_numpy()) for column in GLOBAL.values()}
    radii = {name: global_radius(f, t, norm[column]) for name, column in GLOBAL.items()}
    radii["radius_local"] = local_radius(W, b, s, X, t, norm["spectral_bound"])
    distance, _ = attack(nets, X[:, None].expand(-1, len(W), -1), t, restarts, steps, generator)
    table = {"model": np.repeat(chosen["model"].to_numpy()[None], len(X), 0),
             "lam": np.repeat(chosen["lam"].to_numpy()[None], len(X), 0),
             "point": np.repeat(np.arange(len(X))[:, None], len(W), 1), "correct": (torch.sign(f) == t).numpy(),
             **{name: r.numpy() for name, r in radii.items()}, "distance": distance.numpy()}
    # Network by network, points in order.
    return pd.DataFrame({key: value.T.ravel() for key, value in table.items()})


def svc_robustness(data, svc, restarts, steps, generator) -> pd.DataFrame:
    """The RBF SVC's certified radius |F(x)|/L (:attr:`RBFMachine.lipschitz`) and attack
    distances, one row per test point."""
    machine = RBFMachine(torch.as_tensor(svc["support"]), torch.as_tensor(svc["coef"]), float(svc["gamma"]),
                         float(svc["intercept"]))
    X, t = torch.as_tensor(data["X_test"]), torch.as_tensor(data["t_test"])
    f = machine.value(X)
    distance, _ = attack(machine, X, t, restarts, steps, generator)
    return pd.DataFrame(dict(model="svc", lam=np.nan, point=np.arange(len(X)), correct=(torch.sign(f) == t).numpy(),
                             radius_kernel=global_radius(f, t, torch.tensor(machine.lipschitz, dtype=f.dtype)).numpy(),
                             distance=distance.numpy()))


def broken_certificates(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``table`` where the attack's distance lies inside a certified radius,
    once per certificate broken (column ``certificate``)."""
    distance = torch.tensor(table["distance"].to_numpy(float))
    return pd.concat([table[violations(torch.tensor(table[r].to_numpy(float)), distance).numpy()].assign(certificate=r)
                      for r in RADII])


def robustness(data, seed, networks=None, weights=None, svc=None, *, restarts, steps) -> pd.DataFrame:
    """The seed's table (see the module's docstring); ``networks``/``weights`` and ``svc``
    may each be None where the config trains no such model. Raises if an attack breaks a
    certificate."""
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    parts = []
    if networks is not None:
        parts.append(network_robustness(data, networks, weights, restarts, steps, generator))
    if svc is not None:
        parts.append(svc_robustness(data, svc, restarts, steps, generator))
    table = pd.concat(parts, ignore_index=True).reindex(columns=COLUMNS) if parts else pd.DataFrame(columns=COLUMNS)
    broken = broken_certificates(table)
    if len(broken):
        raise RuntimeError(f"seed {seed}: the attack found misclassified points inside a certified radius:\n"
                           f"{broken.to_string()}")
    log.info("seed %d: %d classifiers, %d test points, in %.2f s", seed, table["model"].nunique(), len(data["X_test"]),
             time.perf_counter() - start)
    return table.assign(seed=seed)


def run(data, seed, out, settings, networks=None, weights=None, svc=None, threads=None):
    """The job, on ``threads`` torch threads (the workflow's rule: one; small matrix
    products, so two jobs share two cores better than one job spinning on both)."""
    if threads:
        torch.set_num_threads(threads)
    load = lambda path: dict(np.load(path)) if path else None  # noqa: E731
    table = robustness(load(data), seed, pd.read_csv(networks) if networks else None, load(weights), load(svc),
                       **settings)
    io.write_csv(table, out)


SCRIPT = entry.Script(
    __doc__, run,
    seed=entry.wildcard("the seed of the data and of the attack's starts"),
    data=entry.inp("arrays from prepare_data.py"),
    networks=entry.inp("networks.csv from train_networks.py (with --weights)", optional=True),
    weights=entry.inp("weights.npz from train_networks.py", optional=True),
    svc=entry.inp("svc.npz from train_baselines.py", optional=True),
    out=entry.out("output CSV", 0),
    settings=entry.param(study_config.attack_settings),
    threads=entry.threads(None, "torch threads (default: torch's)"),
)
main = SCRIPT.main

if __name__ == "__main__":
    SCRIPT.start(globals())
