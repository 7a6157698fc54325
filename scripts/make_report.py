"""Render the study's report from its results: ``report.html``, one self-contained file
(figures embedded as base64 PNG, styles inline, no network access), and ``report.tex``,
which the ``report_pdf`` rule compiles with latexmk.

Both come from Jinja2 templates in ``report/``; the templates receive data and only
format it. HTML autoescapes every inserted value. The LaTeX environment uses delimiters
that cannot clash with TeX (``\\VAR{...}``, ``\\BLOCK{...}``, ``\\#{...}``) and escapes
every inserted value through :func:`latex_escape` (its ``finalize`` hook), so user text
such as the title cannot inject TeX; only :class:`LatexSafe` strings (labels built here,
already escaped values) pass unchanged.

The theory section is optional: ``report/theory.html.j2`` / ``report/theory.tex.j2``
are included when they and the theory rules' JSON files exist, rendered with ``theory``
(``exercise1`` and ``exercise2``: the parsed JSON files) and ``theory_figures`` (name -> PNG data URI for HTML, -> a path \\includegraphics
accepts for LaTeX).

By hand:  python scripts/make_report.py --tables results/tables --figures results/figures \
              --theory results/theory --benchmarks results/benchmarks --html /tmp/r.html --tex /tmp/r.tex
"""

import argparse
import base64
import datetime
import glob
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import subprocess

import jinja2
import markupsafe
import pandas as pd
import yaml

import equations
from normbound import config as study_config
from normbound import io
from normbound.plots import outputs as figure_outputs

PACKAGES = ("torch", "numpy", "scipy", "scikit-learn", "pandas", "matplotlib", "jinja2", "snakemake")
FIDELITY_LINES = [("rf", "after"), ("svc", "after"), ("nn", "before"), ("nn", "after"), ("nn_frob", "after"),
                  ("nn_mix", "after")]


# --------------------------------------------------------------------------- LaTeX escaping
class LatexSafe(str):
    """A string that is valid LaTeX already; :func:`latex_escape` leaves it as is."""


# TeX's special characters, and < > which the default OT1 font encoding prints as ¡ ¿.
# OT1's roman fonts have no glyph for " _ ~ ^ (they print a closing quote, a rule and
# accents): those come from the typewriter font, which has every ASCII character.
LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "{": r"\{", "}": r"\}", "<": r"\textless{}", ">": r"\textgreater{}",
                  **{c: rf"{{\ttfamily\char{ord(c)}}}" for c in '"_~^'}}
# Characters outside Latin-1 that the study's own text uses; pdfLaTeX's default input
# encoding knows none of them.
LATEX_UNICODE = {"λ": r"\ensuremath{\lambda}", "‖": r"\ensuremath{\|}", "√": r"\ensuremath{\surd}",
                 "±": r"\ensuremath{\pm}", "×": r"\ensuremath{\times}", "≤": r"\ensuremath{\leq}",
                 "≥": r"\ensuremath{\geq}", "∇": r"\ensuremath{\nabla}", "ₓ": r"\ensuremath{_x}",
                 "²": r"\ensuremath{^2}", "−": r"\ensuremath{-}", "→": r"\ensuremath{\to}", "–": "--",
                 "—": "---", "…": r"\dots{}", "‘": "`", "’": "'", "“": "``", "”": "''", "\u00a0": "~"}


def latex_escape(value) -> LatexSafe:
    """``value`` as LaTeX text that prints it literally.

    Latin-1 letters (é, ü, ß) pass through for pdfLaTeX's UTF-8 input; other characters
    without a LaTeX form here become "?" rather than stopping the compilation.
    """
    if isinstance(value, LatexSafe):
        return value
    out = []
    for char in str(value):
        if char in LATEX_SPECIALS or char in LATEX_UNICODE:
            out.append(LATEX_SPECIALS.get(char) or LATEX_UNICODE[char])
        elif char.isascii() or "\u00c0" <= char <= "\u00ff":
            out.append(char)
        else:
            out.append("?")
    return LatexSafe("".join(out))


def tex_finalize(value):
    """Jinja's hook on every ``\\VAR{...}``: escape whatever is not LaTeX already."""
    return "" if value is None else latex_escape(value)


# --------------------------------------------------------------------------- formatting
def number(value, digits: int = 3) -> str:
    """A table number: fixed ``digits`` decimals, a dash for a missing value."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or pd.isna(value):
        return "—"
    return f"{value:.{digits}f}"


def signed(value, digits: int = 3) -> str:
    """A difference, always with its sign; one that rounds to zero shows as +0.000, not -0.000."""
    return number(value, digits) if pd.isna(value) else f"{round(value, digits) + 0.0:+.{digits}f}"


# Column names, in each format's own markup.
METRIC_TEXT = {"train_acc": "train acc", "test_acc": "test acc", "grad": "Grad", "grad_notebook": "Grad (notebook's)",
               "mix_norm": "‖W‖Mix", "frob_bound": "√h‖W‖F"}
METRIC_HTML = {**{k: markupsafe.escape(v) for k, v in METRIC_TEXT.items()},
               "grad": markupsafe.Markup("Grad (true ∇<sub>x</sub>f)"),
               "grad_notebook": markupsafe.Markup("Grad (notebook’s variant)"),
               "mix_norm": markupsafe.Markup("‖W‖<sub>Mix</sub>"), "frob_bound": markupsafe.Markup("√h‖W‖<sub>F</sub>")}
METRIC_TEX = {**{k: latex_escape(v) for k, v in METRIC_TEXT.items()},
              "grad": LatexSafe(r"Grad (true $\nabla_x f$)"), "grad_notebook": LatexSafe("Grad (notebook's variant)"),
              "mix_norm": LatexSafe(r"$\|W\|_{\mathrm{Mix}}$"), "frob_bound": LatexSafe(r"$\sqrt{h}\,\|W\|_F$")}


def environment(fmt: str, templates: str) -> jinja2.Environment:
    """The Jinja2 environment of ``fmt`` ("html" or "tex") over the folder ``templates``."""
    common = dict(loader=jinja2.FileSystemLoader(templates), undefined=jinja2.StrictUndefined, trim_blocks=True,
                  lstrip_blocks=True, keep_trailing_newline=True)
    if fmt == "html":
        env = jinja2.Environment(autoescape=True, **common)
        env.filters["mathml"] = equations.mathml  # equations as MathML: render offline
    else:
        env = jinja2.Environment(block_start_string=r"\BLOCK{", block_end_string="}",
                                 variable_start_string=r"\VAR{", variable_end_string="}",
                                 comment_start_string=r"\#{", comment_end_string="}", autoescape=False,
                                 finalize=tex_finalize, **common)
        env.filters["latex_escape"] = latex_escape
    env.filters.update(num=number, signed=signed)
    return env


# --------------------------------------------------------------------------- data for the templates
def comparison_view(table: pd.DataFrame) -> dict:
    """A comparison table (see :func:`tables.comparison_table`) as rows of cells."""
    rows = []
    for model, part in table.groupby("model", sort=False):
        first = part.iloc[0]
        rows.append(dict(model=model, label=first["label"], lam="" if pd.isna(first["lam"]) else str(first["lam"]),
                         n=int(part["n"].max()), n_diverged=int(first["n_diverged"]),
                         cells=part.to_dict("records")))
    return dict(rows=rows, metrics=list(dict.fromkeys(table["metric"])), has_reference=bool(table["notebook"].notna().any()),
                n_diverged=int(sum(r["n_diverged"] for r in rows)))


def fidelity_view(table: pd.DataFrame) -> list:
    """The fidelity table grouped by printed line, in the notebook's order."""
    lines = []
    for model, phase in FIDELITY_LINES:
        part = table[(table["model"] == model) & (table["phase"] == phase)]
        if len(part):
            lines.append(dict(model=model, phase=phase, label=part["label"].iloc[0], rows=part.to_dict("records")))
    return lines


def data_uri(path: str) -> str:
    with open(path, "rb") as handle:
        return "data:image/png;base64," + base64.b64encode(handle.read()).decode("ascii")


def caption(templates: str, name: str) -> str:
    """A figure's caption: its reStructuredText caption file (shared with Snakemake's report)
    as one paragraph of plain text."""
    with open(os.path.join(templates, "captions", f"{name}.rst")) as handle:
        return " ".join(handle.read().split())


def figure_view(figures: dict, fmt: str, tex_dir: str, templates: str) -> list:
    """``figures``: name -> (pdf, png). HTML embeds the PNG; LaTeX includes the PDF by a
    path relative to the .tex file (the workflow's own path, which includegraphics takes as is)."""
    return [dict(name=name, caption=caption(templates, name),
                 src=data_uri(png) if fmt == "html" else LatexSafe(os.path.relpath(pdf, tex_dir)))
            for name, (pdf, png) in figures.items()]


def theory_view(theory: dict, figures: dict, fmt: str, tex_dir: str, templates: str):
    """``(theory, theory_figures)`` from the theory rules' outputs (``theory``: name ->
    JSON path; ``figures``: name -> (pdf, png)), or ``(None, {})`` when there are none or
    this format has no theory template."""
    if not theory or not os.path.exists(os.path.join(templates, f"theory.{fmt}.j2")):
        return None, {}
    parsed = {}
    for name, path in theory.items():
        with open(path) as handle:
            parsed[name] = json.load(handle)
    return parsed, {name: data_uri(png) if fmt == "html" else LatexSafe(os.path.relpath(pdf, tex_dir))
                    for name, (pdf, png) in figures.items()}


# --------------------------------------------------------------------------- provenance
def git_commit(repo: str) -> str:
    """The commit the code ran from, marked when the checkout has uncommitted changes."""
    try:
        head = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout, or git is not installed)"
    return head.stdout.strip() + (" with uncommitted changes" if dirty.stdout.strip() else "")


def hardware() -> dict:
    """The machine that rendered the report (CPU model, cores, memory, GPU)."""
    import torch

    cpu = platform.processor() or platform.machine()
    memory = ""
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
        with open("/proc/meminfo") as handle:
            kib = next(int(line.split()[1]) for line in handle if line.startswith("MemTotal"))
            memory = f"{kib / 2**20:.1f} GiB"
    except (OSError, StopIteration):
        pass
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    return dict(cpu=cpu, cores=os.cpu_count(), memory=memory or "unknown", gpu=", ".join(gpus) or "none",
                system=platform.platform(), python=platform.python_version())


def package_versions() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def benchmark_view(benchmark_dir: str) -> dict:
    """Per-job and per-rule time from Snakemake's ``benchmark:`` files
    (``<dir>/<rule>/<job>.tsv``), and the wall-clock window the jobs ran in."""
    jobs = []
    for path in sorted(glob.glob(os.path.join(benchmark_dir, "*", "*.tsv"))):
        row = pd.read_csv(path, sep="\t").iloc[-1]  # a repeated benchmark appends rows
        end = os.path.getmtime(path)
        jobs.append(dict(rule=os.path.basename(os.path.dirname(path)), job=os.path.splitext(os.path.basename(path))[0],
                         seconds=float(row["s"]), max_rss_mb=float(row["max_rss"]), start=end - float(row["s"]), end=end))
    if not jobs:
        return dict(jobs=[], rules=[], window=None)
    frame = pd.DataFrame(jobs)
    rules = (frame.groupby("rule", sort=False).agg(jobs=("seconds", "size"), total=("seconds", "sum"),
                                                     longest=("seconds", "max"), max_rss_mb=("max_rss_mb", "max"))
             .reset_index().to_dict("records"))
    stamp = lambda t: datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")  # noqa: E731
    window = dict(start=stamp(frame["start"].min()), end=stamp(frame["end"].max()),
                  seconds=frame["end"].max() - frame["start"].min(), total=frame["seconds"].sum())
    return dict(jobs=jobs, rules=rules, window=window)


def cost_view(paths) -> list:
    """The lead's speed measurements (``benchmarks/*.json`` in the repository), as given."""
    runs = []
    for path in sorted(paths):
        with open(path) as handle:
            runs.append({**json.load(handle), "file": os.path.basename(path)})
    return runs


def provenance(config: dict, benchmark_dir: str, repo: str) -> dict:
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    # LaTeX keeps the YAML's indentation as a width per line (verbatim could be ended by user text).
    lines = [dict(indent=len(line) - len(line.lstrip()), text=line.strip()) for line in text.splitlines()]
    return dict(config_yaml=text, config_lines=lines, config_sha256=hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest(),
                commit=git_commit(repo), packages=package_versions(), hardware=hardware(),
                rendered=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
                benchmarks=benchmark_view(benchmark_dir))


# --------------------------------------------------------------------------- rendering
def read_tables(paths: dict) -> dict:
    # λ as written (0.005, not 0.005000000000000001; 0, not 0.0): it is a label here.
    return {name: pd.read_csv(path, dtype={"lam": str}) for name, path in paths.items()}


def context(tabs: dict, config: dict, info: dict, cost: list) -> dict:
    """What both templates receive, apart from the format-specific figures and labels."""
    fidelity = tabs["fidelity"]
    return dict(
        title=config["title"], dataset=config["dataset"]["name"], config=config, provenance=info, cost=cost,
        notebook=comparison_view(tabs["comparison_notebook"]), chosen=comparison_view(tabs["comparison_chosen"]),
        fidelity=fidelity_view(fidelity),
        fidelity_value={(r["model"], r["phase"], r["metric"]): r for r in fidelity.to_dict("records")},
        settings_differences=tabs["fidelity_settings"].to_dict("records"),
        diverged=tabs["diverged"].to_dict("records"), seeds=config["seeds"],
    )


def render(fmt: str, ctx: dict, figures: dict, theory: dict, theory_figures: dict, templates: str, out: str) -> None:
    """Write the report in ``fmt`` ("html" or "tex") to ``out``."""
    tex_dir = os.path.dirname(os.path.abspath(out))
    theory, theory_figures = theory_view(theory, theory_figures, fmt, tex_dir, templates)
    text = environment(fmt, templates).get_template(f"report.{fmt}.j2").render(
        **ctx, figures=figure_view(figures, fmt, tex_dir, templates), theory=theory, theory_figures=theory_figures,
        metric_label=METRIC_HTML if fmt == "html" else METRIC_TEX)
    io.write_text(out, text)


def make_report(table_paths: dict, figures: dict, theory: dict, theory_figures: dict, config: dict,
                templates: str, benchmark_dir: str, cost_files, html: str, tex: str) -> None:
    """Render both formats. ``figures``, ``theory_figures``: name -> (pdf, png);
    ``theory``: name -> JSON path (may be empty); ``cost_files``: benchmarks/*.json (may
    be empty); ``templates``: the folder of the Jinja2 templates and captions."""
    ctx = context(read_tables(table_paths), config, provenance(config, benchmark_dir, templates),
                  cost_view(cost_files))
    for fmt, out in (("html", html), ("tex", tex)):
        render(fmt, ctx, figures, theory, theory_figures, templates, out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", required=True, help="folder of the tables (<name>.csv)")
    parser.add_argument("--figures", required=True, help="folder of the figures (<name>.pdf, <name>.png)")
    parser.add_argument("--theory", required=True, help="folder of the theory outputs")
    parser.add_argument("--benchmarks", required=True, help="folder of Snakemake's benchmark files")
    parser.add_argument("--templates", default="report", help="templates and captions (default: report)")
    parser.add_argument("--html", required=True, help="output: report.html")
    parser.add_argument("--tex", required=True, help="output: report.tex")
    study_config.add_config_arguments(parser)
    args = parser.parse_args(argv)

    def found(folder, ext):
        return sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(folder, f"*.{ext}")))

    pairs = lambda folder: {n: (f"{folder}/{n}.pdf", f"{folder}/{n}.png") for n in found(folder, "png")}  # noqa: E731
    make_report({n: f"{args.tables}/{n}.csv" for n in found(args.tables, "csv")}, pairs(args.figures),
                {n: f"{args.theory}/{n}.json" for n in found(args.theory, "json")}, pairs(args.theory),
                study_config.load_config(args.config, args.schema), args.templates, args.benchmarks,
                glob.glob("benchmarks/*.json"), args.html, args.tex)


if __name__ == "__main__":
    if "snakemake" in globals():
        io.setup_logging(snakemake.log[0])
        inp, par = snakemake.input, snakemake.params
        figures = figure_outputs(inp)
        make_report({n: inp[n] for n in par.tables}, {n: figures[n] for n in par.figures},
                    {n: inp[n] for n in par.theory}, {n: figures[n] for n in par.theory_figures},
                    par.config, par.templates, par.benchmarks, inp.cost, snakemake.output.html, snakemake.output.tex)
    else:
        main()
