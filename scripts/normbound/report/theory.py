"""The theory section: the sheet's exercises 1 and 2 derived (``theory.text.j2``), then
checked by computation (results/theory/exercise1.json and exercise2.json)."""

from .blocks import Figure, Group, Heading, Line, Part, Row, Section, Table, Text, cell, heading, words
from .escape import number, percent

# The bound chain's ratios, by the key exercise2.json gives them (their headings are phrases).
RATIOS = ("grad_over_mix", "grad_max_over_mix", "search_over_mix", "mix_over_frob", "spectral_over_mix")


def section(ctx, figures: list) -> Section | None:
    if not ctx["theory"]:
        return None
    figure = lambda name: [Figure(name, "theory_figures")] if name in figures else []  # noqa: E731
    e1, e2 = ctx["theory"]["exercise1"], ctx["theory"]["exercise2"]
    s2, c2 = e2["summary"], e2["settings"]
    top = str(c2["widths"][-1])
    return Section("theory", "Theory, checked by computation", [
        Text("theory_intro"),
        Heading("Exercise 1: the conditioning of the linear model's objective", "theory-hessian"),
        Text("exercise1"), Text("exercise1_measured"), condition_table(e1), *figure("hessian_convergence"),
        Text("exercise1_optimisers"), optimiser_table(e1), Text("exercise1_dataset"), *figure("optimiser_steps"),
        Heading("Exercise 2: the bounds on the input gradient", "theory-bounds"),
        Text("exercise2"), Text("exercise2_families"),
        ratio_table("theory-families-table", words("families_caption"), "family",
                    [(key, label) for key, label in c2["families"] if key in s2["families"]], s2["families"]),
        Text("exercise2_families_findings"), enumeration_table(e2, top), *figure("pattern_gap"),
        Text("exercise2_trained"),
        ratio_table("theory-trained-table", words("trained_caption"), "networks",
                    [(group[0], words("trained_group", *group)) for group in s2["trained_groups"] if group[0] in s2["trained"]],
                    s2["trained"]),
        Text("exercise2_penalties"), *figure("bound_ratios")])


def condition_table(e1) -> Table:
    settings, largest = e1["settings"], e1["summary"]["largest_n"]
    dims = settings["dims"]
    head = [[heading(words("mu_over_sigma")), heading(words("condition_formula")),
             *(heading(words("condition_measured", d)) for d in dims), heading(words("joint_condition_formula")),
             *(heading(words("condition_joint_measured", d)) for d in dims)]]
    rows = []
    for ratio in settings["ratios"]:
        at = {r["d"]: r for r in e1["grid"] if r["n"] == largest and r["ratio"] == ratio}
        rows.append(Row([cell(str(ratio), header=True), cell(number(1 + ratio ** 2, 2)),
                         *(cell(number(at[d]["condition"], 2)) for d in dims if d in at),
                         cell(number(next(iter(at.values()))["condition_joint_theory"], 2)),
                         *(cell(number(at[d]["condition_joint"], 2)) for d in dims if d in at)]))
    return Table("theory-condition-table", words("condition_caption"), head, [Group(rows)], ("r",) * (3 + 2 * len(dims)))


def optimiser_table(e1) -> Table:
    head = [[heading(words("mu_over_sigma")), heading(words("kappa_hat")), heading("gradient descent"),
             heading(words("gd_steps_bound")), heading("Adam"), heading("Adam's rate")]]
    rows = [Row([cell(str(r["ratio"]), header=True), cell(number(r["condition"], 1)), cell(number(r["gd_steps"], 0)),
                 cell(str(r["gd_steps_bound"])), cell(number(r["adam_steps"], 0)), cell(number(r["adam_lr"], 4))])
            for r in e1["optimiser"]]
    return Table("theory-optimiser-table", words("optimiser_caption"), head, [Group(rows)], ("r",) * 6)


def ratio_table(table_id, caption, first_column, rows, summaries) -> Table:
    """The bound chain's ratios (median, smallest–largest) of each row (key, its label)."""
    def ratio(r):
        if not r["count"]:
            return cell("—")
        made = cell(number(r["median"]))
        made.lines.append(Line([Part(f"{number(r['min'])}–{number(r['max'])}")], "ci"))
        return made

    head = [[heading(first_column), *(heading(words(key)) for key in RATIOS)]]
    body = [Row([cell(label, header=True), *(ratio(summaries[key][r]) for r in RATIOS)]) for key, label in rows]
    return Table(table_id, caption, head, [Group(body)], ("l", *("r" for _ in RATIOS)))


def enumeration_table(e2, top) -> Table:
    keys = ("grad_max_over_pattern", "pattern_over_mix", "mix_over_frob")
    head = [[heading("family"), *(heading(words(k)) for k in keys), heading("all patterns reachable")]]
    rows = []
    for family, label in e2["settings"]["families"]:
        r = e2["summary"]["enumeration"][family][top]
        rows.append(Row([cell(label, header=True), *(cell(number(r[k]["median"])) for k in keys),
                         cell(percent(r["all_reachable"]))]))
    return Table("theory-enumeration-table", words("enumeration_caption", top), head, [Group(rows)],
                 ("l", "r", "r", "r", "r"))
