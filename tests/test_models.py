"""Any subset of models a user can write runs end to end: tables, figures, theory, the
HTML report and the PDF, each listing exactly the models trained.

The subsets run one after another in a folder, as a user editing ``models`` would:
Snakemake reruns what the change affects (training, aggregation, what follows) and keeps
what it does not (the data, exercise 1), so the subsets share that cost. Each run's
outcome is read before the next starts. Three folders take turns with the subsets, side by
side, and beside the session's other studies (conftest's ``background``).
"""

import os
import re
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
from helpers import (LATEX_INSTALL, TINY_CONFIG, Page, beside_the_small_study, read_bytes, require_program,
                     run_workflow, shared_theory, write_config)

pytestmark = pytest.mark.slow

# Every model, in the order tables list them.
ALL = ["rf", "svc", "nn", "nn_frob", "nn_mix"]
# The subsets that take a different path somewhere: no networks, no baselines and no
# penalty (nn alone: no network chooses a λ, so validation.csv holds only its header), one
# penalty alone, and every model but one. Leaving out rf or svc takes the same path (the code
# treats the pair alike): one of them. Leaving out a penalty is nn_frob alone's path (the
# other penalty and its pairs absent), so leaving out nn_mix with the rest kept is not run.
SUBSETS = {
    "baselines": ["rf", "svc"],
    "nn": ["nn"],
    "nn_frob": ["nn_frob"],
    **{f"all_but_{left_out}": [m for m in ALL if m != left_out] for left_out in ("svc", "nn")},
}
FOLDERS = 3
LABEL = {"rf": "RForest", "svc": "SVC", "nn": "NN", "nn_frob": "NN+Frob", "nn_mix": "NN+Mix"}


def outcome(workdir) -> dict:
    """What one run left: the models in each table and in the report."""
    results = os.path.join(workdir, "results")
    metrics = pd.read_csv(os.path.join(results, "metrics.csv"))
    selection = pd.read_csv(os.path.join(results, "selection.csv"))
    tables = {name: pd.read_csv(os.path.join(results, "tables", f"{name}.csv"))
              for name in ("comparison_notebook", "comparison_chosen")}
    page = Page(os.path.join(results, "report", "report.html"))
    tex, pdf = (os.path.join(results, "report", f"report.{ext}") for ext in ("tex", "pdf"))
    with open(tex) as handle:
        text = handle.read()
    # The model rows of the two comparison tables: each starts with its model's label (a row
    # per chosen λ starts with an indent, the notebook's printed run with its own label).
    labels = "|".join(map(re.escape, LABEL.values()))
    comparisons = [text[text.index(rf"\label{{{name}}}"):] for name in ("comparison-chosen", "comparison-notebook")]
    tex_rows = [row for table in comparisons
                for row in re.findall(rf"^({labels}) & ", table[:table.index(r"\end{longtable}")], re.M)]
    return dict(
        metrics=list(dict.fromkeys(metrics["model"])), phases=sorted(set(zip(metrics["model"], metrics["phase"]))),
        lams={m: sorted(part["lam"].dropna()) for m, part in metrics[metrics["phase"] == "after"].groupby("model")},
        selection=list(dict.fromkeys(selection["model"])), selected=selection.loc[selection["selected"], "model"].tolist(),
        tables={name: list(dict.fromkeys(table["model"])) for name, table in tables.items()},
        html={table: page.models(table) for table in ("comparison-notebook", "comparison-chosen")},
        tex_rows=tex_rows,
        pdf=os.path.exists(pdf) and read_bytes(pdf).startswith(b"%PDF"),
    )


def run_subsets(root, studies) -> dict:
    """Each subset's run: ``(result, outcome)``, outcome None where the run failed."""

    def run_in_turn(folder, names):
        shared_theory(folder, studies)
        runs = {}
        for name in names:
            # Eager training: these runs check what runs, not the numerics (which the
            # compiled path's tests do), and compiling would double each training job.
            write_config(folder, base=TINY_CONFIG, models=SUBSETS[name], compile=False)
            result = run_workflow(folder, check=False, preexec_fn=beside_the_small_study)
            runs[name] = (result, outcome(folder) if result.returncode == 0 else None)
        return runs

    names = list(SUBSETS)
    with ThreadPoolExecutor(max_workers=FOLDERS) as pool:
        lanes = pool.map(run_in_turn, [root / f"folder{i}" for i in range(FOLDERS)],
                         [names[i::FOLDERS] for i in range(FOLDERS)])
        return {name: run for lane in lanes for name, run in lane.items()}


# Built from the session's start, beside the other studies (conftest's ``background``).
BACKGROUND = {"subset_runs": run_subsets}


@pytest.fixture(scope="module")
def subset_runs(background):
    return background.result("subset_runs")


@pytest.mark.parametrize("name", SUBSETS)
def test_subset_runs_end_to_end(subset_runs, name):
    result, _ = subset_runs[name]
    assert result.returncode == 0, f"{SUBSETS[name]}: the run failed:\n{result.stderr[-4000:]}"


def outcome_of(subset_runs, name) -> dict:
    _, seen = subset_runs[name]
    if seen is None:
        pytest.fail("the run failed (test_subset_runs_end_to_end says why)")
    return seen


@pytest.mark.parametrize("name", SUBSETS)
def test_results_hold_exactly_the_trained_models(subset_runs, name):
    seen, models = outcome_of(subset_runs, name), SUBSETS[name]
    penalised = [m for m in models if m in ("nn_frob", "nn_mix")]
    assert seen["metrics"] == models
    # Networks before and after training, baselines after only.
    assert seen["phases"] == sorted((m, p) for m in models for p in (("after",) if m in ("rf", "svc") else ("before", "after")))
    for model, penalty in (("nn_frob", "frob"), ("nn_mix", "mix")):
        if model in models:
            assert seen["lams"][model] == TINY_CONFIG["lambdas"][penalty]
    assert seen["selection"] == penalised and seen["selected"] == penalised


@pytest.mark.parametrize("name", SUBSETS)
def test_report_lists_exactly_the_trained_models(subset_runs, name):
    seen, models = outcome_of(subset_runs, name), SUBSETS[name]
    assert seen["tables"] == {"comparison_notebook": models, "comparison_chosen": models}
    assert seen["html"] == {"comparison-notebook": models, "comparison-chosen": models}
    # Both comparison tables of the LaTeX report, compiled to this run's PDF.
    assert seen["tex_rows"] == [LABEL[m] for m in models] * 2
    require_program("latexmk", LATEX_INSTALL)
    assert seen["pdf"], "no report.pdf of this run"
