"""Text from the config is printed, never executed: HTML and LaTeX special characters in
the title and the dataset name render literally in report.html and report.pdf.

The study runs once on a minimal config whose title and dataset name hold every
character that HTML or TeX would interpret; the HTML is parsed as a browser would and
the PDF's text extracted with pdftotext.
"""

import os
import subprocess
from html.parser import HTMLParser

import pytest
from conftest import require_program, run_workflow, write_config

TITLE = r"<script>alert(1)</script> & 50% $x$ a_b #1 {c} \par"
DATASET = r"cells_{a}&b 100% #3 $\relax <b>bold</b>"
# Elements without an end tag: they never enclose text.
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(HTMLParser):
    """A parsed HTML page: its start tags in order, and the text inside each tag name and
    each id (nested elements included), as a browser would show it."""

    def __init__(self, path):
        super().__init__(convert_charrefs=True)
        self.tags, self.text_in, self._open = [], {}, []
        with open(path, encoding="utf-8") as handle:
            self.feed(handle.read())
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag not in VOID:
            self._open.append((tag, attrs.get("id")))

    def handle_endtag(self, tag):
        while self._open and self._open.pop()[0] != tag:
            pass

    def handle_data(self, data):
        for tag, element_id in self._open:
            for key in (tag, f"#{element_id}" if element_id else None):
                if key:
                    self.text_in.setdefault(key, []).append(data)

    def text(self, key) -> str:
        """The text inside ``key``: a tag name ("h1") or an id ("#diverged")."""
        return "".join(self.text_in.get(key, []))


def squeeze(text) -> str:
    """``text`` without whitespace, which HTML and TeX both reflow."""
    return "".join(text.split())


@pytest.fixture(scope="module")
def hostile_study(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("hostile")
    write_config(workdir, title=TITLE, dataset={"source": "breast_cancer", "name": DATASET},
                 seeds=[0], steps=20, curve_every=10, lambdas={"frob": [0.005], "mix": [0.025]})
    run_workflow(workdir)
    return os.path.join(workdir, "results", "report")


def test_html_shows_the_text_literally(hostile_study):
    page = Page(os.path.join(hostile_study, "report.html"))
    assert page.text("title").strip() == TITLE
    assert page.text("h1").strip() == TITLE
    assert DATASET in page.text("body")
    # The title's markup became text: no element was created from it.
    assert not [tag for tag, _ in page.tags if tag in ("script", "b")]


def test_pdf_shows_the_text_literally(hostile_study):
    pdftotext = require_program("pdftotext", "apt-get install poppler-utils")
    require_program("latexmk", "apt-get install latexmk texlive-latex-recommended")
    text = subprocess.run([pdftotext, "-enc", "UTF-8", os.path.join(hostile_study, "report.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    for literal in (TITLE, DATASET):
        assert squeeze(literal) in squeeze(text), f"{literal!r} not in the PDF's text"
