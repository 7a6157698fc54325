"""The attack (normbound.robust.attack) is near-minimal on the study's own networks: width
100, trained on the real data by the study's trainer, one network of every model. The
input-gradient penalty (NN+Grad) is the hard case: its boundary has many local minima of the
distance. Against the search below, the attack before its region search and its wider starts
(3 starts, the boundary walk alone) came within 5 % on 75 % of NN+Grad's points at λ = 0.1
and 0.3 (worst 1.59×); the attack with the study's defaults on 99 % (worst 1.15×).

The reference is a stronger, slower search of this file's own, exact where f is linear:
inside an activation region of a ReLU network f is linear, so the closest misclassified
point of the region is a least-distance quadratic programme, solved exactly by non-negative
least squares (Lawson and Hanson's LDP); from there the search moves into the neighbouring
region across the unit facets whose multipliers ask for it, to a local minimum of the
distance. It starts from the attack's own point (so it is never worse), from the first
crossings on the segments to the nearest training and test points classified otherwise,
and from random perturbations of the best direction so far (basin hopping). The same exact
search checks, on small random networks, that the attack's region search ends at a local
minimum (a fast test).
"""

import numpy as np
import pytest
import torch
from helpers import seed_data
from scipy.optimize import nnls
from test_robustness import RESTARTS, STEPS

from normbound.model import output_signs
from normbound.robust import Networks, attack, cross, misclassified, starts
from normbound.grid import Grid
from normbound.train import train_grid

# One network per model at λ values the study chooses on validation data (NN+Grad: both
# λ it chooses most), trained 3000 steps: as hard for the attack as 10 000 steps were.
MODELS = {"nn": 0.0, "nn_frob": 0.005, "nn_mix": 0.025, "nn_spec": 0.01, "nn_grad": [0.1, 0.3]}
TRAINING_STEPS = 3000


def value(W, b, s, Y):
    return np.maximum(Y @ W.T + b, 0) @ s


def least_distance(G, h):
    """min ‖v‖ subject to G v ≥ h, by non-negative least squares (Lawson and Hanson, LDP):
    v and the constraints' multipliers, or (None, None) where the constraints are infeasible."""
    E = np.vstack([G.T, h[None]])
    target = np.zeros(len(E))
    target[-1] = 1
    u = nnls(E, target, maxiter=20 * E.shape[1])[0]
    residual = E @ u - target
    if residual[-1] > -1e-12:
        return None, None
    return -residual[:-1] / residual[-1], u


def closest_in_region(W, b, s, x, t, pattern, radius):
    """The closest point to x with t f ≤ 0 in the activation region ``pattern`` (units on),
    within ``radius`` of x; and each unit's multiplier. A unit whose facet z_j = 0 does not
    meet that ball keeps its state there: its constraint is left out (exactly)."""
    z = W @ x + b
    near = np.flatnonzero(np.abs(z) <= radius * np.linalg.norm(W, axis=1) * (1 + 1e-9))
    sign = np.where(pattern, 1.0, -1.0)
    g, c = (s * pattern) @ W, (s * pattern) @ b
    G = np.vstack([sign[near, None] * W[near], -t * g[None]])
    h = np.concatenate([-sign[near] * z[near], [t * (g @ x + c)]])
    v, u = least_distance(G, h)
    if v is None:
        return None, None
    multipliers = np.zeros(len(W))
    multipliers[near] = u[:-1]
    return x + v, multipliers


def descend(W, b, s, x, t, y):
    """From a misclassified y: region by region, the closest point, then into the neighbour
    across the facets with positive multipliers (all at once, then one at a time, the largest
    first) while that moves closer. Returns (distance, point)."""
    pattern = (W @ y + b) > 0
    point, multipliers = closest_in_region(W, b, s, x, t, pattern, np.linalg.norm(y - x))
    if point is None:
        return np.linalg.norm(y - x), y
    best = np.linalg.norm(point - x)
    while True:
        pressing = np.flatnonzero(multipliers > 1e-12 * multipliers.max())
        pressing = pressing[np.argsort(-multipliers[pressing])]
        for units in ([pressing] if len(pressing) > 1 else []) + [[j] for j in pressing]:
            neighbour = pattern.copy()
            neighbour[units] = ~neighbour[units]
            there, its_multipliers = closest_in_region(W, b, s, x, t, neighbour, best)
            if there is not None and np.linalg.norm(there - x) < best * (1 - 1e-9):
                pattern, point, multipliers, best = neighbour, there, its_multipliers, np.linalg.norm(there - x)
                break
        else:
            return best, point


def first_crossing(W, b, s, x, t, directions, reach, samples=32, halvings=30):
    """Along x + ρu for each unit row u: the first misclassified one of ``samples`` points
    in (0, reach], refined by bisection; inf where none is."""
    rho = np.linspace(0, reach, samples + 1)[1:]
    bad = t * value(W, b, s, x + rho[None, :, None] * directions[:, None]) <= 0
    first = bad.argmax(1)
    hi, lo = rho[first], np.where(first > 0, rho[np.maximum(first - 1, 0)], 0.0)
    for _ in range(halvings):
        mid = (lo + hi) / 2
        inside = t * value(W, b, s, x + mid[:, None] * directions) <= 0
        hi, lo = np.where(inside, mid, hi), np.where(inside, lo, mid)
    return np.where(bad.any(1), hi, np.inf)


def strong_distance(W, b, s, x, t, attack_point, others, rng, nearest=8, descents=3, hops=8):
    """The reference search (module docstring) for one point: (distance, point)."""
    found = [descend(W, b, s, x, t, attack_point)]
    offsets = others[np.argsort(np.linalg.norm(others - x, axis=1))[:nearest]] - x
    lengths = np.linalg.norm(offsets, axis=1)
    directions = offsets / lengths[:, None]
    rho = first_crossing(W, b, s, x, t, directions, lengths.max() * (1 + 1e-9))
    found += [descend(W, b, s, x, t, x + rho[k] * directions[k]) for k in np.argsort(rho)[:descents]
              if np.isfinite(rho[k])]
    distance, point = min(found, key=lambda pair: pair[0])
    for _ in range(hops):
        u = (point - x) / distance + rng.standard_normal(len(x)) * rng.uniform(0.2, 0.8) / np.sqrt(len(x))
        u /= np.linalg.norm(u)
        rho = first_crossing(W, b, s, x, t, u[None], 2 * distance)[0]
        if np.isfinite(rho):
            distance, point = min((distance, point), descend(W, b, s, x, t, x + rho * u), key=lambda pair: pair[0])
    return distance, point


@pytest.fixture(scope="module")
def study_networks():
    """One width-100 network per model and λ of :data:`MODELS`, trained by the study's
    batched trainer on seed 0's data (its protocol: split, label noise, normalisation)."""
    data = seed_data()
    models = [(m, lam) for m, lams in MODELS.items() for lam in np.atleast_1d(lams)]
    grid = Grid([m for m, _ in models], [float(lam) for _, lam in models], ["train"] * len(models))
    # The comparators train in chunks of their own, as in train_networks.
    trained = [train_grid(chunk, data, 0, 100, TRAINING_STEPS, 0.01) for chunk in grid.chunks(32)]
    W = torch.cat([r.W for r in trained]).double()
    b = torch.cat([r.b for r in trained]).double()
    names = [f"{m} λ={lam:g}" for chunk in grid.chunks(32) for m, lam in zip(chunk.models, chunk.lams)]
    return names, W, b, output_signs(100, torch.float64), data


@pytest.mark.slow
def test_attack_is_within_five_percent_of_a_stronger_search_on_every_model(study_networks):
    names, W, b, s, data = study_networks
    X, t = torch.as_tensor(data["X_test"]), torch.as_tensor(data["t_test"])
    points = X[:, None].expand(-1, len(W), -1)
    distance, found = attack(Networks(W, b, s), points, t[:, None], RESTARTS, STEPS, torch.Generator().manual_seed(0))
    everything = np.vstack([data["X_train"], data["X_test"]])
    rng = np.random.default_rng(0)
    shares = {}
    for m, name in enumerate(names):
        Wm, bm, sm = W[m].numpy(), b[m].numpy(), s.numpy()
        others_of = value(Wm, bm, sm, everything)
        ratios = []
        for n in np.flatnonzero(distance[:, m].numpy() > 0):
            x, label = X[n].numpy(), float(t[n])
            reference, point = strong_distance(Wm, bm, sm, x, label, found[n, m].numpy(),
                                               everything[label * others_of <= 0], rng)
            # The reference's point is misclassified (on the boundary, to rounding): it is a
            # distance the attack could have found, not an optimistic one.
            assert label * value(Wm, bm, sm, point[None])[0] <= 1e-9, (name, n)
            ratios.append(distance[n, m].item() / reference)
        ratios = np.array(ratios)
        assert len(ratios) > 0.8 * len(X), name
        shares[name] = (float(np.mean(ratios <= 1.05)), float(ratios.max()))
    assert all(share >= 0.95 for share, _ in shares.values()), "; ".join(
        f"{name}: {share:.1%} within 5 %, worst {worst:.2f}×" for name, (share, worst) in shares.items())


def test_region_search_ends_at_a_local_minimum_of_the_distance():
    """Networks.descend (the attack's region search) from the attack's boundary starts on
    random networks of width 30 on 10 inputs: every point it returns is misclassified, no
    farther than its start, and a local minimum: this file's exact search, from there,
    finds nothing closer."""
    gen = torch.Generator().manual_seed(5)
    W = torch.randn(2, 30, 10, generator=gen, dtype=torch.float64)
    b = torch.randn(2, 30, generator=gen, dtype=torch.float64)
    net = Networks(W, b, output_signs(30, torch.float64))
    X = 0.5 * torch.randn(60, 1, 10, generator=gen, dtype=torch.float64).expand(-1, 2, -1)
    f, g = net.value_and_grad(X)
    t = torch.sign(f)
    Y, found = cross(net, X, t, starts(net, X, t, f.abs() / g.norm(dim=-1), 3, gen), STEPS)
    searched = net.descend(X, t, Y)
    assert found.all() and misclassified(net, searched, t).all()
    distance = (searched - X).norm(dim=-1)
    assert (distance <= (Y - X).norm(dim=-1)).all()
    for r, n, m in np.ndindex(*distance.shape):
        closer, _ = descend(W[m].numpy(), b[m].numpy(), net.s.numpy(), X[n, m].numpy(), float(t[n, m]),
                            searched[r, n, m].numpy())
        assert closer >= distance[r, n, m].item() * (1 - 1e-6), (r, n, m)
