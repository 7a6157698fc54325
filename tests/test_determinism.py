"""Two clean runs of the same config give the same numbers, bit for bit.

The second run starts from an empty folder (on the test SLURM cluster where it can start:
that run is made for test_slurm anyway) and goes as far as the results tables and the
report's tables; it is compared with the session's run of the same config: every table
and JSON file byte for byte, the arrays (``.npz``, whose zip headers carry the time of
writing) array by array, bit for bit.
"""

import os

import pytest
from helpers import data_file, differing_files, result_files, seed_folder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def both_results(small_study, second_clean_run):
    return small_study / "results", second_clean_run / "results"


@pytest.mark.parametrize("patterns", [("*.csv", "*.json"), ("*.npz",)], ids=["tables", "arrays"])
def test_second_clean_run_is_identical(both_results, patterns):
    first, second = both_results
    names = result_files(second, *patterns)
    # The second run made a subset of the first's files (no theory, figures or report).
    assert set(names) <= set(result_files(first, *patterns))
    if patterns == ("*.npz",):
        assert {os.path.join(seed_folder("", 0), "weights.npz"), data_file("", 0, "npz")} <= set(names)
    else:
        # The figures' and the report's data must be among what is compared.
        assert {"metrics.csv", "selection.csv", "curves.csv", os.path.join("tables", "comparison_notebook.csv"),
                data_file("", 1, "json")} <= set(names), names
    different = differing_files(first, second, names)
    assert not different, f"differ between two clean runs: {different}"
