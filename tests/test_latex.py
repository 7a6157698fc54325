"""The LaTeX report compiles with latexmk, and the PDF's text holds the comparison
table's numbers; a nasty title compiles and prints literally."""

import os
import re
import subprocess

import pandas as pd
import yaml

from conftest import REPO, require_program
from test_report import NASTY, render

INSTALL = ("apt-get install --no-install-recommends texlive-latex-base texlive-latex-recommended "
           "texlive-science latexmk poppler-utils")


def pdf_text(pdf) -> str:
    """The PDF's text with runs of white space made one space."""
    out = subprocess.run([require_program("pdftotext", INSTALL), "-layout", str(pdf), "-"], capture_output=True,
                         text=True, check=True).stdout
    return re.sub(r"\s+", " ", out)


def test_workflow_pdf_holds_the_comparison_numbers(small_study):
    require_program("latexmk", INSTALL)
    pdf = small_study / "results" / "report" / "report.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    text = pdf_text(pdf)
    table = pd.read_csv(small_study / "results" / "tables" / "comparison_notebook.csv").dropna(subset=["mean"])
    assert len(table) >= 10
    for row in table.itertuples():
        assert f"{row.mean:.3f} ± {row.std:.3f}" in text, (row.model, row.metric)
        assert f"[{row.ci_low:.3f}, {row.ci_high:.3f}]" in text, (row.model, row.metric)
        if pd.notna(row.notebook):
            assert f"{row.notebook:.3f}" in text


def test_nasty_title_compiles_and_prints_literally(small_study, tmp_path):
    latexmk = require_program("latexmk", INSTALL)
    with open(small_study / "config.yaml") as handle:
        overrides = yaml.safe_load(handle)
    with open(os.path.join(REPO, "config.yaml")) as handle:
        config = {**yaml.safe_load(handle), **overrides, "title": NASTY}
    _, tex = render(small_study / "results", config, tmp_path)
    result = subprocess.run([latexmk, "-pdf", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stdout[-3000:]
    assert r'<script>alert("x")</script> & 100% $5 _a #1 {b} \c ~d ^e λ' in pdf_text(tmp_path / "report.pdf")
