# Tables, figures and the report: results/report/report.html and (with LaTeX) report.pdf.
import glob
import shutil

# The lead's speed measurements; the report's "Cost" section shows them when present.
COST_FILES = sorted(glob.glob(os.path.join(workflow.basedir, "..", "benchmarks", "*.json")))
LATEXMK = shutil.which("latexmk")
LATEX_PACKAGES = "texlive-latex-base texlive-latex-recommended texlive-science latexmk"

# The PDF needs LaTeX, which the workflow does not install. Without latexmk the default
# target is the HTML alone and this message says why; asking for report.pdf explicitly
# fails with the same message (rule report_pdf).
NO_LATEX = (
    "latexmk not found: the report is built as HTML only, without report.pdf. "
    f"On Debian/Ubuntu: apt-get install --no-install-recommends {LATEX_PACKAGES}"
)
REPORT_OUTPUTS = [layout.REPORT_HTML] + ([layout.REPORT_PDF] if LATEXMK else [])
if not LATEXMK:
    logger.warning(NO_LATEX)

TABLE_FILES = {name: layout.fill(layout.TABLE, name=name) for name in TABLE_NAMES + SWEEP_TABLE_NAMES}
FIGURE_FILES = figure_files(layout.FIGURE, FIGURE_NAMES + SWEEP_FIGURE_NAMES)
THEORY_FILES = {
    "exercise1": rules.theory_hessian.output.json,
    "exercise2": rules.theory_bounds.output.json,
    **THEORY_FIGURES["theory_hessian"],
    **THEORY_FIGURES["theory_bounds"],
}

# Every job's benchmark file, of the jobs this config runs: per noise rate and seed, per
# cell and seed, and the theory's.
BENCHMARK_FILES = (
    sorted(set(per_cell_and_seed(rules.prepare_data.benchmark)
               + (per_cell_and_seed(rules.train_baselines.benchmark) if TRAINED_BASELINES else [])))
    + (list(dict.fromkeys(per_cell_and_seed(rules.train_networks.benchmark))) if TRAINED_NETWORKS else [])
    + (per_cell_and_seed(rules.robustness.benchmark) if ROBUSTNESS_MEASURED else [])
    + [rules.theory_hessian.benchmark, rules.theory_random.benchmark, rules.theory_bounds.benchmark]
)


rule tables:
    """The findings; comparison tables (mean, sd, n, the accuracies' corrected interval over
    seeds), paired differences, λ selection, convergence, seed 0 against the notebook, the
    diverged networks and robustness, of the report's cell; in a sweep, every cell's
    headline quantities."""
    input:
        metrics=rules.aggregate.output.metrics,
        selection=rules.aggregate.output.selection,
        curves=rules.aggregate.output.curves,
        robustness=rules.aggregate.output.robustness,
        reference=os.path.join(REPORT_TEMPLATES, "notebook_reference.yaml"),
    output:
        **{
            name: report(path, caption="../../report/captions/tables.rst", category="Tables")
            for name, path in TABLE_FILES.items()
        },
    params:
        # The config keys that the notebook's settings name, as the report's cell sees
        # them, and the table's ε: a change reruns the tables.
        settings=table_settings(config, NOTEBOOK_REFERENCE["settings"]),
        cell=REPORT_CELL,
    log:
        layout.log("tables"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        ENV
    script:
        f"{SCRIPTS}/tables.py"


rule figures:
    """Every figure of the report, as PDF (LaTeX) and PNG (HTML): the report's cell's,
    and in a sweep the headline quantities against each swept key."""
    input:
        metrics=rules.aggregate.output.metrics,
        selection=rules.aggregate.output.selection,
        curves=rules.aggregate.output.curves,
        robustness=rules.aggregate.output.robustness,
    output:
        **captioned(FIGURE_FILES, "Figures"),
    params:
        # No notebook λ: the figures read it from the results' notebook_lambda column,
        # which the aggregation sets from its one param (rule aggregate).
        cell=REPORT_CELL,
        epsilons=config["robustness"]["epsilons"],
        test_fraction=config["test_fraction"],
    log:
        layout.log("figures"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
    script:
        f"{SCRIPTS}/figures.py"


rule report:
    """report.html (self-contained) and report.tex, from the tables, figures, theory
    outputs and the benchmark files."""
    input:
        **TABLE_FILES,
        **FIGURE_FILES,
        **THEORY_FILES,
        templates=sorted(glob.glob(os.path.join(REPORT_TEMPLATES, "*.j2"))),
        captions=sorted(glob.glob(os.path.join(REPORT_TEMPLATES, "captions", "*.rst"))),
        cost=COST_FILES,
        # The benchmark files of this config's jobs, and no others: a removed seed's or
        # cell's jobs leave the cost table, and a rerun job renders the report again.
        benchmarks=BENCHMARK_FILES,
    output:
        html=report(layout.REPORT_HTML, caption="../../report/captions/report.rst", category="Report"),
        tex=layout.REPORT_TEX,
    params:
        # The whole config: the report shows it, so any change renders it again.
        config=config,
        tables=TABLE_NAMES + SWEEP_TABLE_NAMES,
        figures=FIGURE_NAMES,
        sweep_figures=SWEEP_FIGURE_NAMES,
        theory=["exercise1", "exercise2"],
        theory_figures=[name for names in THEORY_FIGURE_NAMES.values() for name in names],
        # The folder of the templates and captions, found from the inputs (lint: no hard-coded prefix).
        templates=lambda wildcards, input: os.path.dirname(input.templates[0]),
        cell=REPORT_CELL,
    log:
        layout.log("report"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
    script:
        f"{SCRIPTS}/make_report.py"


rule report_pdf:
    """report.pdf by latexmk; without latexmk the job fails saying what to install."""
    input:
        tex=rules.report.output.tex,
        figures=[path for key, path in {**FIGURE_FILES, **THEORY_FILES}.items() if key.endswith("_pdf")],
    output:
        layout.REPORT_PDF,
    params:
        latexmk=LATEXMK or "",
        missing=NO_LATEX,
    log:
        layout.log("report_pdf"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    # latexmk itself is a system package (README: "Quick start"), not part of the env.
    conda:
        ENV
    shell:
        # -C first: auxiliary files of an earlier failed run would break this one.
        """
        if [ -z "{params.latexmk}" ]; then echo "{params.missing}" | tee {log} >&2; exit 1; fi
        log=$(realpath {log})
        cd $(dirname {input.tex})
        tex=$(basename {input.tex})
        {params.latexmk} -C $tex > $log 2>&1
        {params.latexmk} -pdf -interaction=nonstopmode -halt-on-error $tex >> $log 2>&1 \
            || {{ tail -n 40 $log >&2; exit 1; }}
        {params.latexmk} -c $tex >> $log 2>&1
        """
