"""Two clean runs of the same config give the same numbers, bit for bit.

The second run starts from an empty folder and is compared with the session's run of
the same config: ``results/metrics.csv`` and every other table the figures and the
report are drawn from must be byte-identical; the arrays (``.npz``, whose zip headers
carry the time of writing) must be identical array by array, bit for bit.
"""

import glob
import os

import numpy as np
import pytest
from conftest import run_workflow, write_config

# Timings and the machine's load: they differ between any two runs by nature.
UNCOMPARED = ("logs", "benchmarks")


def _files(results, pattern):
    """Paths under ``results`` matching ``pattern``, relative, timing folders left out."""
    paths = glob.glob(os.path.join(results, "**", pattern), recursive=True)
    relative = sorted(os.path.relpath(p, results) for p in paths)
    return [p for p in relative if p.split(os.sep)[0] not in UNCOMPARED]


@pytest.fixture(scope="module")
def both_results(small_study, tmp_path_factory):
    """The results folders of the session's run and of a second clean run of its config."""
    second = tmp_path_factory.mktemp("second_run")
    write_config(second)
    run_workflow(second)
    return [os.path.join(workdir, "results") for workdir in (small_study, second)]


@pytest.mark.parametrize("pattern", ["*.csv", "*.json"])
def test_tables_are_byte_identical(both_results, pattern):
    first, second = both_results
    names = _files(first, pattern)
    assert _files(second, pattern) == names
    if pattern == "*.csv":
        # The figures' and the report's data must be among what is compared.
        assert {"metrics.csv", "selection.csv", "curves.csv"} <= set(names)
        assert any(n.startswith("tables" + os.sep) for n in names), names
    different = []
    for name in names:
        with open(os.path.join(first, name), "rb") as a, open(os.path.join(second, name), "rb") as b:
            if a.read() != b.read():
                different.append(name)
    assert not different, f"differ between two clean runs: {different}"


def test_arrays_are_bit_identical(both_results):
    first, second = both_results
    names = _files(first, "*.npz")
    assert names and _files(second, "*.npz") == names
    for name in names:
        with np.load(os.path.join(first, name)) as a, np.load(os.path.join(second, name)) as b:
            assert sorted(a.files) == sorted(b.files), name
            for key in a.files:
                # Bytes, not values: NaN == NaN and -0.0 vs 0.0 count as they are stored.
                assert a[key].dtype == b[key].dtype and a[key].tobytes() == b[key].tobytes(), f"{name}:{key}"
