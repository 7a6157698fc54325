"""The fast path on a CUDA device (K steps captured in a CUDA graph and replayed) against
the one-at-a-time reference loop on the CPU.

Collected only where torch sees CUDA (tests/conftest.py); run with benchmarks/gpu_check.sh.
"""

import numpy as np
import pytest
import torch
from helpers import max_difference, reference_grid, seed_data

from normbound.train import CUDA_UNROLL, Grid, step_ranges, train_grid, train_reference

GRID = reference_grid()


@pytest.fixture(scope="module")
def seed0():
    return seed_data()


@pytest.mark.parametrize("compile_step", [False, True], ids=["eager-graph", "compiled-graph"])
def test_every_network_equals_its_twin_over_200_steps_in_float64(seed0, compile_step):
    result = train_grid(GRID, seed0, 0, 100, 200, 0.01, device="cuda", compile_step=compile_step,
                        dtype=torch.float64)
    worst = max_difference(GRID, result, seed0, torch.float64, 200)
    assert max(worst.values()) <= 1e-9, worst


def test_unregularised_equals_reference_after_10000_steps_in_float32(seed0):
    result = train_grid(Grid(["nn"], [0.0], ["train"]), seed0, 0, 100, 10000, 0.01, device="cuda", compile_step=True)
    W, b = train_reference("nn", 0.0, seed0, 0, 100, 10000, 0.01)
    assert (W - result.W[0]).abs().max().item() <= 1e-5
    assert (b - result.b[0]).abs().max().item() <= 1e-5


def test_divergence_and_curves_on_the_graph_path(seed0):
    """lr = 1e25 makes the penalised objectives overflow at step 2 (tests/helpers.py) inside
    a replayed graph; the step is still exact, the unpenalised network goes on, and curves
    come at every 10 steps and the last, through a shorter last graph (25 = 2 x 10 + 5)."""
    assert step_ranges(25, 10, CUDA_UNROLL)[-1] == (20, 25)
    grid = Grid(["nn", "nn_frob", "nn_mix"], [0.0, 0.005, 0.025], ["train"] * 3)
    result = train_grid(grid, seed0, 0, 100, 25, 1e25, device="cuda", curve_every=10)
    assert list(result.diverged_step) == [-1, 2, 2]
    assert np.isfinite(result.after["test_acc"][0])
    assert [c["step"] for c in result.curves] == [s for s in (0, 10, 20, 25) for _ in range(3)]
