"""Certified and empirical robustness (normbound.robust, scripts/robustness.py): the
certificates are sound and a wrong one is caught, every column of the job's table is its
definition (checked on small hand-made networks and an RBF machine, against formulas written
out here, and invariant where the classifier is only rescaled), the attack comes close to
the exact distance to the decision boundary (tests/test_attack_quality.py: on the study's
width-100 networks), the SVC's arrays are scikit-learn's decision function, and the
report's section states what results/robustness.csv holds."""

import itertools
import os
import re

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from scipy import stats
from helpers import (LATEX_INSTALL, SCHEMA, SMALL_CONFIG, Page, baselines_file, data_file, full_config, pdf_text,
                     require_program, seed_data, seed_folder)

import train_baselines
from normbound import LABELS, NETWORKS
from normbound.model import frobenius_bound, mixed_norm, output_signs, spectral_bound
from normbound.robust import Networks, RBFMachine, attack, global_radius, local_radius, violations
from normbound.grid import Grid
from normbound.train import train_grid

GLOBAL = {"radius_mix": mixed_norm, "radius_spectral": spectral_bound, "radius_frob": frobenius_bound}
with open(SCHEMA) as _handle:
    DEFAULTS = {key: value["default"] for key, value in
                yaml.safe_load(_handle)["properties"]["robustness"]["properties"].items()}
# The attack as the study runs it by default: what the strength tests hold to account.
RESTARTS, STEPS = DEFAULTS["restarts"], DEFAULTS["steps"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread, as the robustness job runs: small matrix products, where a second
    spinning thread on a busy machine only slows them down."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def exact_distance(W, b, s, X):
    """The exact L2 distance from each point of ``X`` to the closest point y with
    f(y) = 0 (for a correctly classified x, the closest misclassified point), for one
    network of width h ≤ d whose W has full row rank.

    In the pre-activations z = W y + b (any z is reachable, and the least ‖y − x‖ that
    reaches z is ‖z − z_x‖ in the metric (W Wᵀ)⁻¹), the closest point lies in a closed
    orthant (an activation pattern) on f = Σ_{j: z_j > 0} s_j z_j = 0. At it each unit is
    positive, negative or zero; with that assignment fixed, the KKT conditions say it is
    the projection of z_x onto {z_j = 0 for the zero units, Σ_{positive} s_j z_j = 0} (the
    sign constraints of the other units inactive). So enumerating the 3^h assignments,
    solving each projection in closed form and keeping the feasible ones (signs as
    assigned) gives the exact minimum: one small quadratic programme per pattern and set
    of units at zero."""
    h, d = W.shape
    states = torch.tensor(list(itertools.product((0, 1, 2), repeat=h)))  # negative, positive, zero
    C = torch.zeros(len(states), h + 1, h, dtype=W.dtype)  # constraint rows; unused rows stay 0
    C[:, torch.arange(h), torch.arange(h)] = (states == 2).to(W.dtype)
    C[:, h] = (states == 1).to(W.dtype) * s
    G = W @ W.T
    S = C @ G @ C.transpose(1, 2) + torch.diag_embed((C == 0).all(-1).to(W.dtype))  # unused rows: identity
    z0 = X @ W.T + b
    r = torch.einsum("akh,nh->nak", C, z0)
    y = torch.einsum("akl,nal->nak", torch.linalg.inv(S), r)
    z = z0[:, None] - torch.einsum("hg,akg,nak->nah", G, C, y)  # the projection of z0
    tol = 1e-9 * (1 + z0.abs().max())
    feasible = ((z >= -tol) | (states != 1)).all(-1) & ((z <= tol) | (states != 0)).all(-1)
    return torch.where(feasible, (r * y).sum(-1), torch.inf).min(-1).values.clamp_min(0).sqrt()


def test_linear_model_distance_is_matched():
    """f = relu(w·x + c) − relu(−w·x − c) = w·x + c, a linear model as a network of two
    units: the distance to its boundary is |f(x)|/‖w‖, and the attack finds it."""
    gen = torch.Generator().manual_seed(1)
    w, c = torch.randn(1, 30, generator=gen, dtype=torch.float64), torch.tensor([0.3], dtype=torch.float64)
    net = Networks(torch.cat([w, -w])[None], torch.cat([c, -c])[None], output_signs(2, torch.float64))
    X = torch.randn(200, 30, generator=gen, dtype=torch.float64)
    f = X @ w[0] + c
    distance, points = attack(net, X[:, None], torch.sign(f)[:, None], RESTARTS, STEPS, gen)
    torch.testing.assert_close(distance[:, 0], f.abs() / w.norm(), rtol=0, atol=1e-6)
    assert (torch.sign(f)[:, None] * net.value(points) <= 0).all()


@pytest.fixture(scope="module")
def narrow():
    """Three networks of width 6 (every activation pattern a convex polyhedron, 3^6
    assignments to enumerate), trained 300 steps on seed 0: no penalty, Frobenius, mixed
    norm; and seed 0's test points."""
    data = seed_data()
    grid = Grid(["nn", "nn_frob", "nn_mix"], [0.0, 0.005, 0.025], ["train"] * 3)
    result = train_grid(grid, data, 0, 6, 300, 0.01, dtype=torch.float64)
    return result.W, result.b, output_signs(6, torch.float64), torch.as_tensor(data["X_test"]), \
        torch.as_tensor(data["t_test"])


def test_attack_is_within_five_percent_of_the_exact_distance(narrow):
    W, b, s, X, t = narrow
    exact = torch.stack([exact_distance(W[m], b[m], s, X) for m in range(len(W))], 1)
    net = Networks(W, b, s)
    points = X[:, None].expand(-1, len(W), -1)
    distance, found = attack(net, points, t[:, None], RESTARTS, STEPS, torch.Generator().manual_seed(0))
    correct = torch.sign(net.value(points)) == t[:, None]
    assert correct.sum() > 0.8 * correct.numel()
    # An attack's point is misclassified, so no distance is below the exact minimum: this
    # checks the enumeration as much as the attack.
    assert (t[:, None] * net.value(found) <= 0).all()
    assert (distance[correct] >= exact[correct] * (1 - 1e-9)).all()
    within = (distance[correct] <= 1.05 * exact[correct]).double().mean().item()
    assert within >= 0.95, within


def soundness_violations(weights, data, radius_of):
    """For every network in ``weights`` (a seed's weights.npz) and every test point: the
    certificates ``radius_of(W, b, s, X, t) -> {name: radius (N, M)}``, and the points
    where the attack found a misclassified point inside a certified radius, by name."""
    W, b = (torch.as_tensor(weights[k], dtype=torch.float64) for k in ("W", "b"))
    s = output_signs(W.shape[1], torch.float64)
    X, t = torch.as_tensor(data["X_test"]), torch.as_tensor(data["t_test"])[:, None]
    points = X[:, None].expand(-1, len(W), -1)
    distance, found = attack(Networks(W, b, s), points, t, RESTARTS, STEPS, torch.Generator().manual_seed(0))
    assert (t * Networks(W, b, s).value(found) <= 0).all(), "an attack point is classified correctly"
    return {name: int(violations(radius, distance).sum()) for name, radius in radius_of(W, b, s, X, t).items()}


def certificates(W, b, s, X, t):
    f = Networks(W, b, s).value(X[:, None].expand(-1, len(W), -1))
    return {**{name: global_radius(f, t, norm(W)) for name, norm in GLOBAL.items()},
            "radius_local": local_radius(W, b, s, X, t, spectral_bound(W))}


def halved(W, b, s, X, t):
    """Each certificate with half its Lipschitz constant: twice its radius (wrong)."""
    return {name: 2 * radius for name, radius in certificates(W, b, s, X, t).items()}


@pytest.mark.slow
def test_no_attack_breaks_a_certificate_and_a_halved_constant_is_caught(small_study):
    results = small_study / "results"
    for seed in (0, 1):
        with np.load(os.path.join(seed_folder(results, seed), "weights.npz")) as weights, \
                np.load(data_file(results, seed, "npz")) as data:
            weights, data = dict(weights), dict(data)
        # Every network of the seed: nn, and every λ grid on both subsets.
        assert len(weights["W"]) == 1 + 2 * sum(map(len, SMALL_CONFIG["lambdas"].values()))
        assert soundness_violations(weights, data, certificates) == dict.fromkeys([*GLOBAL, "radius_local"], 0)
        caught = soundness_violations(weights, data, halved)
        assert all(count > 0 for count in caught.values()), caught
        # The SVC's certificate: sound, and loose (its radii at most 0.09 of the attack's
        # distances on the study's seeds), so only a constant 20 times too small is caught.
        with np.load(baselines_file(results, seed).replace(".csv", "_svc.npz")) as svc:
            machine = RBFMachine(*(torch.as_tensor(svc[k]) for k in ("support", "coef")), float(svc["gamma"]),
                                 float(svc["intercept"]))
        X, t = torch.as_tensor(data["X_test"]), torch.as_tensor(data["t_test"])
        distance, _ = attack(machine, X, t, RESTARTS, STEPS, torch.Generator().manual_seed(0))
        radius = global_radius(machine.value(X), t, torch.tensor(machine.lipschitz, dtype=X.dtype))
        assert (radius > 0).any() and not violations(radius, distance).any()
        assert violations(20 * radius, distance).any()


def test_local_certificate_is_never_below_a_global_one(narrow):
    W, b, s, X, t = narrow
    radii = certificates(W, b, s, X, t[:, None])
    for name in GLOBAL:
        assert (radii["radius_local"] >= radii[name] * (1 - 1e-12)).all(), name
    assert (radii["radius_local"] > radii["radius_spectral"] * 1.01).any()


def test_svc_arrays_are_the_decision_function_and_the_attack_flips_it():
    data = seed_data()
    svc = train_baselines.fit(data, 0, ["svc"])["svc"]
    arrays = {k: torch.as_tensor(v) for k, v in train_baselines.svc_arrays(svc).items()}
    machine = RBFMachine(arrays["support"], arrays["coef"], float(arrays["gamma"]), float(arrays["intercept"]))
    X, t = torch.as_tensor(data["X_test"]), torch.as_tensor(data["t_test"])
    np.testing.assert_allclose(machine.value(X).numpy(), svc.decision_function(data["X_test"]), rtol=0, atol=1e-12)
    Y = X[:5].clone().requires_grad_()
    machine.value(Y).sum().backward()
    torch.testing.assert_close(machine.value_and_grad(X[:5])[1], Y.grad, rtol=1e-10, atol=1e-12)
    distance, points = attack(machine, X, t, RESTARTS, STEPS, torch.Generator().manual_seed(0))
    correct = torch.sign(machine.value(X)) == t
    flipped = correct & torch.isfinite(distance)
    assert flipped.sum() > 0.9 * correct.sum()
    assert (distance[flipped] > 0).all() and (distance[~correct] == 0).all()
    # scikit-learn's own decision function calls every attack point misclassified.
    assert (t[flipped].numpy() * svc.decision_function(points[flipped].numpy()) <= 0).all()


# --------------------------------------------------------------------------- the small study's report
MEASURES = {"certified_mix": "radius_mix", "certified_spectral": "radius_spectral", "certified_frob": "radius_frob",
            "certified_local": "radius_local", "certified_kernel": "radius_kernel", "empirical": "distance"}


def shown_measures(points: pd.DataFrame) -> dict:
    """The measures of :data:`MEASURES` whose column results/robustness.csv holds, in the
    report table's order."""
    return {measure: column for measure, column in MEASURES.items() if column in points}


def expected_table(points: pd.DataFrame, epsilons) -> dict:
    """(model, ε, measure) -> mean over seeds of the fraction of points with radius > ε,
    computed here with plain numpy from results/robustness.csv."""
    out = {}
    for model in points["model"].unique():
        mine = points[points["model"] == model]
        for epsilon in epsilons:
            for measure, column in shown_measures(points).items():
                if mine[column].notna().all():
                    per_seed = [np.mean(part[column].to_numpy() > epsilon) for _, part in mine.groupby("seed")]
                    out[(model, epsilon, measure)] = float(np.mean(per_seed))
    return out


@pytest.mark.slow
def test_report_section_states_the_robustness_of_the_results_in_both_formats(small_study):
    results = small_study / "results"
    points = pd.read_csv(results / "robustness.csv")
    # A network that did not converge is kept out of every statistic (results/metrics.csv).
    metrics = pd.read_csv(results / "metrics.csv")
    unsettled = metrics[(metrics["phase"] == "after") & (metrics["converged"] == False)]  # noqa: E712
    points = points[~points.set_index(["seed", "model", "lam"]).index.isin(
        unsettled.set_index(["seed", "model", "lam"]).index)]
    epsilons = DEFAULTS["table_epsilons"]
    expected = expected_table(points, epsilons)
    assert {m for m, _, _ in expected} == {"svc", *NETWORKS}
    page = Page(results / "report" / "report.html")
    header, *rows = page.rows("robustness-table")
    shown, model = {}, None
    for row in rows:
        model = next((m for m, label in LABELS.items() if label == row[0]), model) if row[0] else model
        for measure, cell in zip(shown_measures(points), row[3:]):
            if cell != "—":
                shown[(model, float(row[2]), measure)] = cell.split("[")[0].strip()
    assert shown == {key: f"{value:.3f}" for key, value in expected.items()}
    # The words: at the middle ε, the attack's share of unbroken points per model, in both formats.
    html = " ".join(page.text("#robustness").split())
    require_program("latexmk", LATEX_INSTALL)
    pdf = pdf_text(results / "report" / "report.pdf")
    assert "What the bounds buy" in pdf
    section = pdf[pdf.index("What the bounds buy"):]
    for model in ("svc", "nn", "nn_frob", "nn_mix"):
        share = f"{100 * expected[(model, epsilons[1], 'empirical')]:.1f} %"
        assert f"{LABELS[model]}" in html and share in html and share in section, (model, share)
    local = f"{100 * expected[('nn_mix', epsilons[1], 'certified_local')]:.1f} %"
    assert re.search(rf"NN\+Mix \(λ: [^:]*\): the local certificate certifies {re.escape(local)}", html)


@pytest.mark.slow
def test_every_interval_is_the_corrected_one_and_only_for_estimates(small_study):
    """The report's tables give an interval to an accuracy (robust or not) over at least
    MIN_SEEDS seeds, the corrected resampled t of its seeds' values, and to nothing else:
    a norm's, a gradient's or a ratio's spread is its sd."""
    from normbound.summary import MIN_SEEDS
    tables = small_study / "results" / "tables"
    test_over_train = full_config(small_study)["test_fraction"] / (1 - full_config(small_study)["test_fraction"])
    for name in ("comparison_chosen", "comparison_notebook", "robustness", "robustness_gap"):
        table = pd.read_csv(tables / f"{name}.csv")
        estimate = table["metric"].str.contains("acc|certified|empirical") & (table["n"] >= MIN_SEEDS)
        if name != "robustness_gap":
            assert estimate.any(), name
        assert table.loc[~estimate, "ci_low"].isna().all(), name
        ok = table[estimate & (table["std"] > 0)]
        half = stats.t.ppf(0.975, ok["n"] - 1) * np.sqrt(1 / ok["n"] + test_over_train) * ok["std"]
        # An estimate is a share: the interval is cut to [0, 1].
        np.testing.assert_allclose(ok["ci_high"], np.minimum(ok["mean"] + half, 1), rtol=1e-9)
        np.testing.assert_allclose(ok["ci_low"], np.maximum(ok["mean"] - half, 0), rtol=1e-9, atol=1e-12)


def job_inputs(W, b, models, lams):
    """The robustness job's network inputs for networks ``W``, ``b`` of ``models`` at ``lams``:
    networks.csv's after-training rows (every penalised one chosen on validation data, as
    each model appears once) with the norms train_networks measures, and weights.npz."""
    networks = pd.DataFrame(dict(model=models, lam=lams, phase="after", selected=[m != "nn" for m in models],
                                 diverged=False, mix_norm=mixed_norm(W), spectral_bound=spectral_bound(W),
                                 frob_bound=frobenius_bound(W)))
    weights = dict(W=W.numpy(), b=b.numpy(), model=np.array(models), lam=np.array(lams),
                   subset=np.array(["train"] * len(models)))
    return networks, weights


def test_robustness_job_fails_when_an_attack_breaks_a_certificate(narrow, monkeypatch):
    """The job's own check: sound certificates pass; a local certificate of twice its
    radius, or a kernel certificate of a constant far too small, is broken by the attack,
    and the job stops saying so."""
    import robustness

    W, b, _, X, t = narrow
    models, lams = ["nn", "nn_frob", "nn_mix"], [0.0, 0.005, 0.025]
    networks, weights = job_inputs(W, b, models, lams)
    data = dict(X_test=X.numpy(), t_test=t.numpy())
    svc = train_baselines.svc_arrays(train_baselines.fit(seed_data(), 0, ["svc"])["svc"])
    table = robustness.robustness(data, 0, networks, weights, svc, restarts=RESTARTS, steps=STEPS)
    assert list(table["model"].unique()) == [*models, "svc"] and len(table) == 4 * len(X)
    assert robustness.broken_certificates(table).empty
    with monkeypatch.context() as patch:
        patch.setattr(robustness, "local_radius", lambda *args: 2 * local_radius(*args))
        with pytest.raises(RuntimeError, match="inside a certified radius"):
            robustness.robustness(data, 0, networks, weights, restarts=RESTARTS, steps=STEPS)
    # The kernel certificate is loose (radii at most 0.09 of the attack's distances on the
    # study's seeds): a constant 1000 times too small puts radii beyond them.
    lipschitz = RBFMachine.lipschitz
    monkeypatch.setattr(RBFMachine, "lipschitz", property(lambda machine: 1e-3 * lipschitz.fget(machine)))
    with pytest.raises(RuntimeError, match="radius_kernel"):
        robustness.robustness(data, 0, svc=svc, restarts=RESTARTS, steps=STEPS)


# --------------------------------------------------------------------------- each column against its definition
SCALES = (10.0, 0.1)


@pytest.fixture(scope="module")
def hand_made():
    """Five networks of width 8 on 5 inputs, one per network model, with rows of norm 2 to
    60 (a certificate that forgets ‖w_j‖ is off by that much), an RBF machine, and 60
    points labelled by the first network's sign with every fourth label flipped: every
    classifier has points on both sides and misclassified ones."""
    gen = torch.Generator().manual_seed(3)
    scale = torch.tensor([3.0, 5.0, 8.0, 12.0, 20.0], dtype=torch.float64)[:, None, None]
    W = scale * torch.randn(len(NETWORKS), 8, 5, generator=gen, dtype=torch.float64)
    b = scale[..., 0] * torch.randn(len(NETWORKS), 8, generator=gen, dtype=torch.float64)
    s = output_signs(8, torch.float64)
    X = torch.randn(60, 5, generator=gen, dtype=torch.float64)
    t = torch.sign(Networks(W, b, s).value(X[:, None].expand(-1, len(W), -1))[:, 0])
    t[::4] *= -1
    svc = dict(support=torch.randn(12, 5, generator=gen, dtype=torch.float64).numpy(),
               coef=torch.randn(12, generator=gen, dtype=torch.float64).numpy(), gamma=np.float64(0.3),
               intercept=np.float64(0.1))
    return W, b, s, X, t, svc


def job_table(W, b, X, t, svc=None):
    """The robustness job's table for the networks ``W``, ``b`` (one per network model) and ``svc``."""
    import robustness

    networks, weights = job_inputs(W, b, list(NETWORKS), [0.0, *[0.01] * (len(NETWORKS) - 1)])
    data = dict(X_test=X.numpy(), t_test=t.numpy())
    return robustness.robustness(data, 0, networks, weights, svc, restarts=RESTARTS, steps=STEPS)


def defined_local_radius(W, b, s, x, t, spectral):
    """The local certificate from its definition, by bisection: the largest ε with
    ε·L(x, ε) < |f(x)|, L(x, ε) = min(‖ |v_S| + Σ_{unstable j} |w_j| ‖, √h‖W‖₂), where unit
    j is stable when |w_j·x + b_j| ≥ ε‖w_j‖ and v_S sums s_j w_j over the stable active
    units (0 where x is misclassified). One network ``W (h, d)``, one point."""
    z = W @ x + b
    f = torch.relu(z) @ s
    if torch.sign(f) != t:
        return 0.0

    def lipschitz(epsilon):
        stable = z.abs() >= epsilon * W.norm(dim=1)
        v = ((stable & (z > 0)).to(W.dtype) * s) @ W
        return min(float((v.abs() + (~stable).to(W.dtype) @ W.abs()).norm()), spectral)

    lo, hi = 0.0, float(f.abs()) / lipschitz(0.0)  # L never decreases with ε: nothing beyond hi
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mid * lipschitz(mid) < f.abs() else (lo, mid)
    return lo


def kernel_lipschitz(svc):
    """√(2γ/e)·Σ_i |α_i|, written out here."""
    return np.sqrt(2 * svc["gamma"] / np.e) * np.abs(svc["coef"]).sum()


def test_every_column_of_the_job_is_its_definition(hand_made):
    """Each radius column is |f(x)|/L with L its own norm (‖W‖_Mix, √h‖W‖₂, √h‖W‖_F; the
    kernel's √(2γ/e)·Σ|α|) on correctly classified points and 0 on the others; the local one
    is the largest radius its definition certifies; a certificate that does not apply is
    empty; the attack's distance is 0 exactly on misclassified points and never inside a radius."""
    W, b, s, X, t, svc = hand_made
    table = job_table(W, b, X, t, svc)
    f = Networks(W, b, s).value(X[:, None].expand(-1, len(W), -1))
    norms = {column: norm(W) for column, norm in GLOBAL.items()}
    for m, model in enumerate(NETWORKS):
        rows = table[table["model"] == model]
        correct = (torch.sign(f[:, m]) == t).numpy()
        assert rows["point"].tolist() == list(range(len(X))) and (rows["correct"].to_numpy() == correct).all()
        assert 0 < correct.sum() < len(X), model
        for column, norm in norms.items():
            expected = np.where(correct, f[:, m].abs().numpy() / norm[m].item(), 0.0)
            np.testing.assert_allclose(rows[column].to_numpy(), expected, rtol=1e-12, atol=0,
                                       err_msg=f"{model} {column}")
        local = [defined_local_radius(W[m], b[m], s, X[n], t[n], norms["radius_spectral"][m].item())
                 for n in range(len(X))]
        np.testing.assert_allclose(rows["radius_local"].to_numpy(), local, rtol=1e-9, atol=1e-300, err_msg=model)
        assert rows["radius_kernel"].isna().all()
        assert ((rows["distance"] == 0).to_numpy() == ~correct).all()
    machine = table[table["model"] == "svc"]
    F = RBFMachine(*(torch.as_tensor(svc[k]) for k in ("support", "coef")), float(svc["gamma"]),
                   float(svc["intercept"])).value(X).numpy()
    correct = np.sign(F) == t.numpy()
    assert (machine["correct"].to_numpy() == correct).all() and 0 < correct.sum() < len(X)
    np.testing.assert_allclose(machine["radius_kernel"].to_numpy(),
                               np.where(correct, np.abs(F) / kernel_lipschitz(svc), 0), rtol=1e-12, atol=0)
    assert machine[["radius_mix", "radius_spectral", "radius_frob", "radius_local"]].isna().all().all()
    assert ((machine["distance"] == 0).to_numpy() == ~correct).all()
    radii = table[["radius_mix", "radius_spectral", "radius_frob", "radius_local", "radius_kernel"]]
    assert (radii.fillna(0).max(axis=1) <= table["distance"]).all()


def test_local_radius_is_the_largest_radius_its_definition_certifies(hand_made):
    W, b, s, X, t, _ = hand_made
    spectral = spectral_bound(W)
    radius = local_radius(W, b, s, X, t[:, None], spectral)
    assert (W.norm(dim=-1) > 1.5).all()  # breakpoints |z_j|/‖w_j‖ far from |z_j|
    for m in range(len(W)):
        defined = [defined_local_radius(W[m], b[m], s, X[n], t[n], spectral[m].item()) for n in range(len(X))]
        np.testing.assert_allclose(radius[:, m].numpy(), defined, rtol=1e-9, atol=1e-300)


@pytest.mark.parametrize("scale", SCALES)
def test_radii_and_attack_do_not_change_when_a_network_is_scaled(hand_made, scale):
    """f(x)/scale is the same classifier with the same boundary: scaling W and b together
    leaves every radius and the attack's distance as they were (the local certificate's
    breakpoints are |z_j|/‖w_j‖, not |z_j|)."""
    W, b, _, X, t, _ = hand_made
    columns = ["correct", "radius_mix", "radius_spectral", "radius_frob", "radius_local", "distance"]
    table, scaled = job_table(W, b, X, t)[columns], job_table(scale * W, scale * b, X, t)[columns]
    assert (table["correct"] == scaled["correct"]).all()
    np.testing.assert_allclose(scaled[columns[1:-1]].to_numpy(), table[columns[1:-1]].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(scaled["distance"].to_numpy(), table["distance"].to_numpy(), rtol=1e-6)


def test_kernel_certificate_is_the_kernels_lipschitz_constant_and_scales_with_the_inputs(hand_made):
    """RBFMachine.lipschitz is √(2γ/e)·Σ|α|: attained by one support vector at distance
    1/√(2γ), never exceeded by the gradient of several; and the job's radius follows the
    geometry: inputs and support vectors times a with γ/a² (the same classifier, stretched)
    give radii times a; α and the intercept times c leave them as they were."""
    *_, X, t, svc = hand_made
    machine = lambda arrays: RBFMachine(*(torch.as_tensor(arrays[k]) for k in ("support", "coef")),  # noqa: E731
                                        float(arrays["gamma"]), float(arrays["intercept"]))
    one = dict(svc, support=svc["support"][:1], coef=svc["coef"][:1])
    direction = torch.randn(5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    distances = torch.linspace(0, 3, 301, dtype=torch.float64)[:, None] / np.sqrt(2 * svc["gamma"])
    points = torch.as_tensor(one["support"]) + distances * direction / direction.norm()
    gradient = machine(one).value_and_grad(points)[1]
    np.testing.assert_allclose(gradient.norm(dim=-1).max().item(), machine(one).lipschitz, rtol=1e-12)
    assert gradient.norm(dim=-1).argmax() == 100  # at 1/√(2γ)
    np.testing.assert_allclose(machine(svc).lipschitz, kernel_lipschitz(svc), rtol=1e-15)
    Y = 2 * torch.randn(2000, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert (machine(svc).value_and_grad(Y)[1].norm(dim=-1) <= machine(svc).lipschitz).all()

    def radii(arrays, inputs):
        import robustness

        table = robustness.robustness(dict(X_test=inputs.numpy(), t_test=t.numpy()), 0, svc=arrays, restarts=RESTARTS,
                                      steps=STEPS)
        return table["radius_kernel"].to_numpy()

    a, c = 3.0, 7.0
    stretched = dict(svc, support=a * svc["support"], gamma=svc["gamma"] / a**2)
    np.testing.assert_allclose(radii(stretched, a * X), a * radii(svc, X), rtol=1e-12)
    np.testing.assert_allclose(radii(dict(svc, coef=c * svc["coef"], intercept=c * svc["intercept"]), X), radii(svc, X),
                               rtol=1e-12)
