"""Text from the config is printed, never executed: HTML and LaTeX special characters in
the title and the dataset name render literally in report.html and report.pdf.

The hostile study's title and dataset name hold every character that HTML or TeX would
interpret; the HTML is parsed as a browser would and the PDF's text extracted with
pdftotext.
"""

import pytest
from helpers import HOSTILE_DATASET, HOSTILE_TITLE, LATEX_INSTALL, Page, pdf_text, require_program, squeeze

pytestmark = pytest.mark.slow


def test_html_shows_the_text_literally(hostile_study):
    page = Page(hostile_study / "report" / "report.html")
    assert page.text("title").strip() == HOSTILE_TITLE
    assert page.text("h1").strip() == HOSTILE_TITLE
    assert HOSTILE_DATASET in page.text("body")
    # The title's markup became text: no element was created from it.
    assert not [tag for tag, _ in page.tags if tag in ("script", "b")]


def test_pdf_shows_the_text_literally(hostile_study):
    require_program("latexmk", LATEX_INSTALL)
    text = pdf_text(hostile_study / "report" / "report.pdf")
    for literal in (HOSTILE_TITLE, HOSTILE_DATASET):
        assert squeeze(literal) in squeeze(text), f"{literal!r} not in the PDF's text"
