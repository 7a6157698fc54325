"""The report rule's script: ``report.html`` (self-contained) and ``report.tex`` from the
study's tables, figures, theory outputs and job benchmarks. The work is done by the
package :mod:`normbound.report` (its docstring explains the templates); this file only
gathers the arguments, from the workflow or from the command line.

By hand, from the repository root, after the workflow has written the results:

    python scripts/make_report.py --tables results/tables --figures results/figures \
        --theory results/theory --benchmarks results/benchmarks/*/*.tsv --html /tmp/r.html --tex /tmp/r.tex
"""

import argparse
import glob
import os

from normbound import config as study_config
from normbound import io
from normbound.plots import files_in
from normbound.plots import outputs as figure_outputs
from normbound.report.render import make_report


def from_workflow(smk) -> dict:
    """The arguments of :func:`make_report` from the ``snakemake`` object of the report rule."""
    inp, par = smk.input, smk.params
    figures = figure_outputs(inp)
    return dict(table_paths={n: inp[n] for n in par.tables}, figures={n: figures[n] for n in par.figures},
                theory={n: inp[n] for n in par.theory}, theory_figures={n: figures[n] for n in par.theory_figures},
                config=par.config, cell=par.cell, templates=par.templates, benchmark_files=list(inp.benchmarks),
                cost_files=list(inp.cost), html=smk.output.html, tex=smk.output.tex,
                sweep_figures={n: figures[n] for n in par.sweep_figures})


def from_command_line(argv=None) -> dict:
    """The arguments of :func:`make_report` from the command line (see the module's docstring)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", required=True, help="folder of the tables (<name>.csv)")
    parser.add_argument("--figures", required=True, help="folder of the figures (<name>.pdf, <name>.png)")
    parser.add_argument("--theory", required=True, help="folder of the theory outputs")
    parser.add_argument("--benchmarks", nargs="*", default=[], help="Snakemake's benchmark files (<rule>/<job>.tsv)")
    parser.add_argument("--templates", default="report", help="templates and captions (default: report)")
    parser.add_argument("--html", required=True, help="output: report.html")
    parser.add_argument("--tex", required=True, help="output: report.tex")
    study_config.add_config_arguments(parser)
    args = parser.parse_args(argv)

    def found(folder, ext):
        return sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(folder, f"*.{ext}")))

    config = study_config.load_config(args.config, args.schema)
    figures = files_in(args.figures, found(args.figures, "png"))
    # The sweep section's figures are those whose names start with "sweep" (workflow/rules/common.smk).
    return dict(table_paths={n: f"{args.tables}/{n}.csv" for n in found(args.tables, "csv")},
                figures={n: f for n, f in figures.items() if not n.startswith("sweep")},
                theory={n: f"{args.theory}/{n}.json" for n in found(args.theory, "json")},
                theory_figures=files_in(args.theory, found(args.theory, "png")), config=config,
                cell=study_config.cells(config)[0], templates=args.templates, benchmark_files=args.benchmarks,
                cost_files=glob.glob("benchmarks/*.json"), html=args.html, tex=args.tex,
                sweep_figures={n: f for n, f in figures.items() if n.startswith("sweep")})


def main(argv=None):
    make_report(**from_command_line(argv))


if __name__ == "__main__":
    if "snakemake" in globals():
        io.setup_logging(snakemake.log[0])
        make_report(**from_workflow(snakemake))
    else:
        main()
