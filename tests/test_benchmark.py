"""The benchmark's roofline: its FLOP counting and arithmetic on tiny shapes (no timing
values are checked), and that its two products are the trainer's."""

import math

import pytest
import torch
from benchmark import best_seconds, gemm_rate, matmul_flops, roofline, roofline_figures, step_products
from torch.utils.flop_counter import FlopCounterMode

from normbound.objective import objective_and_gradient


def test_a_product_counts_two_flops_per_multiply_add():
    assert matmul_flops(2, 3, 4) == 2 * 2 * 3 * 4 == 48
    assert matmul_flops(2, 3, 4, batch=5) == 5 * 48
    assert gemm_rate(8, reps=1)["flops"] == 2 * 8**3


def test_step_products_have_the_trainers_shapes_and_flops():
    M, h, d, N = 3, 5, 4, 7
    products = step_products(M, h, d, N)
    assert list(products) == ["forward", "backward"]
    forward, flops, shape, count = products["forward"]
    assert forward().shape == (M * h, N) and flops == 2 * (M * h) * (d + 1) * N and count == 1
    assert shape == f"{M * h} x {d + 1} x {N}"
    backward, flops, shape, count = products["backward"]
    assert backward().shape == (M, h, d + 1) and flops == 2 * M * h * N * (d + 1) and count == M
    assert shape == f"{h} x {N} x {d + 1}"


def test_step_products_are_the_matrix_products_the_trainer_does():
    """torch's FLOP counter on one eager step of the trainer: its mm is the forward product
    and its bmm the backward one plus the output s @ A, which the roofline leaves out (a
    matrix-vector product; the compiled step sums it elementwise)."""
    M, h, d, N = 3, 5, 4, 7
    P = torch.randn(M, h, d + 1)
    X1 = torch.cat([torch.randn(N, d), torch.ones(N, 1)], 1)
    lam = {name: torch.zeros(M) for name in ("frob", "mix", "spec", "grad")}
    with FlopCounterMode(display=False) as counter:
        objective_and_gradient(P, torch.ones(h), X1, X1.T.contiguous(), torch.ones(N), torch.full((M, N), 1 / N),
                               lam, ("frob", "mix"))
    counts = {str(op).split(".")[-1]: n for op, n in counter.get_flop_counts()["Global"].items()}
    products = step_products(M, h, d, N)
    assert counts == {"mm": products["forward"][1], "bmm": products["backward"][1] + matmul_flops(1, N, h, M)}


def test_roofline_arithmetic():
    products = {"forward": dict(flops=1e9, seconds=0.01), "backward": dict(flops=1e9, seconds=0.03)}
    out = roofline_figures(networks=4, steps=100, products=products, trainer_seconds_per_network=2.0,
                           gemm_gflops=100.0)
    assert out["step_gemm_flops"] == 2e9 and out["step_gemm_seconds"] == pytest.approx(0.04)
    # 0.04 s a step for 4 networks, 100 steps: 1 s a network.
    assert out["step_gemm_floor_seconds_per_network"] == pytest.approx(1.0)
    assert out["ratio_to_floor"] == pytest.approx(2.0)
    # 5e10 FLOPs a network: 50 GFLOP/s in the floor's 1 s, 25 in the trainer's 2 s, of 100.
    assert out["floor_fraction_of_peak"] == pytest.approx(0.5)
    assert out["fraction_of_peak"] == pytest.approx(0.25)


def test_roofline_runs_on_tiny_shapes_and_is_consistent():
    gemm = gemm_rate(16, reps=1)
    assert gemm["gflops"] == pytest.approx(gemm["flops"] / gemm["seconds"] / 1e9)
    out = roofline(networks=2, hidden=3, inputs=4, points=5, steps=10, trainer_seconds_per_network=1.0,
                   gemm=gemm, reps=1)
    flops = [p["flops"] for p in out["step_products"].values()]
    assert flops == [matmul_flops(2 * 3, 5, 5), matmul_flops(3, 5, 5, 2)] and out["step_gemm_flops"] == sum(flops)
    seconds = sum(p["seconds"] for p in out["step_products"].values())
    assert out["step_gemm_floor_seconds_per_network"] == pytest.approx(seconds * 10 / 2)
    assert out["ratio_to_floor"] == pytest.approx(1.0 / out["step_gemm_floor_seconds_per_network"])
    for p in out["step_products"].values():
        assert p["gflops"] == pytest.approx(p["flops"] / p["seconds"] / 1e9)


def test_best_seconds_is_the_best_rep_per_call():
    calls = []
    seconds = best_seconds(lambda: calls.append(1), reps=3, min_seconds=0.0)
    assert len(calls) == 1 + 3 and 0 < seconds < 1 and math.isfinite(seconds)
