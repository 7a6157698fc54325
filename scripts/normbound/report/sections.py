"""The report in a reader's order, declared once for both formats: the findings, the main
comparison, λ selection, the sweep, robustness and the theory, then an appendix
(:mod:`.appendix`). Each section is a list of blocks (:mod:`.blocks`), and every table of
the report is declared here or in the appendix, beside the words that cite it.

Adding a table: compute it in ``scripts/tables.py`` (its name in :data:`TABLES`, which
the workflow reads) and declare it in a section below.
"""

from . import appendix, theory
from .blocks import Figure, Group, Heading, Part, Row, Section, Table, Text, cell, heading, bounds, summary, words
from .escape import number, signed

# The results tables that the report reads (results/tables/<name>.csv), written by the
# tables rule; the sweep's table comes on top where a key is swept.
TABLES = ("findings", "comparison_chosen", "comparison_notebook", "paired_differences", "lambda_selection",
          "convergence", "fidelity", "fidelity_settings", "diverged", "robustness", "robustness_paired", "robustness_gap")


def build(ctx: dict, figures: dict, theory_figures: dict, sweep_figures: dict) -> list:
    """The report's sections, present ones only, with tables and figures numbered in
    reading order. ``figures`` etc.: the figures drawn (name -> files)."""
    drawn = lambda *names: [Figure(n) for n in names if n in figures]  # noqa: E731
    sections = [findings(ctx), comparison(ctx, drawn), selection(ctx, drawn),
                sweep(ctx, [Figure(n, "sweep_figures") for n in sweep_figures]), robustness(ctx, drawn),
                theory.section(ctx, [n for n in theory_figures]), *appendix.sections(ctx, drawn)]
    return numbered([s for s in sections if s is not None])


def numbered(sections: list) -> list:
    """``sections`` with their tables and figures numbered in reading order, as LaTeX
    numbers them (each a caption, in the order the layouts place them)."""
    blocks = [b for s in sections for b in s.blocks]
    for kind in ("table", "figure"):
        for i, block in enumerate((b for b in blocks if b.kind == kind), start=1):
            block.number = i
    return sections


def numbers(sections: list) -> dict:
    """What the words and headings cite: ``figure_numbers`` (name -> number),
    ``table_numbers`` (id -> number) and ``section_numbers`` (id -> "1", "2", ... and
    "A", "B", ... in the appendix, as LaTeX numbers them)."""
    blocks = [b for s in sections for b in s.blocks]
    main = [s.id for s in sections if not s.appendix]
    appendix = [s.id for s in sections if s.appendix]
    return dict(figure_numbers={b.name: b.number for b in blocks if b.kind == "figure"},
                table_numbers={b.id: b.number for b in blocks if b.kind == "table"},
                section_numbers={**{s: str(i) for i, s in enumerate(main, 1)},
                                 **{s: chr(ord("A") + i) for i, s in enumerate(appendix)}})


def findings(ctx) -> Section | None:
    if not ctx["findings"]:
        return None
    blocks = [Text("findings_intro")]
    for question in ctx["findings"]:
        blocks += [Heading(words("question", question["id"]), f"question-{question['id']}"),
                   Text("findings_claims", (question,))]
    return Section("findings", "Findings", blocks)


def comparison(ctx, drawn) -> Section:
    """The models at the λ chosen on validation data, their paired differences, the same at
    the notebook's λ, and what the penalties do to Grad and the bounds."""
    blocks = [Text("comparison_intro"), comparison_table("comparison-chosen", ctx["chosen"], "comparison_chosen_caption")]
    if ctx["chosen"]["test_above_train"]:
        blocks.append(Text("noisy_training_labels"))
    if ctx["paired"]:
        blocks += [Heading("Paired differences", "paired"), Text("paired_intro"), *drawn("paired_differences"),
                   paired_table(ctx), Text("paired_method")]
    blocks += [Heading(words("notebook_heading"), "notebook"), Text("notebook_intro"),
               comparison_table("comparison-notebook", ctx["notebook"], "comparison_notebook_caption")]
    norms = drawn("norms_vs_lambda", "before_after", "bound_chain")
    if norms:
        blocks += [Heading("What the penalties do to Grad and the bounds", "norms"), Text("norms_figures"), *norms]
    return Section("comparison", words("comparison_heading"), blocks)


def selection(ctx, drawn) -> Section:
    blocks = [Text("chosen_first"), *drawn("accuracy_vs_lambda", "lambda_chosen")]
    if ctx["selection"]:
        blocks.append(Text("selection_ties"))
    return Section("selection", words("selection_heading"), blocks)


def sweep(ctx, figures) -> Section | None:
    view = ctx["sweep"]
    if not view:
        return None
    columns = view["columns"]
    head = [[heading("", colspan=len(view["cell"])), heading(words("sweep_accuracy_heading"), colspan=view["accuracy"]),
             *([heading(words("sweep_ratio_heading"), colspan=len(columns) - view["accuracy"])]
               if len(columns) > view["accuracy"] else [])],
            [*(heading(words(key), axis=key) for key in view["cell"]),
             *(heading(c["label"], model=c["model"], metric=c["metric"]) for c in columns)]]
    rows = [Row([*(cell(str(value)) for value in row["cell"].values()), *(summary(s, interval=False) for s in row["summaries"])],
                cls="report-cell" if row["cell"] == view["cell"] else "") for row in view["rows"]]
    table = Table("sweep-table", words("sweep_caption"), head, [Group(rows)], ("r",) * (len(view["cell"]) + len(columns)))
    return Section("sweep", "Sweep", [Text("sweep_intro"), table, *figures, *([Text("sweep_width")] if view["width"] else [])])


def robustness(ctx, drawn) -> Section | None:
    view = ctx["robustness"]
    if not view:
        return None
    head = [[heading("model"), heading("λ"), heading("ε"),
             *(heading(words(m), measure=m) for m in view["measures"])]]
    groups = []
    for model in dict.fromkeys(r["model"] for r in view["rows"]):
        rows = [r for r in view["rows"] if r["model"] == model]
        groups.append(Group([Row([cell(r["label"] if r["first"] else "", header=True), cell(r["lam"] if r["first"] else ""),
                                  cell(str(r["epsilon"])),
                                  *(summary(r["cells"][m], spread=False, measure=m) for m in view["measures"])],
                                 attrs={"data-model": model, "data-epsilon": r["epsilon"]}) for r in rows]))
    table = Table("robustness-table", words("robustness_caption", list(view["labels"].values())), head, groups,
                  ("l", "l", "r", *("r" for _ in view["measures"])))
    return Section("robustness", "What the bounds buy",
                   [Text("robustness_method"), *drawn("robustness_curves"), table, Text("robustness_findings")])


def comparison_table(table_id: str, view: dict, caption: str) -> Table:
    """A comparison (:func:`.views.comparison_view`): a row per model, a row per chosen λ
    below it where the seeds chose several, and the notebook's printed run under each
    model's row where there is one."""
    metrics = view["metrics"]
    head = [[heading("model", rowspan=2), heading("λ", rowspan=2), heading("n", rowspan=2),
             heading(words("summary_heading"), colspan=len(metrics))],
            [heading(words(m), metric=m) for m in metrics]]
    rows = []
    for row in view["rows"]:
        n = [str(row["n"])]
        if row["n_diverged"]:
            n += [" ", Part(f"⚠ {row['n_diverged']} diverged", "warn")]
        if row["n_unconverged"]:
            n += [" ", Part(f"⚠ {row['n_unconverged']} not converged", "warn")]
        attrs = ({"data-parent": row["model"], "data-lam": row["lam"]} if row["per_lambda"] else {"data-model": row["model"]})
        rows.append(Row([cell(row["label"], header=True), cell(row["lam"]), cell(*n),
                         *(summary(c, metric=c["metric"]) for c in row["cells"])],
                        attrs=attrs, cls="per-lambda" if row["per_lambda"] else ""))
        if view["has_reference"] and not row["per_lambda"]:
            rows.append(Row([cell("notebook, one run", header=True), cell(""), cell("1"),
                             *(cell(number(c["notebook"]), reference=c["metric"]) for c in row["cells"])],
                            attrs={"data-reference-of": row["model"]}, cls="reference"))
    note = words("table_diverged_warning", view["n_diverged"]) if view["n_diverged"] else None
    return Table(table_id, words(caption, view["labels"]), head, [Group(rows)], ("l", "p{1.6cm}", "r", *("r" for _ in metrics)),
                 note=note)


def paired_table(ctx) -> Table:
    head = [[heading(h) for h in ("test accuracy", "n", "mean difference", "sd")] + [heading(words("interval_heading"))]
            + [heading(h) for h in ("t", "p", "Holm p", "wins / losses", "sign test p (Holm)", "within-run sd",
                                    "tail mean [interval]")]]
    groups = []
    for choice, rows in ctx["paired"].items():
        groups.append(Group([Row([cell(r["label"], header=True), cell(str(r["n"])), cell(Part(signed(r["mean"]), "mean")),
                                  cell(number(r["std"])), cell(*bounds(r["ci_low"], r["ci_high"])),
                                  cell(number(r["t"], 2)), cell(Part(number(r["p"]), "p")), cell(Part(number(r["p_holm"]), "p-holm")),
                                  cell(Part(f"{r['wins']} / {r['losses']}", "wins")),
                                  cell(Part(number(r["sign_p"]), "sign-p"), f" ({number(r['sign_p_holm'])})"),
                                  cell(Part(number(r["fluctuation"]), "fluctuation")),
                                  cell(Part(signed(r["tail_mean"]), "tail"), " ", *bounds(r["tail_ci_low"], r["tail_ci_high"]))],
                                 attrs={"data-pair": f"{r['model']}-{r['other']}"}) for r in rows],
                            heading=words(f"paired_{choice}"), attrs={"data-choice": choice}))
    return Table("paired-differences", words("paired_caption"), head, groups, ("l", *("r" for _ in range(11))))

