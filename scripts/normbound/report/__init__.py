"""Render the study's report from its results: ``report.html``, one self-contained file
(figures embedded as base64 PNG, styles inline, no network access), and ``report.tex``,
which the ``report_pdf`` rule compiles with latexmk.

``report/`` holds Jinja2 templates of two kinds:

- **layouts**, one per format: ``report.html.j2`` and ``report.tex.j2``, which draw the
  sections of :mod:`.sections` in order with the macros of ``blocks.html.j2`` and
  ``blocks.tex.j2``. They hold no sentences.
- **words**, written once for both formats: ``report.text.j2`` and ``theory.text.j2``
  (paragraphs and derivations), ``phrases.text.j2`` (captions and headings of tables,
  warnings) and ``captions/<figure>.rst`` (figure captions, shared with Snakemake's own
  report). Each piece of a ``.text.j2`` file is a macro. A layout places a paragraph with
  ``{{ text.setup() }}`` (LaTeX: ``\\VAR{text.setup()}``), a phrase with
  ``phrase.<name>()`` and a figure's caption with ``caption("<figure>")``;
  :func:`.markup.convert` turns the words into the layout's format.

Every value the templates insert comes from the results and prints as itself: escaped
by HTML autoescaping or by :func:`.escape.latex_escape`, so user text such as the title cannot
inject markup. In the words, a value (``{{ ... }}``) is never read as markup, and inside
``$...$`` it must be a plain number. A λ prints through the filter ``|lam``
(:func:`normbound.lam_text`), as in the tables and figures. The LaTeX layouts use delimiters that cannot clash
with TeX (``\\VAR{...}``, ``\\BLOCK{...}``, ``\\#{...}``); only :class:`.escape.LatexSafe`
strings (built here, or escaped already) pass them unchanged.

A sweep (a config key among label_noise, hidden and steps with several values) adds the
sweep section, from the table ``sweep`` and the figures ``sweep_figures``; every other
section shows the report's cell (the config's first), and the words read that cell's
values as ``config``. Without the sweep table the report is that of a single cell.

The theory section is optional: it is included when the theory rules' JSON files exist,
rendered with ``theory`` (``exercise1`` and ``exercise2``: the parsed JSON files) and
``theory_figures`` (name -> PNG data URI for HTML, -> a path \\includegraphics accepts for LaTeX).

Modules: :mod:`.escape` (how a value prints), :mod:`.markup` (the words and both layouts' Jinja
environments), :mod:`.views` (the results as each section shows them), :mod:`.provenance`
(commit, packages, machine, job times), :mod:`.blocks` and :mod:`.sections` (the report's
structure, its tables declared once), :mod:`.render` (both formats written).
"""
