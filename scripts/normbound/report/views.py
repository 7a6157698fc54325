"""What the templates receive: each results table as the rows and values a section shows."""

import json

import pandas as pd

from normbound import LABELS, MODELS, NETWORKS, PENALTY, SWEEP_AXES, lam_text
from normbound.penalties import PENALTIES, SCHATTEN_P, notebook
from normbound import config as study_config
from normbound import findings
from normbound.summary import CONFIDENCE, MIN_SEEDS, ROBUST_MEASURES, TAIL_FRACTION, along

FIDELITY_LINES = [("rf", "after"), ("svc", "after"), ("nn", "before"), ("nn", "after"),
                  *((PENALTIES[key].model, "after") for key in notebook())]


def lambda_text(lams: str) -> str:
    """A table row's chosen λ (``lams``, :func:`tables.chosen_lambdas`) as the report
    prints it: its one value, or each value with its number of seeds; empty without λ."""
    counts = json.loads(lams)
    if len(counts) == 1:
        return lam_text(counts[0][0])
    return ", ".join(f"{lam_text(lam)} ({seeds}×)" for lam, seeds in counts)


def comparison_view(table: pd.DataFrame) -> dict:
    """A comparison table (see :func:`tables.comparison_table`) as rows of cells; a row
    with ``per_lambda`` summarises the seeds that chose one λ, below its model's row."""
    rows = []
    for _, part in table.groupby("row", sort=False):
        first = part.iloc[0]
        cells = part.to_dict("records")
        rows.append(dict(model=first["model"], label=first["label"], lam=lambda_text(first["lams"]),
                         per_lambda=bool(first["per_lambda"]), n=int(part["n"].max()),
                         n_diverged=int(first["n_diverged"]), n_unconverged=int(first["n_unconverged"]), cells=cells, value={c["metric"]: c["mean"] for c in cells}))
    models = [r for r in rows if not r["per_lambda"]]
    return dict(rows=rows, metrics=list(dict.fromkeys(table["metric"])), has_reference=bool(table["notebook"].notna().any()),
                labels=[r["label"] for r in models],
                penalised_labels=[r["label"] for r in models if r["model"] in PENALTY],
                n_diverged=sum(r["n_diverged"] for r in models), per_lambda=len(models) < len(rows),
                # Models whose mean test accuracy exceeds their training accuracy (the words explain why).
                test_above_train=[r for r in models if r["value"]["test_acc"] > r["value"]["train_acc"]])


def fidelity_view(table: pd.DataFrame, notebook_lambdas: dict) -> list:
    """The fidelity table grouped by printed line, in the notebook's order; ``lam``: the
    notebook's λ of a penalised network's line."""
    lines = []
    for model, phase in FIDELITY_LINES:
        part = table[(table["model"] == model) & (table["phase"] == phase)]
        if len(part):
            lines.append(dict(model=model, phase=phase, label=part["label"].iloc[0], rows=part.to_dict("records"),
                              lam=notebook_lambdas[PENALTY[model]] if model in PENALTY else None))
    return lines


def sweep_view(table: pd.DataFrame, cell: dict) -> dict:
    """The sweep table (:func:`normbound.summary.sweep_summary`) as the report shows it:
    the swept keys with their values, the report's ``cell``, and per cell (in the order of
    the values) each model's test accuracy at the chosen λ, then each network's
    ‖W‖_Mix/(√h‖W‖_F) at the notebook's λ (a summary row, or None where the cell has none);
    ``width``: each network's ratio at the smallest and the largest h, where h is swept."""
    after = table[table["phase"] == "after"]
    present = set(zip(after["model"], after["metric"]))
    columns = ([dict(model=m, label=LABELS[m], metric="test_acc") for m in MODELS if (m, "test_acc") in present]
               + [dict(model=m, label=LABELS[m], metric="mix_over_frob") for m in NETWORKS
                  if (m, "mix_over_frob") in present])
    rows = []
    for values, part in after.groupby(list(SWEEP_AXES), sort=True):
        found = {(r["model"], r["metric"]): r for r in part.to_dict("records")}
        rows.append(dict(cell=dict(zip(SWEEP_AXES, values)),
                         summaries=[found.get((c["model"], c["metric"])) for c in columns]))
    axes = [dict(key=key, levels=sorted(table[key].unique())) for key in SWEEP_AXES if table[key].nunique() > 1]
    # Along h (the other keys at the cell's values): each network's ratio at the smallest and largest width.
    ratio = along(after[after["metric"] == "mix_over_frob"], "hidden", cell).sort_values("hidden")
    lines = {model: ratio[ratio["model"] == model] for model in NETWORKS}
    width = [dict(label=LABELS[model], first=line.iloc[0].to_dict(), last=line.iloc[-1].to_dict())
             for model, line in lines.items() if len(line) > 1]
    return dict(axes=axes, cell=cell, rows=rows, columns=columns, width=width,
                accuracy=sum(c["metric"] == "test_acc" for c in columns), seeds=int(after["n"].max()))


# The global certificates of the robustness table, by its metric name.
GLOBAL_CERTIFICATES = ("certified_mix", "certified_spectral", "certified_frob")


def robustness_view(table: pd.DataFrame, gap: pd.DataFrame, paired: pd.DataFrame) -> dict | None:
    """The robustness tables for the templates: ``rows`` (one per model and ε, ``cells`` by
    measure, None where a model has none), the ``measures`` and ``epsilons``, and what the
    words state at the middle ε of the table (``at``: model -> measure -> its summary row;
    ``best_global``: model -> the measure of its largest global certificate; ``gap``:
    model -> certificate -> mean share of the attack's distance; ``paired``: each model
    against NN there, :func:`tables.robustness_paired`). None without robustness results."""
    if table.empty:
        return None
    cells = {(r["model"], r["epsilon"], r["metric"]): r for r in table.to_dict("records")}
    models = list(dict.fromkeys(table["model"]))
    epsilons = sorted(set(table["epsilon"]))
    labels = dict(zip(table["model"], table["label"]))
    lams = {model: lambda_text(chosen) for model, chosen in zip(table["model"], table["lams"])}
    rows = [dict(model=m, label=labels[m], lam=lams[m], epsilon=e, first=i == 0,
                 cells={metric: cells.get((m, e, metric)) for metric in ROBUST_MEASURES.values()})
            for m in models for i, e in enumerate(epsilons)]
    middle = epsilons[len(epsilons) // 2]
    at = {m: {metric: cells[(m, middle, metric)] for metric in ROBUST_MEASURES.values()
              if (m, middle, metric) in cells} for m in models}
    certified = {m: max(GLOBAL_CERTIFICATES, key=lambda c: at[m][c]["mean"]) for m in models
                 if "certified_local" in at[m]}
    measures = [m for m in ROBUST_MEASURES.values() if any(m in cells_at for cells_at in at.values())]
    return dict(rows=rows, measures=measures, epsilons=epsilons, epsilon=middle, at=at,
                labels=labels, lams=lams, best_global=certified,
                gap={m: dict(zip(part["metric"], part["mean"])) for m, part in gap.groupby("model", sort=False)},
                paired=paired[paired["epsilon"] == middle].to_dict("records"))


def findings_view(table: pd.DataFrame) -> list:
    """The findings table (:func:`tables.findings_table`) by question, in order: each
    ``id`` with its ``claims`` (rows), the models' labels added."""
    rows = table.assign(label=table["model"].map(LABELS), other_label=table["other"].map(LABELS))
    return [dict(id=int(question), claims=part.to_dict("records"))
            for question, part in rows.groupby("question", sort=True)]



def read_theory(theory: dict):
    """The theory rules' JSON files (name -> path) parsed, or None when there are none."""
    if not theory:
        return None
    parsed = {}
    for name, path in theory.items():
        with open(path) as handle:
            parsed[name] = json.load(handle)
    return parsed



def read_tables(paths: dict) -> dict:
    # λ is read as the float it was written from; normbound.lam_text prints it.
    return {name: pd.read_csv(path) for name, path in paths.items()}


def context(tabs: dict, config: dict, cell: dict, info: dict, cost: list, theory) -> dict:
    """What every template receives, apart from the format-specific figures and words.
    ``config``: the study's config; the templates' ``config`` is the view of the report's
    ``cell`` (the workflow's REPORT_CELL)."""
    fidelity = tabs["fidelity"]
    config = study_config.cell_config(config, cell)
    return dict(
        sweep=sweep_view(tabs["sweep"], cell) if "sweep" in tabs else None,
        title=config["title"], dataset=config["dataset"]["name"], config=config, provenance=info, cost=cost,
        penalties=list(PENALTY.values()),
        notebook=comparison_view(tabs["comparison_notebook"]), chosen=comparison_view(tabs["comparison_chosen"]),
        paired={choice: part.to_dict("records") for choice, part in tabs["paired_differences"].groupby("lambda_choice", sort=False)},
        selection={row["model"]: row for row in tabs["lambda_selection"].to_dict("records")},
        convergence={row["model"]: row for row in tabs["convergence"].to_dict("records")},
        convergence_failures=int(tabs["convergence"]["not_converged"].sum()),
        fidelity=fidelity_view(fidelity, config["notebook_lambdas"]), drift=findings.fidelity_drift(fidelity),
        fidelity_value={(r["model"], r["phase"], r["metric"]): r for r in fidelity.to_dict("records")},
        settings_differences=tabs["fidelity_settings"].to_dict("records"),
        # A step is a whole number (the CSV holds it as a float: other rows' steps are empty).
        diverged=tabs["diverged"].astype({"diverged_step": int}).to_dict("records"), seeds=config["seeds"],
        theory=theory, confidence=round(100 * CONFIDENCE), min_seeds=MIN_SEEDS, tail_percent=round(100 * TAIL_FRACTION),
        findings=findings_view(tabs["findings"]), schatten_p=SCHATTEN_P,
        robustness=robustness_view(tabs["robustness"], tabs["robustness_gap"], tabs["robustness_paired"]),
        tables=tabs,  # every results table as read, for a section that declares a table of its own
    )
