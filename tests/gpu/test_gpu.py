"""The fast path on a CUDA device against the one-at-a-time reference loop on the CPU.

Collected only where torch sees CUDA (tests/conftest.py); run with benchmarks/gpu_check.sh.
"""

import pytest
import torch

import normbound as nb
from test_training import GRID, max_difference

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(scope="module")
def seed0():
    X, t = nb.load_dataset("breast_cancer")
    return nb.split_data(X, t, 0, test_fraction=0.5, label_noise=0.04, validation_fraction=0.25)[0]


def test_cuda_fast_path_equals_reference_in_float64(seed0):
    result = nb.train_grid(GRID, seed0, 0, 100, 200, 0.01, device="cuda", compile_step=True, dtype=torch.float64)
    worst = max_difference(result, seed0, torch.float64, 200)
    assert max(worst.values()) <= 1e-5, worst


def test_cuda_unregularised_equals_reference_after_10000_steps(seed0):
    grid = nb.Grid(["nn"], [0.0], ["train"])
    result = nb.train_grid(grid, seed0, 0, 100, 10000, 0.01, device="cuda", compile_step=True)
    W, b = nb.train_reference("nn", 0.0, seed0, 0, 100, 10000, 0.01)
    assert (W - result.W[0]).abs().max().item() <= 1e-5
    assert (b - result.b[0]).abs().max().item() <= 1e-5
