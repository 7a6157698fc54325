"""The fast path on a CUDA device (K steps captured in a CUDA graph and replayed) against
the one-at-a-time reference loop on the CPU.

Collected only where torch sees CUDA (tests/conftest.py); run with benchmarks/gpu_check.sh.
"""

import numpy as np
import pytest
import torch
from helpers import comparator_grid, max_difference, reference_grid, seed_data

from normbound.model import spectral_norm
from normbound.grid import Grid
from normbound.reference import train_reference
from normbound.train import CUDA_UNROLL, curve_steps, step_ranges, train_grid

GRID = reference_grid()
COMPARATOR_GRID = comparator_grid()


@pytest.fixture(scope="module")
def seed0():
    return seed_data()


@pytest.mark.parametrize("compile_step", [False, True], ids=["eager-graph", "compiled-graph"])
def test_every_network_equals_its_twin_over_200_steps_in_float64(seed0, compile_step):
    result = train_grid(GRID, seed0, 0, 100, 200, 0.01, device="cuda", compile_step=compile_step,
                        dtype=torch.float64)
    worst = max_difference(GRID, result, seed0, torch.float64, 200)
    assert max(worst.values()) <= 1e-9, worst


@pytest.mark.parametrize("compile_step", [False, True], ids=["eager-graph", "compiled-graph"])
def test_comparator_networks_follow_the_cpu_program_in_float64(seed0, compile_step):
    """The comparators' state in the graph (nn_spec's power-iteration vectors change in
    place at every replay) and nn_grad's exact input-gradient penalty, against the same
    program run eagerly on the CPU, which tests/test_training.py checks against the
    reference loop. nn and nn_grad are smooth: equal to 1e-9 over 200 steps. nn_spec is
    equal over 20 steps; later its top singular value nearly ties and rounding picks the
    branch (measured on the CPU, eager against compiled: 3e-16 at step 20, 7e-4 at 100,
    0.04 at 200), so after 200 steps its spectral norm is compared, within 25 % as there."""
    def worst(gpu, cpu, models):
        return max(max((gpu.W[i] - cpu.W[i]).abs().max().item(), (gpu.b[i] - cpu.b[i]).abs().max().item())
                   for i, m in enumerate(COMPARATOR_GRID.models) if m in models)

    def both(steps):
        return [train_grid(COMPARATOR_GRID, seed0, 0, 100, steps, 0.01, device=device, dtype=torch.float64,
                           compile_step=compile_step and device == "cuda") for device in ("cuda", "cpu")]

    gpu, cpu = both(20)
    assert worst(gpu, cpu, {"nn", "nn_spec", "nn_grad"}) <= 1e-9
    gpu, cpu = both(200)
    assert worst(gpu, cpu, {"nn", "nn_grad"}) <= 1e-9
    for i in np.flatnonzero(np.array(COMPARATOR_GRID.models) == "nn_spec"):
        assert abs(spectral_norm(gpu.W[i]) / spectral_norm(cpu.W[i]) - 1) <= 0.25


def test_unregularised_equals_reference_after_10000_steps_in_float32(seed0):
    result = train_grid(Grid(["nn"], [0.0], ["train"]), seed0, 0, 100, 10000, 0.01, device="cuda", compile_step=True)
    W, b = train_reference("nn", 0.0, seed0, 0, 100, 10000, 0.01)
    assert (W - result.W[0]).abs().max().item() <= 1e-5
    assert (b - result.b[0]).abs().max().item() <= 1e-5


def test_divergence_and_curves_on_the_graph_path(seed0):
    """lr = 1e25 makes the penalised objectives overflow at step 2 (tests/helpers.py) inside
    the first replay of a 10-step graph; the step is still exact and the unpenalised
    network goes on. Curves come at the steps of ``curve_steps`` (1, 2, 5, then every 10
    and the last), through graphs of other lengths (the last is 25 - 20 = 5 steps)."""
    grid = Grid(["nn", "nn_frob", "nn_mix"], [0.0, 0.005, 0.025], ["train"] * 3)
    result = train_grid(grid, seed0, 0, 100, 25, 1e25, device="cuda")
    assert step_ranges(25, [], CUDA_UNROLL)[0] == (0, 10)
    assert list(result.diverged_step) == [-1, 2, 2]
    assert np.isfinite(result.after["test_acc"][0])
    logged = curve_steps(25, 10)
    assert step_ranges(25, logged, CUDA_UNROLL)[-1] == (20, 25)
    result = train_grid(grid, seed0, 0, 100, 25, 0.01, device="cuda", curve_every=10)
    assert [c["step"] for c in result.curves] == [s for s in (0, *logged) for _ in range(3)]
