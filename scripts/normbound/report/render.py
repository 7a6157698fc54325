"""Both formats rendered from the views, the words and the figures."""

import base64
import os

from normbound import io

from .markup import environment, layout_words
from . import sections
from .escape import LatexSafe
from .provenance import cost_view, provenance
from .views import context, read_tables, read_theory


def data_uri(path: str) -> str:
    with open(path, "rb") as handle:
        return "data:image/png;base64," + base64.b64encode(handle.read()).decode("ascii")


def figure_sources(figures: dict, fmt: str, tex_dir: str) -> dict:
    """``figures``: name -> (pdf, png). HTML embeds the PNG; LaTeX includes the PDF by a
    path relative to the .tex file (the workflow's own path, which includegraphics takes as is)."""
    return {name: data_uri(png) if fmt == "html" else LatexSafe(os.path.relpath(pdf, tex_dir))
            for name, (pdf, png) in figures.items()}



def structured(ctx: dict, figures: dict, theory_figures: dict, sweep_figures: dict) -> dict:
    """``ctx`` with the report's sections (:func:`.sections.build`) and the numbers the
    words cite."""
    parts = sections.build(ctx, figures, theory_figures, sweep_figures)
    return {**ctx, **sections.numbers(parts), "sections": parts}


def render(fmt: str, ctx: dict, figures: dict, theory_figures: dict, templates: str, out: str,
           sweep_figures=None) -> None:
    """Write the report in ``fmt`` ("html" or "tex") to ``out``."""
    tex_dir = os.path.dirname(os.path.abspath(out))
    sources = lambda files: figure_sources(files, fmt, tex_dir)  # noqa: E731
    sweep_figures = sweep_figures or {}
    values = structured(ctx, figures, theory_figures, sweep_figures)
    text = environment(fmt, templates).get_template(f"report.{fmt}.j2").render(
        **values, **layout_words(fmt, templates, values), figures=sources(figures),
        theory_figures=sources(theory_figures), sweep_figures=sources(sweep_figures))
    io.write_text(out, text)


def make_report(table_paths: dict, figures: dict, theory: dict, theory_figures: dict, config: dict, cell: dict,
                templates: str, benchmark_files, cost_files, html: str, tex: str, sweep_figures=None) -> None:
    """Render both formats. ``figures``, ``theory_figures``, ``sweep_figures``: name ->
    (pdf, png); ``theory``: name -> JSON path (may be empty); ``cell``: the report's cell;
    ``benchmark_files``: Snakemake's benchmark files of the config's jobs; ``cost_files``:
    benchmarks/*.json (may be empty); ``templates``: the folder of the Jinja2 templates
    and captions."""
    ctx = context(read_tables(table_paths), config, cell, provenance(config, benchmark_files, templates),
                  cost_view(cost_files), read_theory(theory))
    for fmt, out in (("html", html), ("tex", tex)):
        render(fmt, ctx, figures, theory_figures, templates, out, sweep_figures)
