"""The report for its reader (issue 23): sections in a reader's order in both formats, every
figure and table numbered in the same reading order in both, every figure cited from the
text, captions that list exactly the models of their tables; and a study at the edges of
what the config accepts (a notebook λ of 5e-05 in its grid, a CSV dataset with a constant
column) renders both formats."""

import html as html_text
import re

import pandas as pd
import pytest
from helpers import (HOSTILE_TARGET, LATEX_INSTALL, SMALL_CONFIG, TINY_CONFIG, Page, beside_the_small_study, copy_study,
                     edit_config, pdf_text, require_program, run_workflow, write_config, write_dataset_csv)

from normbound import LABELS

pytestmark = pytest.mark.slow
# The findings, the evidence behind them, the theory, then the appendix (from "setup").
READER_ORDER = ["findings", "comparison", "selection", "robustness", "theory", "setup", "fidelity", "numerics",
                "diverged", "cost", "jobs", "provenance"]
APPENDIX = READER_ORDER.index("setup")
# The tables whose captions name the models they hold.
MODEL_TABLES = ("comparison-chosen", "comparison-notebook", "robustness-table")
# Any model's label as a whole word ("NN" is not the start of "NN+Frob").
LABEL = re.compile("|".join(rf"(?<![\w+]){re.escape(label)}(?![\w+])"
                            for label in sorted(LABELS.values(), key=len, reverse=True)))


def report(study) -> tuple:
    folder = study / "results" / "report"
    return (folder / "report.html").read_text(), (folder / "report.tex").read_text(), folder


def test_sections_are_in_a_readers_order_in_both_formats(small_study):
    html, tex, _ = report(small_study)
    page = Page(small_study / "results" / "report" / "report.html")
    assert [attrs["id"] for tag, attrs in page.tags if tag == "section"] == READER_ORDER
    assert re.findall(r"^\\section\{.*\}\\label\{([\w-]+)\}$", tex, re.M) == READER_ORDER
    # LaTeX letters the appendix from its first section on, as the HTML does.
    assert tex.index(r"\appendix") < tex.index(r"\label{setup}") and tex.index(r"\label{theory}") < tex.index(r"\appendix")
    assert re.findall(r"<h2>(\w+) ", html)[APPENDIX - 1:APPENDIX + 1] == [str(APPENDIX), "A"]
    # The first screen: the title, the study in one sentence, then the findings, no table before them.
    head = html[:html.index('<section id="findings">')]
    assert "<table" not in head and 'class="summary"' in head and "<h1>" in head


def test_every_figure_and_table_is_numbered_in_the_same_reading_order_in_both_formats(small_study):
    html, tex, folder = report(small_study)
    figures = re.findall(r'<figure id="figure-(\w+)">.*?<strong>Figure (\d+)\.</strong>', html, re.S)
    tables = re.findall(r'<table id="([\w-]+)">\s*<caption><strong>Table (\d+)\.</strong>', html)
    assert len(figures) == html.count("<figure") and len(tables) == html.count("<table") > 10
    assert [int(n) for _, n in figures] == list(range(1, len(figures) + 1))
    assert [int(n) for _, n in tables] == list(range(1, len(tables) + 1))
    # LaTeX numbers its captions in the order they appear: the same names in the same order.
    assert re.findall(r"\\label\{figure-(\w+)\}", tex) == [name for name, _ in figures]
    assert re.findall(r"\\label\{([\w-]+)\}\\\\\n\\toprule", tex) == [name for name, _ in tables]
    require_program("latexmk", LATEX_INSTALL)
    pdf = pdf_text(folder / "report.pdf")
    for kind, count in (("Figure", len(figures)), ("Table", len(tables))):
        assert sorted(set(map(int, re.findall(rf"{kind} (\d+):", pdf)))) == list(range(1, count + 1)), kind


def test_every_figure_is_cited_from_the_text(small_study):
    html, tex, _ = report(small_study)
    text = re.sub(r"<figure .*?</figure>", "", html, flags=re.S)
    for name in re.findall(r'<figure id="figure-(\w+)"', html):
        assert f'href="#figure-{name}"' in text, name
        assert rf"\hyperref[figure-{name}]" in tex, name


def test_captions_list_exactly_the_models_of_their_tables(small_study):
    html, _, _ = report(small_study)
    page = Page(small_study / "results" / "report" / "report.html")
    for table in MODEL_TABLES:
        caption = html_text.unescape(re.sub(r"<[^>]+>", "", re.search(
            rf'<table id="{table}">\s*<caption>(.*?)</caption>', html, re.S).group(1)))
        held = {LABELS[model] for model in page.models(table)}
        assert held and set(LABEL.findall(caption)) == held, (table, caption)


def test_a_seed_removed_from_the_config_leaves_the_cost_tables(small_study, tmp_path):
    """The report reads the benchmark files of the config's jobs only (its declared inputs),
    not every file under results/benchmarks."""
    workdir = copy_study(small_study, tmp_path)
    removed = SMALL_CONFIG["seeds"][-1]
    edit_config(workdir, seeds=SMALL_CONFIG["seeds"][:-1])
    run_workflow(workdir, "results/report/report.html")
    page = Page(f"{workdir}/results/report/report.html")
    jobs = [row[1] for row in page.rows("job-times")[1:]]
    assert jobs and not [job for job in jobs if job.endswith(f"seed{removed}")]
    assert [job for job in jobs if job.endswith(f"seed{removed - 1}")]
    # The removed seed's benchmark files are still there: only the report no longer reads them.
    assert list((tmp_path / "study" / "results" / "benchmarks").glob(f"*/*seed{removed}.tsv"))


# --------------------------------------------------------------------------- edges of the config
CONSTANT = "stuck"


def build_edge_study(root, studies):
    """TINY_CONFIG on the bundled data as a CSV with a constant column added, and a notebook
    λ of 5e-05, which Python prints in e-notation, in the Frobenius grid."""
    csv = root / "cancer.csv"
    write_dataset_csv(csv)
    frame = pd.read_csv(csv)
    frame.insert(0, CONSTANT, 2.5)
    frame.to_csv(csv, index=False)
    write_config(root, base=TINY_CONFIG, dataset={"source": str(csv), "target": HOSTILE_TARGET, "name": "edge"},
                 lambdas={**TINY_CONFIG["lambdas"], "frob": [5e-05, 0.005]}, notebook_lambdas={"frob": 5e-05, "mix": 0.025})
    run_workflow(root, preexec_fn=beside_the_small_study)
    return root


BACKGROUND = {"edge_study": build_edge_study}


@pytest.fixture(scope="module")
def edge_study(background):
    return background.result("edge_study")


def test_a_notebook_lambda_of_5e_05_renders_in_both_formats(edge_study):
    html, tex, folder = report(edge_study)
    assert r"\lambda = 5 \times 10^{-5}" in tex  # NN+Frob's line of the fidelity table
    assert "<msup><mn>10</mn>" in html
    require_program("latexmk", LATEX_INSTALL)
    assert (folder / "report.pdf").stat().st_size > 0


def test_a_dataset_with_a_constant_column_renders_in_both_formats(edge_study):
    html, tex, folder = report(edge_study)
    assert f"column <code>{CONSTANT}</code> is constant" in html
    assert rf"column \texttt{{{CONSTANT}}} is constant" in tex
    require_program("latexmk", LATEX_INSTALL)
    assert f"column {CONSTANT} is constant" in pdf_text(folder / "report.pdf")
