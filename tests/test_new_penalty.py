"""A penalty added as a user adds one runs end to end: one definition appended to
scripts/normbound/penalties.py (its value only: the trainer differentiates it by
torch.func) and two config entries, in a copy of the repository. The study trains it,
chooses its λ on validation data, measures it, checks its bound chain, certifies and
attacks it, and the tables, figures and report show it.
"""

import glob
import os
import re
import shutil
import textwrap

import pandas as pd
import pytest
from helpers import REPO, TINY_CONFIG, Page, beside_the_small_study, run_workflow, shared_theory, write_config


# The README's grid for it (`lambdas.l1`).
GRID = [0.0001, 0.001]
MODELS = ["rf", "svc", "nn", "nn_frob", "nn_mix", "nn_l1"]


def readme_definition() -> str:
    """The definition the README's "Adding a penalty" shows: the study runs exactly that."""
    with open(os.path.join(REPO, "README.md")) as handle:
        readme = handle.read()
    assert "`l1: [0.0001, 0.001]` to `lambdas`" in readme
    return textwrap.dedent(re.search(r"^ +register\(Penalty\(.*?\)\)\)$", readme, re.M | re.S).group(0))


def test_no_code_or_template_names_a_penalised_model_but_penalties_py():
    """The definition is the one place: everywhere else the models come from the registry
    (penalties.py itself names them ``nn_<key>``)."""
    files = [*glob.glob(os.path.join(REPO, "scripts", "**", "*.py"), recursive=True),
             *glob.glob(os.path.join(REPO, "workflow", "**", "*.smk"), recursive=True),
             *glob.glob(os.path.join(REPO, "report", "*.j2"))]
    assert [os.path.relpath(f, REPO) for f in files if re.search(r"[\"']nn_[a-z0-9]+[\"']", open(f).read())] == []


def build_l1_study(root, studies):
    repo = root / "repo"
    for part in ("workflow", "scripts", "report"):
        shutil.copytree(os.path.join(REPO, part), repo / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(os.path.join(REPO, "environment.yml"), repo / "environment.yml")
    with open(repo / "scripts" / "normbound" / "penalties.py", "a") as handle:
        handle.write("\n" + readme_definition() + "\n")
    workdir = root / "study"
    workdir.mkdir()
    # Eager training: this checks what runs; the compiled path's numerics have tests of their own.
    write_config(workdir, base=TINY_CONFIG, models=MODELS, compile=False,
                 lambdas={**TINY_CONFIG["lambdas"], "l1": GRID})
    shared_theory(workdir, studies)
    run_workflow(workdir, snakefile=repo / "workflow" / "Snakefile", timeout=1800, preexec_fn=beside_the_small_study)
    return workdir / "results"


BACKGROUND = {"l1_study": build_l1_study}


@pytest.fixture(scope="module")
def results(background):
    return background.result("l1_study")


@pytest.mark.slow
def test_the_new_penalty_is_trained_selected_and_measured(results):
    metrics = pd.read_csv(results / "metrics.csv")
    mine = metrics[metrics["model"] == "nn_l1"]
    assert sorted(mine[mine["phase"] == "after"]["lam"]) == GRID
    assert set(mine["phase"]) == {"before", "after"}
    assert mine[["grad", "grad_max", "mix_norm", "spectral_bound", "frob_bound"]].notna().all().all()
    # The bound chain holds (a violation fails the training job): Grad ≤ max ≤ Mix ≤ √h‖W‖_F.
    assert (mine["grad"] <= mine["grad_max"]).all() and (mine["mix_norm"] <= mine["frob_bound"] * (1 + 1e-6)).all()
    selection = pd.read_csv(results / "selection.csv")
    assert selection[selection["model"] == "nn_l1"]["selected"].sum() == 1


@pytest.mark.slow
def test_the_new_penalty_is_certified_and_attacked(results):
    robustness = pd.read_csv(results / "robustness.csv")
    assert "nn_l1" in set(robustness["model"])


@pytest.mark.slow
def test_the_tables_figures_and_report_show_it(results):
    chosen = pd.read_csv(results / "tables" / "comparison_chosen.csv")
    assert "nn_l1" in set(chosen["model"]) and "NN+L1" in set(chosen["label"])
    page = Page(results / "report" / "report.html")
    assert "nn_l1" in page.models("comparison-chosen")
    assert any("NN+L1" in " ".join(map(str, row)) for row in page.tables["comparison-chosen"])
    figures = os.listdir(results / "figures")
    assert any(name.startswith("accuracy_vs_lambda") for name in figures)
