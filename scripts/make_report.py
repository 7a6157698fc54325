"""The report rule's script: ``report.html`` (self-contained) and ``report.tex`` from the
study's tables, figures, theory outputs and job benchmarks. The work is done by the
package :mod:`normbound.report` (its docstring explains the templates); this file only
declares its arguments (:mod:`normbound.entry` gathers them from the workflow or from the
command line). By hand the report shows every table and figure found in the folders.

By hand, from the repository root, after the workflow has written the results:

    python scripts/make_report.py --tables results/tables --figures results/figures \
        --theory results/theory --benchmarks results/benchmarks/*/*.tsv --html /tmp/r.html --tex /tmp/r.tex
"""

import glob
import os

from normbound import entry, layout
from normbound.plots import files_in
from normbound.plots import outputs as figure_outputs
from normbound.report.render import make_report


def by_name(kind: str):
    """In a job: the rule's inputs that its param ``kind`` names, by name."""
    return lambda smk, name: {n: smk.input[n] for n in smk.params[kind]}


def figures_by_name(kind: str):
    """In a job: the figures (name -> (pdf, png)) among the rule's inputs that its param ``kind`` names."""
    return lambda smk, name: {n: figure_outputs(smk.input)[n] for n in smk.params[kind]}


def folder(help: str, default: str) -> dict:
    return dict(help=f"{help} (default: {default})", default=default)


def found(folder: str, ext: str) -> list:
    """By hand: the names of the ``<name>.<ext>`` files in ``folder``, what the workflow wrote."""
    return sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(folder, f"*.{ext}")))


def figures_in(folder: str, sweep: bool) -> dict:
    """By hand: the figures in ``folder``, the sweep section's (``sweep``) or the others,
    told apart by name (normbound.layout.sweep_figure_names)."""
    return {n: files for n, files in files_in(folder, found(folder, "png")).items() if n.startswith("sweep") == sweep}


SCRIPT = entry.Script(
    __doc__, make_report,
    table_paths=entry.Arg(by_name("tables"), folder("folder of the tables (<name>.csv)", layout.TABLES),
                          lambda args, name, config: {n: f"{args.table_paths}/{n}.csv"
                                                      for n in found(args.table_paths, "csv")}, flag="--tables"),
    figures=entry.Arg(figures_by_name("figures"), folder("folder of the figures (<name>.pdf, <name>.png)", layout.FIGURES),
                      lambda args, name, config: figures_in(args.figures, sweep=False)),
    sweep_figures=entry.Arg(figures_by_name("sweep_figures"),
                            by_hand=lambda args, name, config: figures_in(args.figures, sweep=True)),
    theory=entry.Arg(by_name("theory"), folder("folder of the theory outputs", layout.THEORY),
                     lambda args, name, config: {n: f"{args.theory}/{n}.json" for n in found(args.theory, "json")}),
    theory_figures=entry.Arg(figures_by_name("theory_figures"),
                             by_hand=lambda args, name, config: files_in(args.theory, found(args.theory, "png"))),
    config=entry.param(lambda config: config),
    cell=entry.REPORT_CELL,
    templates=entry.Arg(lambda smk, name: smk.params.templates, folder("templates and captions", "report")),
    benchmark_files=entry.inp("Snakemake's benchmark files (<rule>/<job>.tsv)", "benchmarks", many=True,
                              flag="--benchmarks"),
    # By hand, the lead's speed measurements of the working folder (rule report's input ``cost``).
    cost_files=entry.Arg(lambda smk, name: list(smk.input.cost),
                         by_hand=lambda args, name, config: glob.glob("benchmarks/*.json")),
    html=entry.out("output: report.html", default=layout.REPORT_HTML),
    tex=entry.out("output: report.tex", default=layout.REPORT_TEX),
)
main = SCRIPT.main

if __name__ == "__main__":
    SCRIPT.start(globals())
