"""The LaTeX report compiles with latexmk, and the PDF's text holds the comparison
table's numbers; a nasty title compiles and prints literally."""

import os
import subprocess

import pandas as pd
import pytest

from helpers import LATEX_INSTALL, NASTY, full_config, pdf_text, render, require_program

pytestmark = pytest.mark.slow


def test_workflow_pdf_holds_the_comparison_numbers(small_study):
    require_program("latexmk", LATEX_INSTALL)
    pdf = small_study / "results" / "report" / "report.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    text = pdf_text(pdf)
    table = pd.read_csv(small_study / "results" / "tables" / "comparison_notebook.csv").dropna(subset=["mean"])
    assert len(table) >= 10
    for row in table.itertuples():
        assert f"{row.mean:.3f} ± {row.std:.3f}" in text, (row.model, row.metric)
        if pd.notna(row.ci_low):  # accuracies over enough seeds; a norm shows its sd only
            assert f"[{row.ci_low:.3f}, {row.ci_high:.3f}]" in text, (row.model, row.metric)
        if pd.notna(row.notebook):
            assert f"{row.notebook:.3f}" in text


def test_nasty_title_compiles_and_prints_literally(small_study, tmp_path):
    latexmk = require_program("latexmk", LATEX_INSTALL)
    _, tex = render(small_study / "results", {**full_config(small_study), "title": NASTY}, tmp_path)
    result = subprocess.run([latexmk, "-pdf", "-interaction=nonstopmode", "-halt-on-error", os.path.basename(tex)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stdout[-3000:]
    assert r'<script>alert("x")</script> & 100% $5 _a #1 {b} \c ~d ^e λ' in pdf_text(tmp_path / "report.pdf")
