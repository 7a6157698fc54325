"""Training and measurement: the batched fast path against the one-at-a-time reference
loop, the notebook's printed numbers (REFERENCE §3), gradients, bounds, divergence, and the
fast path's K-step function, chunking and curves."""

import logging

import numpy as np
import pytest
import torch
from helpers import max_difference, reference_grid, seed_data

import normbound
from normbound.model import bound_violations, input_gradients, measure, output_signs
from normbound.train import NoCudaError, Grid, curve_steps, pick_device, step_ranges, to_tensors, train_grid, train_reference
from train_baselines import train_baselines
from train_networks import train_seed

NOTEBOOK_LAMBDAS = {"frob": [0.005], "mix": [0.025]}
SETTINGS = dict(models=list(normbound.MODELS), hidden=100, init_scale=0.1, lr=0.01, steps=10000,
                lambdas=NOTEBOOK_LAMBDAS, curve_every=0, device="cpu", batch_size=32, compile=True)
GRID = reference_grid()


@pytest.fixture(scope="module")
def seed0():
    return seed_data()


@pytest.fixture(scope="module")
def notebook_run(seed0):
    """Seed 0 with the defaults and 10 000 steps, through the workflow's own functions."""
    networks, validation, _, weights = train_seed(seed0, 0, **SETTINGS, threads=2)
    return networks, train_baselines(seed0, 0, ["rf", "svc"]), weights


def row(table, model, phase="after"):
    rows = table[(table.model == model) & (table.phase == phase)]
    assert len(rows) == 1
    return rows.iloc[0]


@pytest.mark.slow
def test_reproduces_the_notebooks_exact_rows(notebook_run):
    networks, baselines, _ = notebook_run
    r3 = lambda x: round(float(x), 3)  # noqa: E731  (the notebook prints three decimals)
    assert (r3(row(baselines, "rf").train_acc), r3(row(baselines, "rf").test_acc)) == (1.0, 0.940)
    assert (r3(row(baselines, "svc").train_acc), r3(row(baselines, "svc").test_acc)) == (0.958, 0.951)
    before = row(networks, "nn", "before")
    assert [r3(before[c]) for c in ("train_acc", "test_acc", "mix_norm", "frob_bound", "grad_notebook")] == [
        0.391, 0.372, 4.966, 5.751, 0.425]
    after = row(networks, "nn")
    assert [r3(after[c]) for c in ("train_acc", "test_acc", "mix_norm", "frob_bound")] == [1.0, 0.884, 40.103, 56.739]
    # The notebook's "Grad" column is the unpooled variant (REFERENCE §3); it reproduces too.
    assert r3(after.grad_notebook) == 10.911 and r3(after.grad) == 7.297


@pytest.mark.slow
@pytest.mark.parametrize("model, printed", [
    ("nn_frob", dict(train_acc=0.961, test_acc=0.951, mix_norm=1.719, frob_bound=2.713)),
    ("nn_mix", dict(train_acc=0.951, test_acc=0.954, mix_norm=1.605, frob_bound=4.097)),
])
def test_regularised_rows_within_tolerance_of_the_notebook(notebook_run, model, printed):
    after = row(notebook_run[0], model)
    for column, value in printed.items():
        tolerance = 0.02 if column.endswith("acc") else 0.10 * value
        assert abs(after[column] - value) <= tolerance, (column, after[column], value)


@pytest.mark.slow
def test_fast_path_equals_reference_after_10000_steps_unregularised(seed0, notebook_run):
    weights = notebook_run[2]
    W_ref, b_ref = train_reference("nn", 0.0, seed0, 0, 100, 10000, 0.01)
    i = list(weights["model"]).index("nn")
    assert np.abs(weights["W"][i] - W_ref.numpy()).max() <= 1e-5
    assert np.abs(weights["b"][i] - b_ref.numpy()).max() <= 1e-5


@pytest.mark.parametrize("compile_step", [False, True], ids=["eager", "compiled"])
def test_every_network_equals_its_twin_over_200_steps_in_float64(seed0, compile_step):
    """The same mathematics: in float64 rounding cannot decide a weight's sign, so every
    network -- both penalties, several λ -- must follow its one-at-a-time twin (measured:
    2e-16 for most, 1.7e-10 for nn_mix at λ = 0.25, whose many weights near 0 amplify
    rounding the most). The K-step function that the GPU path captures in a CUDA graph
    does the same operations in the same order, so K = 4 steps a call gives the same bits."""
    one = train_grid(GRID, seed0, 0, 100, 200, 0.01, compile_step=compile_step, dtype=torch.float64)
    worst = max_difference(GRID, one, seed0, torch.float64, 200)
    assert max(worst.values()) <= 1e-9, worst
    four = train_grid(GRID, seed0, 0, 100, 200, 0.01, compile_step=compile_step, dtype=torch.float64, unroll=4)
    assert torch.equal(four.W, one.W) and torch.equal(four.b, one.b)


def test_cosine_learning_rate_follows_its_twin_under_lambdalr(seed0):
    """``lr_schedule: cosine`` is torch's ``LambdaLR`` with the same factor: each network
    follows its reference twin in float64, and the decay really changes the training."""
    grid = Grid(["nn", "nn_frob", "nn_mix"], [0.0, 0.005, 0.025], ["train"] * 3)
    cosine = train_grid(grid, seed0, 0, 100, 200, 0.01, dtype=torch.float64, lr_schedule="cosine")
    worst = max_difference(grid, cosine, seed0, torch.float64, 200, lr_schedule="cosine")
    assert max(worst.values()) <= 1e-9, worst
    constant = train_grid(grid, seed0, 0, 100, 200, 0.01, dtype=torch.float64)
    assert (cosine.W - constant.W).abs().max() > 1e-3


def test_unregularised_and_frobenius_equal_their_twins_over_200_steps_in_float32(seed0):
    """In float32 the smooth penalties follow their twins; the mixed norm's penalty has a
    jump at W_ij = 0, where float32 rounding can flip a weight's sign (see README,
    "Exactness"), so it is checked in float64 above."""
    result = train_grid(GRID, seed0, 0, 100, 200, 0.01, compile_step=True)
    worst = max_difference(GRID, result, seed0, torch.float32, 200)
    smooth = {k: v for k, v in worst.items() if k[0] != "nn_mix"}
    assert max(smooth.values()) <= 1e-5, smooth


def test_chunks_give_the_same_networks_as_one_batch(seed0):
    """A grid larger than ``batch_size`` is trained in chunks; every network comes out
    bit for bit as in one batch (the networks do not interact)."""
    lambdas = {"frob": GRID.lams[1:4], "mix": GRID.lams[4:7]}  # GRID's, in its order
    settings = {**SETTINGS, "lambdas": lambdas, "steps": 50, "compile": False}
    assert [len(g) for g in GRID.chunks(4)] == [4, 4, 4, 1]
    one = train_seed(seed0, 0, **settings)[3]
    parts = train_seed(seed0, 0, **{**settings, "batch_size": 4})[3]
    assert list(parts["model"]) == list(one["model"]) == GRID.models
    np.testing.assert_array_equal(parts["W"], one["W"])
    np.testing.assert_array_equal(parts["b"], one["b"])


def test_curve_steps_are_dense_early_then_every_curve_every():
    assert curve_steps(10000, 250) == [1, 2, 5, 10, 20, 50, 100, 200, *range(250, 10001, 250)]
    assert curve_steps(23, 10) == [1, 2, 5, 10, 20, 23]
    assert curve_steps(3, 10) == [1, 2, 3]
    assert curve_steps(5, 0) == []


def test_step_ranges_end_at_every_curve_point_and_the_last_step():
    assert step_ranges(23, [1, 2, 5, 10, 20, 23], 4) == [(0, 1), (1, 2), (2, 5), (5, 9), (9, 10), (10, 14), (14, 18),
                                                         (18, 20), (20, 23)]
    assert step_ranges(25, [], 10) == [(0, 10), (10, 20), (20, 25)]
    default = step_ranges(10000, curve_steps(10000, 250), 10)
    # Few lengths to capture on CUDA; every curve point ends a range.
    assert {b - a for a, b in default} == {1, 3, 5, 10} and default[-1] == (9990, 10000)
    assert set(curve_steps(10000, 250)) <= {b for _, b in default}
    assert step_ranges(5, [], 1) == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]


def test_curves_are_recorded_at_the_expected_steps_whatever_k(seed0):
    """Curves every 10 steps and at the last (23), the same numbers one step a call and
    K steps a call (a remainder range included); step 10's row is a 10-step run's result."""
    grid = Grid(["nn", "nn_mix"], [0.0, 0.025], ["train", "fit"])
    runs = [train_grid(grid, seed0, 0, 100, 23, 0.01, curve_every=10, unroll=unroll) for unroll in (1, 4)]
    steps = [c["step"] for c in runs[0].curves]
    assert steps == [s for s in (0, 1, 2, 5, 10, 20, 23) for _ in range(len(grid))]
    assert repr(runs[0].curves) == repr(runs[1].curves)  # repr: step 0's objective is NaN
    assert torch.equal(runs[0].W, runs[1].W)
    ten = train_grid(grid, seed0, 0, 100, 10, 0.01)
    at_ten = [c for c in runs[0].curves if c["step"] == 10]
    for i, point in enumerate(at_ten):
        assert (point["test_acc"], point["mix_norm"]) == (ten.after["test_acc"][i], ten.after["mix_norm"][i])
        assert np.isfinite(point["objective"])


def test_fit_networks_ignore_the_validation_points(seed0):
    """A network trained on the fit part equals one trained on that part alone."""
    grid = Grid(["nn_frob"], [0.005], ["fit"])
    masked = train_grid(grid, seed0, 0, 100, 100, 0.01, dtype=torch.float64)
    keep = ~seed0["is_validation"]
    alone = dict(seed0, X_train=seed0["X_train"][keep], t_train=seed0["t_train"][keep],
                 is_validation=np.zeros(keep.sum(), bool))
    W, _ = train_reference("nn_frob", 0.005, alone, 0, 100, 100, 0.01, dtype=torch.float64)
    assert (W - masked.W[0]).abs().max().item() <= 1e-10


def finite_difference_gradient(W, b, s, x, eps=1e-6, output_weights=None):
    weights = s if output_weights is None else output_weights
    f = lambda z: (torch.relu(W @ z + b) * weights).sum()  # noqa: E731
    return torch.stack([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in torch.eye(len(x), dtype=x.dtype)])


def test_grad_matches_finite_differences_on_a_trained_network(seed0):
    result = train_grid(Grid(["nn"], [0.0], ["train"]), seed0, 0, 100, 300, 0.01)
    W, b = result.W.double(), result.b.double()
    s = output_signs(100, torch.float64)
    X = torch.as_tensor(seed0["X_test"][:25])
    analytic = input_gradients(W, b, s, X)[:, 0]
    notebook = input_gradients(W, b, s, X, torch.ones_like(s))[:, 0]
    for n in range(len(X)):
        torch.testing.assert_close(analytic[n], finite_difference_gradient(W[0], b[0], s, X[n]), rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(notebook[n], finite_difference_gradient(W[0], b[0], s, X[n], output_weights=torch.ones_like(s)),
                                   rtol=1e-6, atol=1e-7)
    measured = measure(result.W, result.b, output_signs(100), to_tensors(seed0, "cpu"))
    full = input_gradients(W, b, s, torch.as_tensor(seed0["X_test"]))[:, 0].norm(dim=1)
    np.testing.assert_allclose(measured["grad"][0], full.mean().item(), rtol=1e-12)
    np.testing.assert_allclose(measured["grad_max"][0], full.max().item(), rtol=1e-12)


@pytest.mark.slow
def test_bound_chain_holds_and_a_violation_is_caught(notebook_run):
    networks = notebook_run[0]
    measures = {c: networks[c].to_numpy() for c in ("grad", "grad_max", "mix_norm", "frob_bound", "spectral_bound")}
    assert bound_violations(measures) == []
    assert (networks.grad <= networks.grad_max).all() and (networks.mix_norm <= networks.frob_bound).all()
    broken = dict(measures, grad_max=measures["mix_norm"] * 1.01)
    assert sum("> mix_norm" in line for line in bound_violations(broken)) == len(networks)


def test_divergence_is_flagged_and_does_not_stop_the_grid(seed0):
    networks, validation, _, _ = train_seed(seed0, 0, **{**SETTINGS, "lr": 1e25, "steps": 30, "compile": False})
    after = networks[networks.phase == "after"].set_index("model")
    assert not after.loc["nn", "diverged"] and np.isfinite(after.loc["nn", "test_acc"])
    assert after.loc["nn_frob", "diverged"] and after.loc["nn_mix", "diverged"]
    assert 1 <= after.loc["nn_frob", "diverged_step"] <= 30
    assert not validation[validation.diverged].selected.any()


def test_progress_is_logged_with_step_elapsed_and_remaining(seed0, caplog):
    with caplog.at_level(logging.INFO, logger="normbound"):
        train_grid(Grid(["nn"], [0.0], ["train"]), seed0, 0, 100, 5, 0.01, progress_seconds=0)
    assert any("step 3 of 5" in m and "elapsed" in m and "remaining" in m for m in caplog.messages)


@pytest.mark.parametrize("cuda, expected", [(True, "cuda"), (False, "cpu")])
def test_device_auto_takes_cuda_where_present_else_the_cpu(monkeypatch, cuda, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert pick_device("auto").type == expected
    assert pick_device("cpu").type == "cpu"


def test_device_cuda_without_cuda_says_so_in_one_line(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(NoCudaError) as error:
        pick_device("cuda")
    assert "no CUDA device" in str(error.value) and "\n" not in str(error.value)
