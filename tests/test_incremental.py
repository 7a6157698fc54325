"""A change reruns exactly the jobs it affects, no more and no less.

Each test copies the session's finished run (results and Snakemake's metadata, with
their modification times), makes one change, and reads Snakemake's dry run: the jobs it
would run, and each job's seed. (A new value of a sweep axis: tests/test_sweep.py.)
"""

import os
import shutil

import pytest
from helpers import REPO, SMALL_CONFIG, copy_study, edit_config, planned_jobs

pytestmark = pytest.mark.slow

# The rules that run once per seed; every other rule runs once per study.
PER_SEED = {"prepare_data", "train_baselines", "train_networks", "robustness"}


def seed_jobs(workdir):
    """The dry run's jobs as ``(rule, seed or None)`` pairs."""
    return {(rule, None if seed is None else int(seed)) for rule, seed in planned_jobs(workdir, "seed")}


@pytest.fixture
def finished(small_study, tmp_path):
    """A private copy of the session's finished run, modification times kept."""
    return copy_study(small_study, tmp_path)


def test_finished_run_has_nothing_to_do(finished):
    # The baseline of every other test here: the copy itself triggers nothing.
    assert seed_jobs(finished) == set()


# What follows from the seeds' results: every rule but the per-seed ones and exercise 1
# (theory_hessian), which does not read them; the PDF where LaTeX is installed.
SUMMARIES = {(rule, None) for rule in ("aggregate", "theory_bounds", "tables", "figures", "report", "all",
                                       *(["report_pdf"] if shutil.which("latexmk") else []))}


def test_added_seed_runs_only_that_seed_and_the_summaries(finished):
    added = max(SMALL_CONFIG["seeds"]) + 1
    edit_config(finished, seeds=[*SMALL_CONFIG["seeds"], added])
    assert seed_jobs(finished) == {(rule, added) for rule in PER_SEED} | SUMMARIES


def test_changed_steps_retrains_without_new_data(finished):
    # steps belongs to the training stage only (STAGE_KEYS in workflow/rules/common.smk);
    # the robustness of the retrained networks is measured again.
    edit_config(finished, steps=301)
    retrained = {(rule, seed) for rule in ("train_networks", "robustness") for seed in SMALL_CONFIG["seeds"]}
    assert seed_jobs(finished) == retrained | SUMMARIES


def test_changed_report_radii_redraw_without_a_new_attack(finished):
    # The ε of the figure and the table are the report's; the attack's settings are not.
    edit_config(finished, robustness={"epsilons": [0, 0.5, 1.0], "table_epsilons": [0.5]})
    rules = {rule for rule, _ in seed_jobs(finished)}
    assert {"tables", "figures", "report"} <= rules and rules <= {"tables", "figures", *REPORT_ONLY}


# The report's own rules and the target rule that asks for them.
REPORT_ONLY = {"report", "report_pdf", "all"}


def test_changed_title_rerenders_only_the_report(finished):
    edit_config(finished, title="Another title")
    rules = {rule for rule, _ in seed_jobs(finished)}
    assert "report" in rules and rules <= REPORT_ONLY


def test_edited_template_rerenders_only_the_report(finished):
    # Snakemake sees an edit by modification time: a template newer than the report is
    # exactly what an edit looks like. The report is made older instead of the template
    # touched, so the shared checkout stays as it is for other runs.
    template = os.path.join(REPO, "report", "report.html.j2")
    assert os.path.exists(template)
    then = os.path.getmtime(template) - 60
    for name in ("report.html", "report.tex"):
        os.utime(os.path.join(finished, "results", "report", name), (then, then))
    rules = {rule for rule, _ in seed_jobs(finished)}
    assert "report" in rules and rules <= REPORT_ONLY
