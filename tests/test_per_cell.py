"""Training per cell (config ``training_jobs``, issue 25): one job trains all of a cell's
seeds in one process, writing the files each seed's own job would write, byte for byte
on the same machine; the mode is known when the workflow is parsed (auto: per cell on
CUDA), so a login node without a GPU plans the jobs that the GPU node runs."""

import filecmp
import os

import numpy as np
import pytest
from helpers import (SMALL_CONFIG, TINY_CONFIG, beside_the_small_study, planned_jobs, run_workflow, seed_folder,
                     warm_compile_cache, write_config)

# Two seeds on the compiled path (the cache warm from the small study's jobs), so that the
# second seed of a cell job reuses the first one's compiled steps.
CONFIG = {**TINY_CONFIG, "seeds": [0, 1], "compile": True}
SEED_FILES = ("networks.csv", "validation.csv", "curves.csv")


def build_both(root, studies):
    """The study trained per seed and per cell, in two folders."""
    warm_compile_cache(studies)
    for mode in ("per_seed", "per_cell"):
        write_config(root / mode, base=CONFIG, training_jobs=mode)
        run_workflow(root / mode, "results/metrics.csv", preexec_fn=beside_the_small_study)
    return root


BACKGROUND = {"both_modes": build_both}


@pytest.fixture(scope="module")
def both_modes(background):
    return background.result("both_modes")


@pytest.mark.slow
def test_a_cell_job_writes_what_the_seeds_jobs_write(both_modes):
    for seed in CONFIG["seeds"]:
        one, cell = (seed_folder(both_modes / mode / "results", seed, CONFIG) for mode in ("per_seed", "per_cell"))
        for name in SEED_FILES:
            assert filecmp.cmp(os.path.join(one, name), os.path.join(cell, name), shallow=False), (seed, name)
        with np.load(os.path.join(one, "weights.npz")) as a, np.load(os.path.join(cell, "weights.npz")) as b:
            assert sorted(a.files) == sorted(b.files) and all(np.array_equal(a[k], b[k]) for k in a.files), seed
    assert filecmp.cmp(both_modes / "per_seed" / "results" / "metrics.csv",
                       both_modes / "per_cell" / "results" / "metrics.csv", shallow=False)


@pytest.mark.parametrize("device, mode, jobs_per_cell", [
    ("cpu", "auto", len(SMALL_CONFIG["seeds"])), ("cuda", "auto", 1), ("cpu", "per_cell", 1),
    ("cuda", "per_seed", len(SMALL_CONFIG["seeds"]))])
def test_the_mode_is_planned_from_the_config_alone(tmp_path, device, mode, jobs_per_cell):
    """A dry run, which needs no GPU: one training job per cell and seed, or per cell."""
    write_config(tmp_path, base={**SMALL_CONFIG, "hidden": [100, 20]}, device=device, training_jobs=mode)
    training = [job for job in planned_jobs(tmp_path, "hidden", "seed") if job[0] == "train_networks"]
    assert len(training) == 2 * jobs_per_cell
    assert {hidden for _, hidden, _ in training} == {"100", "20"}
