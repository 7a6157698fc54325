"""Render the study's report from its results: ``report.html``, one self-contained file
(figures embedded as base64 PNG, styles inline, no network access), and ``report.tex``,
which the ``report_pdf`` rule compiles with latexmk.

``report/`` holds Jinja2 templates of two kinds:

- **layouts**, one per format: ``report.html.j2`` and ``report.tex.j2``, with the theory
  section in ``theory.html.j2`` and ``theory.tex.j2``. They say where each table, figure
  and piece of text goes, and hold no sentences.
- **words**, written once for both formats: ``report.text.j2`` and ``theory.text.j2``
  (paragraphs and derivations), ``phrases.text.j2`` (captions and headings of tables,
  warnings) and ``captions/<figure>.rst`` (figure captions, shared with Snakemake's own
  report). Each piece of a ``.text.j2`` file is a macro. A layout places a paragraph with
  ``{{ text.setup() }}`` (LaTeX: ``\\VAR{text.setup()}``), a phrase with
  ``phrase.<name>()`` and a figure's caption with ``caption("<figure>")``;
  :func:`convert` turns the words into the layout's format.

The words are Markdown-like text with TeX math, as in a Jupyter notebook: blank lines
separate paragraphs; ``$...$`` is an equation in the text, and a paragraph ``$$...$$`` a
displayed one; ``**bold**``, ``*emphasis*``, code between backquotes, ``[text](#anchor)``
(a link to a section: an HTML id, a LaTeX label); lines starting with ``- `` make a
list, with ``> `` a boxed note; a backslash before ``$ * ` [ \\`` prints the character
itself. Equations become MathML in HTML (:mod:`equations`, drawn offline) and stay TeX
in LaTeX.

Every value the templates insert comes from the results and prints as itself: escaped
by HTML autoescaping or by :func:`latex_escape`, so user text such as the title cannot
inject markup. In the words, a value (``{{ ... }}``) is never read as markup, and inside
``$...$`` it must be a plain number. The LaTeX layouts use delimiters that cannot clash
with TeX (``\\VAR{...}``, ``\\BLOCK{...}``, ``\\#{...}``); only :class:`LatexSafe`
strings (built here, or escaped already) pass them unchanged.

A sweep (a config key among label_noise, hidden and steps with several values) adds the
sweep section, from the table ``sweep`` and the figures ``sweep_figures``; every other
section shows the report's cell (the config's first), and the words read that cell's
values as ``config``. Without the sweep table the report is that of a single cell.

The theory section is optional: it is included when the theory rules' JSON files exist,
rendered with ``theory`` (``exercise1`` and ``exercise2``: the parsed JSON files) and
``theory_figures`` (name -> PNG data URI for HTML, -> a path \\includegraphics accepts for LaTeX).

By hand:  python scripts/make_report.py --tables results/tables --figures results/figures \
              --theory results/theory --benchmarks results/benchmarks --html /tmp/r.html --tex /tmp/r.tex
"""

import argparse
import base64
import dataclasses
import datetime
import glob
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import re
import subprocess
from typing import Callable

import jinja2
import markupsafe
import pandas as pd
import yaml

import equations
from normbound import LABELS, MODELS, NETWORKS, PENALTY, SCHATTEN_P, SWEEP_AXES
from normbound import config as study_config
from normbound import io
from normbound.plots import files_in
from normbound.plots import outputs as figure_outputs
from normbound import findings
from normbound.summary import CONFIDENCE, MIN_SEEDS, ROBUST_MEASURES, TAIL_FRACTION, along

PACKAGES = ("torch", "numpy", "scipy", "scikit-learn", "pandas", "matplotlib", "jinja2", "snakemake")
FIDELITY_LINES = [("rf", "after"), ("svc", "after"), ("nn", "before"), ("nn", "after"), ("nn_frob", "after"),
                  ("nn_mix", "after")]
# The words of the report (see the module's docstring): paragraphs, and phrases.
TEXT_FILES = ("report.text.j2", "theory.text.j2")
PHRASE_FILE = "phrases.text.j2"


# --------------------------------------------------------------------------- LaTeX escaping
class LatexSafe(str):
    """A string that is valid LaTeX already; :func:`latex_escape` leaves it as is."""


# TeX's special characters, and < > which the default OT1 font encoding prints as ¡ ¿.
# OT1's roman fonts have no glyph for " _ ~ ^ (they print a closing quote, a rule and
# accents): those come from the typewriter font, which has every ASCII character.
LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "{": r"\{", "}": r"\}", "<": r"\textless{}", ">": r"\textgreater{}",
                  **{c: rf"{{\ttfamily\char{ord(c)}}}" for c in '"_~^'}}
# Characters outside Latin-1 that the study's own text uses; pdfLaTeX's default input
# encoding knows none of them.
LATEX_UNICODE = {"λ": r"\ensuremath{\lambda}", "μ": r"\ensuremath{\mu}", "σ": r"\ensuremath{\sigma}",
                 "κ": r"\ensuremath{\kappa}", "ε": r"\ensuremath{\varepsilon}", "‖": r"\ensuremath{\|}",
                 "√": r"\ensuremath{\surd}",
                 "±": r"\ensuremath{\pm}", "×": r"\ensuremath{\times}", "≤": r"\ensuremath{\leq}",
                 "≥": r"\ensuremath{\geq}", "∇": r"\ensuremath{\nabla}", "ₓ": r"\ensuremath{_x}", "₂": r"\ensuremath{_2}",
                 "²": r"\ensuremath{^2}", "ᵀ": r"\ensuremath{^{\top}}", "−": r"\ensuremath{-}",
                 "→": r"\ensuremath{\to}", "·": r"\ensuremath{\cdot}", "–": "--", "—": "---", "…": r"\dots{}", "‘": "`", "’": "'", "“": "``",
                 "”": "''", "\u00a0": "~"}


def latex_escape(value) -> LatexSafe:
    """``value`` as LaTeX text that prints it literally.

    Latin-1 letters (é, ü, ß) pass through for pdfLaTeX's UTF-8 input; other characters
    without a LaTeX form here become "?" rather than stopping the compilation.
    """
    if isinstance(value, LatexSafe):
        return value
    out = []
    for char in str(value):
        if char in LATEX_SPECIALS or char in LATEX_UNICODE:
            out.append(LATEX_SPECIALS.get(char) or LATEX_UNICODE[char])
        elif char.isascii() or "\u00c0" <= char <= "\u00ff":
            out.append(char)
        else:
            out.append("?")
    return LatexSafe("".join(out))


def tex_finalize(value):
    """Jinja's hook on every ``\\VAR{...}``: escape whatever is not LaTeX already."""
    return "" if value is None else latex_escape(value)


# --------------------------------------------------------------------------- formatting
def number(value, digits: int = 3) -> str:
    """A table number: fixed ``digits`` decimals, a dash for a missing value."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or pd.isna(value):
        return "—"
    return f"{value:.{digits}f}"


def signed(value, digits: int = 3) -> str:
    """A difference, always with its sign, a minus sign (−) rather than a hyphen; one that
    rounds to zero shows as +0.000, not −0.000."""
    return number(value, digits) if pd.isna(value) else f"{round(value, digits) + 0.0:+.{digits}f}".replace("-", "−")


def percent(value) -> str:
    """A fraction as a percentage with one decimal: 0.0312 -> "3.1 %"."""
    return f"{100 * value:.1f} %"


# --------------------------------------------------------------------------- the words, in either format
class BuiltMarkup(str):
    """Markup built in code, not a value from the results: the words print it as markup."""


def scientific(value) -> BuiltMarkup:
    """``value`` as an equation in the words: 8.5e-14 -> $8.53 \\times 10^{-14}$."""
    mantissa, exponent = f"{value:.2e}".split("e")
    return BuiltMarkup(rf"${mantissa} \times 10^{{{int(exponent)}}}$")


# A value in the words is set between these (private-use characters, taken out of the
# value itself), so that convert() prints it as it is instead of reading it as markup.
VALUE_START, VALUE_END = "\ue000", "\ue001"
VALUE = re.compile(f"{VALUE_START}(.*?){VALUE_END}", re.S)


def mark_value(value):
    """Jinja's hook on every ``{{ ... }}`` of the words: mark the value as literal text."""
    if isinstance(value, BuiltMarkup):
        return value
    text = "" if value is None else str(value).replace(VALUE_START, "").replace(VALUE_END, "")
    return f"{VALUE_START}{text}{VALUE_END}"


@dataclasses.dataclass(frozen=True)
class Format:
    """How one format writes each element of the words (``{}``: the element's content)."""

    escape: Callable[[str], str]
    math: Callable[[str, bool], str]  # (TeX, displayed?) -> an equation
    strong: str
    emphasis: str
    code: str
    link: str  # {target}, {text}
    paragraph: str
    note: str
    items: str
    item: str
    between_blocks: str
    safe: Callable[[str], str]  # the result, marked safe for the layout's escaping


HTML = Format(escape=lambda text: str(markupsafe.escape(text)), math=lambda tex, display: str(equations.mathml(tex, display)),
              strong="<strong>{}</strong>", emphasis="<em>{}</em>", code="<code>{}</code>",
              link='<a href="#{target}">{text}</a>', paragraph="<p>{}</p>", note='<p class="box">{}</p>',
              items="<ul>\n{}\n</ul>", item="<li>{}</li>", between_blocks="\n", safe=markupsafe.Markup)
TEX = Format(escape=latex_escape, math=lambda tex, display: rf"\[ {tex} \]" if display else f"${tex}$",
             strong=r"\textbf{{{}}}", emphasis=r"\emph{{{}}}", code=r"\texttt{{{}}}", link=r"\hyperref[{target}]{{{text}}}",
             paragraph="{}", note="\\noindent\\fbox{{\\parbox{{\\dimexpr\\linewidth-2\\fboxsep-2\\fboxrule}}{{{}}}}}",
             items="\\begin{{itemize}}\\setlength{{\\itemsep}}{{0pt}}\n{}\n\\end{{itemize}}", item=r"\item {}",
             between_blocks="\n\n", safe=LatexSafe)
FORMATS = {"html": HTML, "tex": TEX}

# A number a value may be inside $...$: as Python prints it, 5e-05 included.
NUMBER = re.compile(r"(?P<mantissa>[-+]?(\d+\.?\d*|\.\d+))([eE](?P<exponent>[-+]?\d+))?")
INLINE = re.compile(r"""\ue000(?P<value>\d+)\ue001       # a value (VALUE_START, its index, VALUE_END)
                      | \$(?P<math>[^$]+)\$
                      | \*\*(?P<strong>.+?)\*\*
                      | \*(?P<emphasis>[^*]+)\*
                      | `(?P<code>[^`]+)`
                      | \[(?P<link>[^\]]+)\]\(\#(?P<target>[\w-]+)\)
                      | \\(?P<escaped>[$*`\[\\])""", re.X | re.S)


def convert(words: str, fmt: str, inline: bool = False) -> str:
    """``words`` (rendered from the words' templates, see the module's docstring) in
    ``fmt`` ("html" or "tex"), marked safe for that format's layout. ``inline``: one run
    of text without paragraph markup, for captions and table cells."""
    markup, values = FORMATS[fmt], []

    def by_index(match):  # the markup is parsed with each value out of the way
        values.append(match.group(1))
        return f"{VALUE_START}{len(values) - 1}{VALUE_END}"

    words = VALUE.sub(by_index, str(words)).strip()
    blocks = [block.strip() for block in re.split(r"\n[ \t]*\n", words) if block.strip()]
    if inline:
        if len(blocks) > 1:
            raise ValueError(f"a phrase or caption is one paragraph: {words!r}")
        return markup.safe(run(words, values, markup))
    return markup.safe(markup.between_blocks.join(block_markup(block, values, markup) for block in blocks))


def block_markup(block: str, values: list, markup: Format) -> str:
    """One paragraph, displayed equation, list or note."""
    if block.startswith("$$"):
        if not block.endswith("$$"):
            raise ValueError(f"a displayed equation is a whole paragraph $$...$$: {block!r}")
        return markup.math(equation(block[2:-2].strip(), values), True)
    if block.startswith("- "):
        items = [run(item.strip(), values, markup) for item in re.split(r"^- ", block, flags=re.M) if item.strip()]
        return markup.items.format("\n".join(markup.item.format(item) for item in items))
    if block.startswith("> "):
        return markup.note.format(run(re.sub(r"^> ?", "", block, flags=re.M), values, markup))
    return markup.paragraph.format(run(block, values, markup))


def run(text: str, values: list, markup: Format) -> str:
    """A run of text with its inline elements (equations, bold, emphasis, code, links)."""
    out, start = [], 0
    for match in INLINE.finditer(text):
        out.append(plain(text[start:match.start()], markup))
        start = match.end()
        kind = match.lastgroup if match.lastgroup != "target" else "link"
        content = match.group(kind)
        if kind == "value":
            out.append(markup.escape(values[int(content)]))
        elif kind == "math":
            out.append(markup.math(equation(content, values), False))
        elif kind == "code":
            out.append(markup.code.format(markup.escape(VALUE.sub(lambda m: values[int(m.group(1))], content))))
        elif kind == "link":
            out.append(markup.link.format(target=match.group("target"), text=run(content, values, markup)))
        elif kind == "escaped":
            out.append(markup.escape(content))
        else:
            out.append(getattr(markup, kind).format(run(content, values, markup)))
    return "".join(out) + plain(text[start:], markup)


def equation(tex: str, values: list) -> str:
    """An equation's TeX with its values put back: numbers only, in e-notation written as a
    power of ten."""
    def put_back(match):
        value = values[int(match.group(1))]
        number = NUMBER.fullmatch(value)
        if not number:
            raise ValueError(f"only a number can stand inside $...$, not {value!r}")
        if number["exponent"] is None:
            return value
        # 5e-05 -> 5 \times 10^{-5}: TeX would read the e as a variable.
        return rf"{number['mantissa']} \times 10^{{{int(number['exponent'])}}}"

    return VALUE.sub(put_back, tex)


def plain(text: str, markup: Format) -> str:
    """Text between inline elements; a lone $ is a typo in the words."""
    if "$" in text:
        raise ValueError(f"an unmatched $ (write \\$ for a dollar sign): {text!r}")
    return markup.escape(text)


class Macros:
    """The macros of the words' templates as a layout sees them: ``text.setup()`` calls
    the macro ``setup`` and returns its words in the layout's format."""

    def __init__(self, modules, fmt: str, inline: bool):
        self.macros = {}
        for module in modules:
            for name, macro in vars(module).items():
                if isinstance(macro, jinja2.runtime.Macro):
                    if name in self.macros:
                        raise ValueError(f"two pieces of text are called {name!r}")
                    self.macros[name] = macro
        self.fmt, self.inline = fmt, inline

    def __getattr__(self, name):
        if name.startswith("_") or name not in self.__dict__.get("macros", {}):
            raise AttributeError(f"no piece of text called {name!r}")
        macro = self.macros[name]
        return lambda *args, **kwargs: convert(macro(*args, **kwargs), self.fmt, self.inline)


def is_finite(value) -> bool:
    """Jinja's test ``is finite``: a table's missing value (NaN), such as a comparator's row at
    the notebook's λ or an interval from too few seeds, is not."""
    return isinstance(value, (int, float)) and math.isfinite(value)


def words_environment(templates: str) -> jinja2.Environment:
    """The Jinja2 environment of the words (``*.text.j2``, ``captions/*.rst``)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(templates), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, finalize=mark_value)
    # |words: a macro's output placed in other words stays words (its values are marked already).
    env.filters.update(num=number, signed=signed, pct=percent, sci=scientific, words=BuiltMarkup)
    env.tests["finite"] = is_finite
    return env


def layout_words(fmt: str, templates: str, values: dict) -> dict:
    """What a layout of ``fmt`` uses to place the words, rendered with ``values``:
    ``text`` (paragraphs), ``phrase`` (one run of text each) and ``caption(figure)``."""
    env = words_environment(templates)
    module = lambda name: env.get_template(name).make_module(vars=values)  # noqa: E731

    def caption(name: str) -> str:
        """A figure's caption: its reStructuredText file, which Snakemake's report shows too."""
        return convert(env.get_template(f"captions/{name}.rst").render(values), fmt, inline=True)

    return dict(text=Macros([module(name) for name in TEXT_FILES], fmt, inline=False),
                phrase=Macros([module(PHRASE_FILE)], fmt, inline=True), caption=caption)


# --------------------------------------------------------------------------- the layouts
def environment(fmt: str, templates: str) -> jinja2.Environment:
    """The Jinja2 environment of ``fmt``'s layouts ("html" or "tex") over the folder ``templates``."""
    common = dict(loader=jinja2.FileSystemLoader(templates), undefined=jinja2.StrictUndefined, trim_blocks=True,
                  lstrip_blocks=True, keep_trailing_newline=True)
    if fmt == "html":
        env = jinja2.Environment(autoescape=True, **common)
    else:
        env = jinja2.Environment(block_start_string=r"\BLOCK{", block_end_string="}",
                                 variable_start_string=r"\VAR{", variable_end_string="}",
                                 comment_start_string=r"\#{", comment_end_string="}", autoescape=False,
                                 finalize=tex_finalize, **common)
        # A layout's macro returns LaTeX whose values are escaped already: it prints with |safe.
        env.filters["safe"] = LatexSafe
    env.filters.update(num=number, signed=signed, pct=percent)
    env.tests["finite"] = is_finite
    return env


# --------------------------------------------------------------------------- data for the templates
def comparison_view(table: pd.DataFrame) -> dict:
    """A comparison table (see :func:`tables.comparison_table`) as rows of cells; a row
    with ``per_lambda`` summarises the seeds that chose one λ, below its model's row."""
    rows = []
    for _, part in table.groupby("row", sort=False):
        first = part.iloc[0]
        cells = part.to_dict("records")
        rows.append(dict(model=first["model"], label=first["label"], lam="" if pd.isna(first["lam"]) else str(first["lam"]),
                         per_lambda=bool(first["per_lambda"]), n=int(part["n"].max()),
                         n_diverged=int(first["n_diverged"]), n_unconverged=int(first["n_unconverged"]), cells=cells, value={c["metric"]: c["mean"] for c in cells}))
    models = [r for r in rows if not r["per_lambda"]]
    return dict(rows=rows, metrics=list(dict.fromkeys(table["metric"])), has_reference=bool(table["notebook"].notna().any()),
                penalised_labels=[r["label"] for r in models if r["model"] in PENALTY],
                n_diverged=sum(r["n_diverged"] for r in models), per_lambda=len(models) < len(rows),
                # Models whose mean test accuracy exceeds their training accuracy (the words explain why).
                test_above_train=[r for r in models if r["value"]["test_acc"] > r["value"]["train_acc"]])


def fidelity_view(table: pd.DataFrame, notebook_lambdas: dict) -> list:
    """The fidelity table grouped by printed line, in the notebook's order; ``lam``: the
    notebook's λ of a penalised network's line."""
    lines = []
    for model, phase in FIDELITY_LINES:
        part = table[(table["model"] == model) & (table["phase"] == phase)]
        if len(part):
            lines.append(dict(model=model, phase=phase, label=part["label"].iloc[0], rows=part.to_dict("records"),
                              lam=notebook_lambdas[PENALTY[model]] if model in PENALTY else None))
    return lines


def sweep_view(table: pd.DataFrame, cell: dict) -> dict:
    """The sweep table (:func:`normbound.summary.sweep_summary`) as the report shows it:
    the swept keys with their values, the report's ``cell``, and per cell (in the order of
    the values) each model's test accuracy at the chosen λ, then each network's
    ‖W‖_Mix/(√h‖W‖_F) at the notebook's λ (a summary row, or None where the cell has none);
    ``width``: each network's ratio at the smallest and the largest h, where h is swept."""
    after = table[table["phase"] == "after"]
    present = set(zip(after["model"], after["metric"]))
    columns = ([dict(model=m, label=LABELS[m], metric="test_acc") for m in MODELS if (m, "test_acc") in present]
               + [dict(model=m, label=LABELS[m], metric="mix_over_frob") for m in NETWORKS
                  if (m, "mix_over_frob") in present])
    rows = []
    for values, part in after.groupby(list(SWEEP_AXES), sort=True):
        found = {(r["model"], r["metric"]): r for r in part.to_dict("records")}
        rows.append(dict(cell=dict(zip(SWEEP_AXES, values)),
                         summaries=[found.get((c["model"], c["metric"])) for c in columns]))
    axes = [dict(key=key, levels=sorted(table[key].unique())) for key in SWEEP_AXES if table[key].nunique() > 1]
    # Along h (the other keys at the cell's values): each network's ratio at the smallest and largest width.
    ratio = along(after[after["metric"] == "mix_over_frob"], "hidden", cell).sort_values("hidden")
    lines = {model: ratio[ratio["model"] == model] for model in NETWORKS}
    width = [dict(label=LABELS[model], first=line.iloc[0].to_dict(), last=line.iloc[-1].to_dict())
             for model, line in lines.items() if len(line) > 1]
    return dict(axes=axes, cell=cell, rows=rows, columns=columns, width=width,
                accuracy=sum(c["metric"] == "test_acc" for c in columns), seeds=int(after["n"].max()))


# The global certificates of the robustness table, by its metric name.
GLOBAL_CERTIFICATES = ("certified_mix", "certified_spectral", "certified_frob")


def robustness_view(table: pd.DataFrame, gap: pd.DataFrame, paired: pd.DataFrame) -> dict | None:
    """The robustness tables for the templates: ``rows`` (one per model and ε, ``cells`` by
    measure, None where a model has none), the ``measures`` and ``epsilons``, and what the
    words state at the middle ε of the table (``at``: model -> measure -> its summary row;
    ``best_global``: model -> the measure of its largest global certificate; ``gap``:
    model -> certificate -> mean share of the attack's distance; ``paired``: each model
    against NN there, :func:`tables.robustness_paired`). None without robustness results."""
    if table.empty:
        return None
    cells = {(r["model"], r["epsilon"], r["metric"]): r for r in table.to_dict("records")}
    models = list(dict.fromkeys(table["model"]))
    epsilons = sorted(set(table["epsilon"]))
    labels = dict(zip(table["model"], table["label"]))
    lams = dict(zip(table["model"], table["lam"].fillna("")))
    rows = [dict(model=m, label=labels[m], lam=lams[m], epsilon=e, first=i == 0,
                 cells={metric: cells.get((m, e, metric)) for metric in ROBUST_MEASURES.values()})
            for m in models for i, e in enumerate(epsilons)]
    middle = epsilons[len(epsilons) // 2]
    at = {m: {metric: cells[(m, middle, metric)] for metric in ROBUST_MEASURES.values()
              if (m, middle, metric) in cells} for m in models}
    certified = {m: max(GLOBAL_CERTIFICATES, key=lambda c: at[m][c]["mean"]) for m in models
                 if "certified_local" in at[m]}
    measures = [m for m in ROBUST_MEASURES.values() if any(m in cells_at for cells_at in at.values())]
    return dict(rows=rows, measures=measures, epsilons=epsilons, epsilon=middle, at=at,
                labels=labels, lams=lams, best_global=certified,
                gap={m: dict(zip(part["metric"], part["mean"])) for m, part in gap.groupby("model", sort=False)},
                paired=paired[paired["epsilon"] == middle].to_dict("records"))


def findings_view(table: pd.DataFrame) -> list:
    """The findings table (:func:`tables.findings_table`) by question, in order: each
    ``id`` with its ``claims`` (rows), the models' labels added."""
    rows = table.assign(label=table["model"].map(LABELS), other_label=table["other"].map(LABELS))
    return [dict(id=int(question), claims=part.to_dict("records"))
            for question, part in rows.groupby("question", sort=True)]


def data_uri(path: str) -> str:
    with open(path, "rb") as handle:
        return "data:image/png;base64," + base64.b64encode(handle.read()).decode("ascii")


def figure_sources(figures: dict, fmt: str, tex_dir: str) -> dict:
    """``figures``: name -> (pdf, png). HTML embeds the PNG; LaTeX includes the PDF by a
    path relative to the .tex file (the workflow's own path, which includegraphics takes as is)."""
    return {name: data_uri(png) if fmt == "html" else LatexSafe(os.path.relpath(pdf, tex_dir))
            for name, (pdf, png) in figures.items()}


def read_theory(theory: dict):
    """The theory rules' JSON files (name -> path) parsed, or None when there are none."""
    if not theory:
        return None
    parsed = {}
    for name, path in theory.items():
        with open(path) as handle:
            parsed[name] = json.load(handle)
    return parsed


# --------------------------------------------------------------------------- provenance
def git_commit(repo: str) -> str:
    """The commit the code ran from, marked when the checkout has uncommitted changes."""
    try:
        head = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout, or git is not installed)"
    return head.stdout.strip() + (" with uncommitted changes" if dirty.stdout.strip() else "")


def gpu_names() -> list[str]:
    """The GPUs ``nvidia-smi`` lists: asking torch instead would import it (seconds) in a job
    that needs nothing else from it."""
    try:
        listed = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in listed.stdout.splitlines() if line.strip()] if listed.returncode == 0 else []


def hardware() -> dict:
    """The machine that rendered the report (CPU model, cores, memory, GPU)."""
    cpu = io.cpu_model()
    memory = ""
    try:
        with open("/proc/meminfo") as handle:
            kib = next(int(line.split()[1]) for line in handle if line.startswith("MemTotal"))
            memory = f"{kib / 2**20:.1f} GiB"
    except (OSError, StopIteration):
        pass
    return dict(cpu=cpu, cores=os.cpu_count(), memory=memory or "unknown", gpu=", ".join(gpu_names()) or "none",
                system=platform.platform(), python=platform.python_version())


def package_versions() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def benchmark_view(benchmark_dir: str) -> dict:
    """Per-job and per-rule time from Snakemake's ``benchmark:`` files
    (``<dir>/<rule>/<job>.tsv``), and the wall-clock window the jobs ran in."""
    jobs = []
    for path in sorted(glob.glob(os.path.join(benchmark_dir, "*", "*.tsv"))):
        row = pd.read_csv(path, sep="\t").iloc[-1]  # a repeated benchmark appends rows
        end = os.path.getmtime(path)
        jobs.append(dict(rule=os.path.basename(os.path.dirname(path)), job=os.path.splitext(os.path.basename(path))[0],
                         seconds=float(row["s"]), max_rss_mb=float(row["max_rss"]), start=end - float(row["s"]), end=end))
    if not jobs:
        return dict(jobs=[], rules=[], window=None)
    frame = pd.DataFrame(jobs)
    rules = (frame.groupby("rule", sort=False).agg(jobs=("seconds", "size"), total=("seconds", "sum"),
                                                     longest=("seconds", "max"), max_rss_mb=("max_rss_mb", "max"))
             .reset_index().to_dict("records"))
    stamp = lambda t: datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")  # noqa: E731
    window = dict(start=stamp(frame["start"].min()), end=stamp(frame["end"].max()),
                  seconds=frame["end"].max() - frame["start"].min(), total=frame["seconds"].sum())
    return dict(jobs=jobs, rules=rules, window=window)


def cost_view(paths) -> list:
    """The lead's speed measurements (``benchmarks/*.json`` in the repository), as given."""
    runs = []
    for path in sorted(paths):
        with open(path) as handle:
            runs.append({**json.load(handle), "file": os.path.basename(path)})
    return runs


def provenance(config: dict, benchmark_dir: str, repo: str) -> dict:
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    # LaTeX keeps the YAML's indentation as a width per line (verbatim could be ended by user text).
    lines = [dict(indent=len(line) - len(line.lstrip()), text=line.strip()) for line in text.splitlines()]
    return dict(config_yaml=text, config_lines=lines, config_sha256=hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest(),
                commit=git_commit(repo), packages=package_versions(), hardware=hardware(),
                rendered=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
                benchmarks=benchmark_view(benchmark_dir))


# --------------------------------------------------------------------------- rendering
def read_tables(paths: dict) -> dict:
    # λ as written (0.005, not 0.005000000000000001; 0, not 0.0): it is a label here.
    return {name: pd.read_csv(path, dtype={"lam": str}) for name, path in paths.items()}


def context(tabs: dict, config: dict, info: dict, cost: list, theory) -> dict:
    """What every template receives, apart from the format-specific figures and words.
    ``config``: the study's config; the templates' ``config`` is the report cell's view."""
    fidelity = tabs["fidelity"]
    cell = study_config.cells(config)[0]
    config = study_config.cell_config(config, cell)
    return dict(
        sweep=sweep_view(tabs["sweep"], cell) if "sweep" in tabs else None,
        title=config["title"], dataset=config["dataset"]["name"], config=config, provenance=info, cost=cost,
        penalties=list(PENALTY.values()),
        notebook=comparison_view(tabs["comparison_notebook"]), chosen=comparison_view(tabs["comparison_chosen"]),
        paired={choice: part.to_dict("records") for choice, part in tabs["paired_differences"].groupby("lambda_choice", sort=False)},
        selection={row["model"]: row for row in tabs["lambda_selection"].to_dict("records")},
        convergence={row["model"]: row for row in tabs["convergence"].to_dict("records")},
        convergence_failures=int(tabs["convergence"]["not_converged"].sum()),
        fidelity=fidelity_view(fidelity, config["notebook_lambdas"]), drift=findings.fidelity_drift(fidelity),
        fidelity_value={(r["model"], r["phase"], r["metric"]): r for r in fidelity.to_dict("records")},
        settings_differences=tabs["fidelity_settings"].to_dict("records"),
        # A step is a whole number (the CSV holds it as a float: other rows' steps are empty).
        diverged=tabs["diverged"].astype({"diverged_step": int}).to_dict("records"), seeds=config["seeds"],
        theory=theory, confidence=round(100 * CONFIDENCE), min_seeds=MIN_SEEDS, tail_percent=round(100 * TAIL_FRACTION),
        findings=findings_view(tabs["findings"]), schatten_p=SCHATTEN_P,
        robustness=robustness_view(tabs["robustness"], tabs["robustness_gap"], tabs["robustness_paired"]),
        # Figures placed in a section of their own, not in the list of figures.
        section_figures=("robustness_curves",),
    )


def render(fmt: str, ctx: dict, figures: dict, theory_figures: dict, templates: str, out: str,
           sweep_figures=None) -> None:
    """Write the report in ``fmt`` ("html" or "tex") to ``out``."""
    tex_dir = os.path.dirname(os.path.abspath(out))
    sources = lambda files: figure_sources(files, fmt, tex_dir)  # noqa: E731
    text = environment(fmt, templates).get_template(f"report.{fmt}.j2").render(
        **ctx, **layout_words(fmt, templates, ctx), figures=sources(figures), theory_figures=sources(theory_figures),
        sweep_figures=sources(sweep_figures or {}))
    io.write_text(out, text)


def make_report(table_paths: dict, figures: dict, theory: dict, theory_figures: dict, config: dict,
                templates: str, benchmark_dir: str, cost_files, html: str, tex: str, sweep_figures=None) -> None:
    """Render both formats. ``figures``, ``theory_figures``, ``sweep_figures``: name ->
    (pdf, png); ``theory``: name -> JSON path (may be empty); ``cost_files``:
    benchmarks/*.json (may be empty); ``templates``: the folder of the Jinja2 templates
    and captions."""
    ctx = context(read_tables(table_paths), config, provenance(config, benchmark_dir, templates),
                  cost_view(cost_files), read_theory(theory))
    for fmt, out in (("html", html), ("tex", tex)):
        render(fmt, ctx, figures, theory_figures, templates, out, sweep_figures)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", required=True, help="folder of the tables (<name>.csv)")
    parser.add_argument("--figures", required=True, help="folder of the figures (<name>.pdf, <name>.png)")
    parser.add_argument("--theory", required=True, help="folder of the theory outputs")
    parser.add_argument("--benchmarks", required=True, help="folder of Snakemake's benchmark files")
    parser.add_argument("--templates", default="report", help="templates and captions (default: report)")
    parser.add_argument("--html", required=True, help="output: report.html")
    parser.add_argument("--tex", required=True, help="output: report.tex")
    study_config.add_config_arguments(parser)
    args = parser.parse_args(argv)

    def found(folder, ext):
        return sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(folder, f"*.{ext}")))

    pairs = lambda folder: files_in(folder, found(folder, "png"))  # noqa: E731
    # The sweep section's figures are those whose names start with "sweep" (workflow/rules/common.smk).
    figures = pairs(args.figures)
    make_report({n: f"{args.tables}/{n}.csv" for n in found(args.tables, "csv")},
                {n: f for n, f in figures.items() if not n.startswith("sweep")},
                {n: f"{args.theory}/{n}.json" for n in found(args.theory, "json")}, pairs(args.theory),
                study_config.load_config(args.config, args.schema), args.templates, args.benchmarks,
                glob.glob("benchmarks/*.json"), args.html, args.tex,
                {n: f for n, f in figures.items() if n.startswith("sweep")})


if __name__ == "__main__":
    if "snakemake" in globals():
        io.setup_logging(snakemake.log[0])
        inp, par = snakemake.input, snakemake.params
        figures = figure_outputs(inp)
        make_report({n: inp[n] for n in par.tables}, {n: figures[n] for n in par.figures},
                    {n: inp[n] for n in par.theory}, {n: figures[n] for n in par.theory_figures},
                    par.config, par.templates, par.benchmarks, inp.cost, snakemake.output.html, snakemake.output.tex,
                    {n: figures[n] for n in par.sweep_figures})
    else:
        main()
