"""Sweeps over label_noise, hidden and steps: one run of a sweep of two label-noise rates ×
two widths (``sweep_study``) holds every cell in its tables and a sweep section in both
formats of its report; a new value of an axis reruns that value's cells alone; a
single-valued study (``small_study``) keeps the tables and the report it had."""

import itertools
import os
import shutil

import pandas as pd
import pytest
from helpers import (LATEX_INSTALL, SCHEMA, SMALL_CONFIG, SWEEP_CONFIG, Page, copy_study, edit_config, full_config,
                     pdf_text, planned_jobs, require_program, seed_folder)

import figures
from normbound import NETWORKS, SWEEP_AXES
from normbound.config import check
from normbound.summary import in_cell

# The sweep's cells, as (label_noise, hidden, steps).
CELLS = list(itertools.product(SWEEP_CONFIG["label_noise"], SWEEP_CONFIG["hidden"], [SWEEP_CONFIG["steps"]]))
# The report's sections of a single cell, in a reader's order: the findings, the evidence, the theory, then
# the appendix; a sweep adds its own after the choice of λ.
SINGLE_CELL_SECTIONS = ["findings", "comparison", "selection", "robustness", "theory", "setup", "fidelity", "numerics",
                        "diverged", "cost", "jobs", "provenance"]
# The columns of results/metrics.csv before sweeps existed (README), which keep their values, and the
# convergence flag added since.
PRE_SWEEP_COLUMNS = ["seed", "model", "lam", "phase", "selected", "notebook_lambda", "train_acc", "train_acc_clean",
                     "test_acc", "train_loss", "test_loss", "grad", "grad_notebook", "grad_max", "mix_norm",
                     "frob_bound", "spectral_bound", "diverged", "diverged_step", "converged"]


def sections(page) -> list:
    """The ids of the report's sections, in order."""
    return [attrs["id"] for tag, attrs in page.tags if tag == "section"]


def cell_rows(table, cell) -> pd.DataFrame:
    """The rows of ``table`` in ``cell`` (label_noise, hidden, steps)."""
    return in_cell(table, dict(zip(SWEEP_AXES, cell)))


def test_a_large_sweep_runs_when_confirmed():
    # Its refusal without the flag is a case of tests/test_config_errors.py.
    config = {**SMALL_CONFIG, "label_noise": [0.01, 0.02, 0.03], "hidden": list(range(2, 70)),
              "confirm_large_sweep": True}
    assert check(config, SCHEMA)["hidden"][-1] == 69


@pytest.mark.slow
def test_results_hold_every_cell_with_its_jobs_rows(sweep_study):
    results = sweep_study / "results"
    for name in ("metrics", "selection", "curves"):
        table = pd.read_csv(results / f"{name}.csv")
        assert list(table.columns[:3]) == list(SWEEP_AXES), name
        assert sorted(set(zip(*(table[key] for key in SWEEP_AXES)))) == sorted(CELLS), name
    metrics = pd.read_csv(results / "metrics.csv")
    for cell in CELLS:
        part = cell_rows(metrics, cell)
        assert set(part["model"]) == set(SWEEP_CONFIG["models"]) and set(part["seed"]) == set(SWEEP_CONFIG["seeds"]), cell
        for seed in SWEEP_CONFIG["seeds"]:
            # The cell's rows are its own training job's, not another cell's.
            job = pd.read_csv(os.path.join(seed_folder(results, seed, SWEEP_CONFIG, **dict(zip(SWEEP_AXES, cell))),
                                           "networks.csv"))
            mine = part[(part["seed"] == seed) & part["model"].isin(NETWORKS)]
            assert sorted(mine["mix_norm"]) == sorted(job["mix_norm"]), (cell, seed)


@pytest.mark.slow
def test_single_cell_sections_show_the_first_cell(sweep_study):
    results = sweep_study / "results"
    first = cell_rows(pd.read_csv(results / "metrics.csv"), CELLS[0])
    table = pd.read_csv(results / "tables" / "comparison_notebook.csv")
    nn = table[(table["model"] == "nn") & (table["metric"] == "test_acc")].iloc[0]
    after = first[(first["model"] == "nn") & (first["phase"] == "after")]["test_acc"]
    assert nn["n"] == len(SWEEP_CONFIG["seeds"]) and nn["mean"] == pytest.approx(after.mean(), abs=1e-15)


@pytest.mark.slow
def test_html_report_has_the_sweep_section(sweep_study):
    results = sweep_study / "results"
    page = Page(results / "report" / "report.html")
    assert sections(page) == [*SINGLE_CELL_SECTIONS[:3], "sweep", *SINGLE_CELL_SECTIONS[3:]]
    header, columns, *body = page.rows("sweep-table")
    assert [tuple(row[:3]) for row in body] == [tuple(map(str, cell)) for cell in sorted(CELLS)]
    # Every model's test accuracy, then every network's ‖W‖_Mix/(√h‖W‖_F), each cell's from sweep.csv.
    assert columns[3:] == ["RForest", "SVC", "NN", "NN+Frob", "NN+Mix", "NN", "NN+Frob", "NN+Mix"]
    sweep = pd.read_csv(results / "tables" / "sweep.csv")
    after = sweep[sweep["phase"] == "after"]
    for row, cell in zip(body, sorted(CELLS)):
        ratio = cell_rows(after, cell).set_index(["metric", "model"]).loc[("mix_over_frob", "nn_mix")]
        assert row[-1] == f"{ratio['mean']:.3f} ± {ratio['std']:.3f}", cell
    images = {attrs["id"] for tag, attrs in page.tags if tag == "figure"}
    assert {"figure-sweep", "figure-sweep_width_ratio"} <= images
    # Its words: the cell the other sections show, and the width ratio's range from the data.
    text = " ".join(page.text("#sweep").split())
    assert "The marked row is the cell the other sections show" in text
    nn = cell_rows(after, (0.04, 20, 20)).set_index(["metric", "model"]).loc[("mix_over_frob", "nn")]
    assert f"for NN from {nn['mean']:.3f} at" in text


@pytest.mark.slow
def test_pdf_report_has_the_sweep_section(sweep_study):
    require_program("latexmk", LATEX_INSTALL)
    text = pdf_text(sweep_study / "results" / "report" / "report.pdf")
    assert "Sweep" in text and "Every cell of the sweep" in text
    sweep = pd.read_csv(sweep_study / "results" / "tables" / "sweep.csv")
    accuracy = sweep[(sweep["metric"] == "test_acc") & (sweep["model"] == "nn_mix")]
    assert len(accuracy) == len(CELLS)
    for row in accuracy.itertuples():
        assert f"{row.mean:.3f} ± {row.std:.3f}" in text, row


@pytest.mark.slow
def test_sweep_figures_draw_each_swept_key(sweep_study):
    results = sweep_study / "results"
    config = full_config(sweep_study)
    study = figures.load_study(*(results / f"{name}.csv" for name in ("metrics", "selection", "curves", "robustness")),
                               config["robustness"]["epsilons"], dict(zip(SWEEP_AXES, CELLS[0])),
                               config["test_fraction"])
    figures.plots.style()
    grid = figures.sweep(study)
    assert len(grid.axes) == 2 * len(figures.SWEEP_COLUMNS)  # a row per swept key
    noise_row, width_row = grid.axes[0], grid.axes[len(figures.SWEEP_COLUMNS)]
    assert noise_row.get_ylabel() == "at h = 100, steps = 20" and width_row.get_ylabel() == "at noise = 0.04, steps = 20"
    assert sorted(noise_row.get_lines()[0].get_xdata()) == SWEEP_CONFIG["label_noise"]
    ratio = figures.sweep_width_ratio(study).axes[0]
    worst, least = ratio.get_lines()[:2]
    assert set(worst.get_ydata()) == {1.0}
    assert least.get_ydata()[-1] == pytest.approx(max(SWEEP_CONFIG["hidden"]) ** -0.5)


@pytest.mark.slow
def test_new_value_of_an_axis_reruns_only_its_cells(sweep_study, tmp_path):
    workdir = copy_study(sweep_study, tmp_path)
    edit_config(workdir, label_noise=[*SWEEP_CONFIG["label_noise"], 0.2])
    seeds = [str(seed) for seed in SWEEP_CONFIG["seeds"]]
    new = {(rule, "0.2", None, seed) for rule in ("prepare_data", "train_baselines") for seed in seeds}
    new |= {(rule, "0.2", str(h), seed) for rule in ("train_networks", "robustness") for h in SWEEP_CONFIG["hidden"]
            for seed in seeds}
    # Aggregation and the report; not the theory, whose cell stays the first.
    summaries = {(rule, None, None, None) for rule in ("aggregate", "tables", "figures", "report", "all",
                                                       *(["report_pdf"] if shutil.which("latexmk") else []))}
    assert planned_jobs(workdir, "label_noise", "hidden", "seed") == new | summaries


@pytest.mark.slow
def test_single_valued_study_keeps_its_columns_and_sections(small_study):
    results = small_study / "results"
    metrics = pd.read_csv(results / "metrics.csv")
    assert list(metrics.columns) == [*SWEEP_AXES, *PRE_SWEEP_COLUMNS]
    assert metrics[list(SWEEP_AXES)].drop_duplicates().values.tolist() == [[0.04, 100, 300]]
    assert sections(Page(results / "report" / "report.html")) == SINGLE_CELL_SECTIONS
    assert not os.path.exists(results / "tables" / "sweep.csv") and not os.path.exists(results / "figures" / "sweep.png")
