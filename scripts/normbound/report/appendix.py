"""The report's appendix, after the theory: the setup, seed 0 against the notebook,
numerics and convergence, the diverged networks, the cost, every job's time, and the
provenance with the config."""

from normbound import lam_text

from .blocks import Box, Group, Heading, Listing, Prose, Row, Section, Table, Text, cell, heading, words
from .escape import number, percent, signed


def sections(ctx, drawn) -> list:
    return [Section("setup", "Setup", [Text("setup"), *([Text("sweep_cell")] if ctx["sweep"] else [])], appendix=True),
            fidelity(ctx), numerics(ctx, drawn), diverged(ctx), cost(ctx), jobs(ctx),
            Section("provenance", "Provenance",
                    [Text("provenance_facts"), Heading("Nondeterminism"), Text("nondeterminism"), Heading("Config"),
                     Listing()], appendix=True)]


def plain(table_id, caption, columns, rows, align=None, **options) -> Table:
    """A table of one heading row (``columns``) and one group of rows of cells."""
    return Table(table_id, caption, [[heading(c) for c in columns]], [Group(rows)],
                 tuple(align or ("l",) * len(columns)), **options)


def fidelity(ctx) -> Section:
    blocks = [Box(words("settings_warning"))] if ctx["settings_differences"] else []
    if not ctx["fidelity"]:
        return Section("fidelity", "Seed 0 against the notebook", [*blocks, Text("no_seed_zero")], appendix=True)
    groups = [Group([Row([cell(words(r["metric"])), cell(number(r["notebook"])), cell(number(r["study"])),
                          cell(signed(r["difference"]))]) for r in line["rows"]], heading=words("fidelity_line", line))
              for line in ctx["fidelity"]]
    table = Table("fidelity-table", words("fidelity_caption"),
                  [[heading(c) for c in ("quantity", "notebook", "seed 0", "difference")]], groups, ("l", "r", "r", "r"))
    blocks += [table, Heading("Why Grad differs"), Text("why_grad_differs")]
    if "penalised" in ctx["drift"]:
        blocks += [Heading("Why the penalised rows drift"), Text("why_drift")]
    return Section("fidelity", "Seed 0 against the notebook", blocks, appendix=True)


def numerics(ctx, drawn) -> Section:
    blocks = [Text("convergence_notes")] if [m for m in ctx["convergence"] if m != "nn"] else []
    return Section("numerics", "Numerics: convergence", [*blocks, *drawn("training_curves")], appendix=True)


def diverged(ctx) -> Section:
    if not ctx["diverged"]:
        return Section("diverged", "Diverged networks", [Text("no_divergence")], appendix=True)
    rows = [Row([cell(str(r["seed"])), cell(r["model"]), cell(lam_text(r["lam"])), cell(r["trained_on"]),
                 cell(str(r["diverged_step"]))]) for r in ctx["diverged"]]
    return Section("diverged", "Diverged networks",
                   [plain("diverged-table", words("diverged_caption"), ("seed", "model", "λ", "trained on", "step"), rows,
                          ("r", "l", "r", "l", "r"))], appendix=True)


def cost(ctx) -> Section | None:
    """The repository's speed measurements (benchmarks/*.json), as given."""
    if not ctx["cost"]:
        return None
    columns = ("file", "device", "torch", "date", "steps", "networks", "notebook loop, s/network", "batched, s/network",
               "speed-up")
    rows = [Row([cell(run["file"]), cell(run.get("device_name") or run.get("device", "")), cell(run.get("torch", "")),
                 cell(run.get("date", "")), cell(str(run.get("steps", ""))), cell(str(run.get("networks", ""))),
                 cell(number(run.get("reference_seconds_per_network"), 4)), cell(number(run.get("fast_seconds_per_network"), 4)),
                 cell(number(run.get("ratio"), 1))]) for run in ctx["cost"]]
    # The file, device and date are long texts: columns of a set width, wrapped.
    blocks = [plain("cost-table", words("cost_caption"), columns, rows,
                    ("p{2.6cm}", "p{2.4cm}", "l", "p{2cm}", "r", "r", "r", "r", "r"))]
    roofline = [run for run in ctx["cost"] if run.get("gemm_gflops")]
    if roofline:
        rows = [Row([cell(run["file"]), cell(run.get("device_name", "")), cell(number(run["gemm_gflops"], 1)),
                     cell(number(run["step_gemm_floor_seconds_per_network"], 3)),
                     cell(number(run["fast_seconds_per_network"], 3)), cell(number(run["ratio_to_floor"], 2)),
                     cell(percent(run["fraction_of_peak"])),
                     cell(" → ".join(number(v, 1) for v in run.get("load_average", [])))]) for run in roofline]
        blocks.append(plain("roofline-table", Prose(
            "The trainer against the machine's arithmetic limit, measured in the same run (`scripts/benchmark.py`): the "
            "float32 rate of a large square matrix product, the time of one training step's two matrix products at the "
            "chunk's shapes over the run's steps (the step's floor), the trainer's time, their ratio and the trainer's "
            "share of the product rate; the load average at the start and the end (other work on the machine slows "
            "every figure)."),
            ("file", "machine", "GEMM GFLOP/s", "step's floor, s/network", "trainer, s/network", "× floor",
             "share of GEMM rate", "load average"), rows, ("p{2.2cm}", "p{2.2cm}", "r", "r", "r", "r", "r", "l")))
    for i, run in enumerate(r for r in ctx["cost"] if r.get("scaling")):
        points = [Row([cell(str(p["networks"])), cell(number(p["seconds_per_network"], 4))]) for p in run["scaling"]]
        blocks.append(plain(f"scaling-{i + 1}", words("scaling_caption", run), ("networks", "s/network"), points, ("r", "r")))
    return Section("cost", "Cost", blocks, appendix=True)


def jobs(ctx) -> Section | None:
    """Every job's time and memory, from Snakemake's benchmark files of this config's jobs."""
    times = ctx["provenance"]["benchmarks"]
    if not times["rules"]:
        return None
    rules = [Row([cell(r["rule"]), cell(str(r["jobs"])), cell(number(r["total"], 1)), cell(number(r["longest"], 1)),
                  cell(number(r["max_rss_mb"], 0))]) for r in times["rules"]]
    every = [Row([cell(j["rule"]), cell(j["job"]), cell(number(j["seconds"], 1)), cell(number(j["max_rss_mb"], 0))])
             for j in times["jobs"]]
    return Section("jobs", "Time per job", [
        plain("rule-times", words("rule_times_caption"), ("rule", "jobs", "total s", "longest job s", "peak memory MB"),
              rules, ("l", "r", "r", "r", "r")),
        plain("job-times", words("job_times_caption"), ("rule", "job", "s", "peak memory MB"), every, ("l", "l", "r", "r"),
              collapsed=True)], appendix=True)
