"""Measure the report's markup converter against maintained libraries, on the report's own words.

The words are what the macros of ``report/*.text.j2`` and ``report/captions/*.rst`` render
for a real study, before ``normbound.report.markup.convert`` turns them into HTML or LaTeX. This script
collects every string passed to ``convert`` while ``scripts/make_report.py`` renders a
finished study, then converts all of them with each route:

- ``today``: ``normbound.report.markup.convert`` (MathML from latex2mathml, ``normbound/report/equations.py``);
- ``pandoc``: pandoc through ``pypandoc-binary`` (``--mathml`` for HTML, its LaTeX writer),
  once per piece (one subprocess each) and once for all pieces of a format (one subprocess);
- ``markdown-it``: ``markdown-it-py`` with the ``dollarmath`` plugin of ``mdit-py-plugins``
  for HTML (MathML from latex2mathml, as today), and for LaTeX a renderer of its tokens
  written here (markdown-it has none).

It prints, per route and format: the render time of the whole report's words, the lines of
project code the route needs, how many pieces come out as today's do (outside the
equations), and checks of the constructs the words rely on. Written for docs/markup.md.

Usage, from the repository root (the project's environment plus ``pypandoc-binary``,
``markdown-it-py`` and ``mdit-py-plugins``)::

    python benchmarks/markup.py collect STUDY words.json   # STUDY: a finished study's folder
    python benchmarks/markup.py measure words.json [--repeat 3] [--out DIR --study STUDY]
    python benchmarks/markup.py diff words.json pandoc|markdown-it html|tex   # the pieces that differ

``collect`` runs make_report on STUDY's ``results/`` and config.yaml (the report it writes
goes to a temporary folder) and stores each piece as {"words", "fmt", "inline", "out"}.
``measure --out DIR --study STUDY`` also writes the whole report converted by each candidate
(``DIR/<route>/report.html`` and ``report.tex``) to look at and to compile.
"""

import argparse
import html
import glob
import inspect
import json
import os
import re
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "scripts"))

import make_report  # noqa: E402
from normbound.report import equations, escape, markup  # noqa: E402
from normbound.report.markup import VALUE, VALUE_END, VALUE_START  # noqa: E402


# --------------------------------------------------------------------------- collecting the words
def render_study(study: str, folder: str) -> None:
    """make_report on ``study``'s results and config.yaml, writing report.html and report.tex to ``folder``."""
    results, cwd = os.path.join(study, "results"), os.getcwd()
    os.chdir(REPO)  # make_report reads benchmarks/*.json (the Cost section) from here
    try:
        make_report.main(["--tables", f"{results}/tables", "--figures", f"{results}/figures",
                          "--theory", f"{results}/theory", "--benchmarks", *glob.glob(f"{results}/benchmarks/*/*.tsv"),
                          "--templates", os.path.join(REPO, "report"), "--config", f"{study}/config.yaml",
                          "--html", f"{folder}/report.html", "--tex", f"{folder}/report.tex"])
    finally:
        os.chdir(cwd)


def collect(study: str, out: str) -> None:
    """Render ``study``'s report with ``convert`` recorded; write the pieces to ``out``."""
    pieces, convert = [], markup.convert

    def recording(words, fmt, inline=False):
        result = convert(words, fmt, inline)
        pieces.append(dict(words=str(words), fmt=fmt, inline=inline, out=str(result)))
        return result

    markup.convert = recording
    try:
        with tempfile.TemporaryDirectory() as tmp:
            render_study(study, tmp)
    finally:
        markup.convert = convert
    with open(out, "w") as handle:
        json.dump(pieces, handle, ensure_ascii=False, indent=0)
    print(f"{len(pieces)} pieces ({sum(p['fmt'] == 'html' for p in pieces)} HTML) -> {out}")


# --------------------------------------------------------------------------- shared by the candidates
# A candidate parses the words with each value replaced by a placeholder (its index between
# VALUE_START and VALUE_END, private-use characters that no Markdown reads), and puts the
# value back, escaped for the format, into its output: a value is never read as markup.
# Inside an equation the value goes back into the TeX first (markup.equation: a plain
# number, e-notation as a power of ten).
PLACEHOLDER = re.compile(f"{VALUE_START}(\\d+){VALUE_END}")


def take_values(words: str):
    """``words`` with its values replaced by placeholders, and the values."""
    values = []

    def by_index(match):
        values.append(match.group(1))
        return f"{VALUE_START}{len(values) - 1}{VALUE_END}"

    return VALUE.sub(by_index, words).strip(), values


def keep_placeholders(escape, text: str) -> str:
    """``escape`` applied to ``text`` around its placeholders."""
    return "".join(part if PLACEHOLDER.fullmatch(part) else escape(part)
                   for part in re.split(f"({VALUE_START}\\d+{VALUE_END})", text))


def put_values(text: str, values: list, fmt: str) -> str:
    """The rendered ``text`` with each placeholder replaced by its value, escaped for ``fmt``."""
    return PLACEHOLDER.sub(lambda m: markup.FORMATS[fmt].escape(values[int(m.group(1))]), text)


# --------------------------------------------------------------------------- candidate: pandoc
# The words' own dialect: pandoc's Markdown without the extensions that would read the
# words differently from today (smart quotes, raw HTML/TeX, citations, sub/superscripts,
# lettered lists such as "(a) ...").
PANDOC_READER = ("markdown-smart-raw_html-raw_tex-raw_attribute-citations-subscript-superscript"
                 "-fancy_lists-example_lists")
# A boxed note ("> "): the HTML layout styles .box, the LaTeX one wants today's \fbox.
PANDOC_FILTER = r"""
function BlockQuote(quote)
  if FORMAT == "latex" then
    return {pandoc.RawBlock("latex", "\\noindent\\fbox{\\parbox{\\dimexpr\\linewidth-2\\fboxsep-2\\fboxrule}{"),
            pandoc.Div(quote.content), pandoc.RawBlock("latex", "}}")}
  end
  return pandoc.Div(quote.content, {class = "box"})
end
"""
# An equation: pandoc does not see the placeholders' values, so they go into the TeX before
# pandoc reads the words; this finds the equations as pandoc does in these words (outside
# code, a $ not escaped).
PANDOC_MATH = re.compile(r"`[^`]*`|\\.|\$\$.+?\$\$|\$[^$\s](?:[^$]*[^$\s])?\$", re.S)
PIECE_BREAK = "\ue002"  # a paragraph of its own between the pieces of one batched call


def pandoc_source(words: str):
    """The Markdown pandoc reads for ``words``, and the values outside equations."""
    words, values = take_values(words)

    def math(match):
        token = match.group(0)
        return markup.equation(token, values) if token.startswith("$") else token

    return PANDOC_MATH.sub(math, words), values


def pandoc_finish(text: str, values: list, fmt: str, inline: bool) -> str:
    """pandoc's output of one piece, as convert() returns it."""
    text = text.strip()
    if inline and fmt == "html":
        text = re.sub(r"^<p>(.*)</p>$", r"\1", text, flags=re.S)
    if fmt == "tex":  # pdfLaTeX reads ASCII and Latin-1: the rest as escape.latex_escape writes it
        text = "".join(escape.LATEX_UNICODE.get(c, c) for c in re.sub(r"\\textquotesingle(\{\}| )", "'", text))
    return put_values(text, values, fmt)


def pandoc_run(source: str, fmt: str, filter_path: str) -> str:
    import pypandoc

    extra = ["--mathml"] if fmt == "html" else []
    return pypandoc.convert_text(source, "html" if fmt == "html" else "latex", format=PANDOC_READER,
                                 extra_args=["--wrap=preserve", f"--lua-filter={filter_path}", *extra])


def pandoc_each(pieces: list, fmt: str, filter_path: str) -> list:
    """One pandoc call per piece."""
    out = []
    for piece in pieces:
        source, values = pandoc_source(piece["words"])
        out.append(pandoc_finish(pandoc_run(source, fmt, filter_path), values, fmt, piece["inline"]))
    return out


def pandoc_batch(pieces: list, fmt: str, filter_path: str) -> list:
    """One pandoc call for all ``pieces``, split at the paragraphs PIECE_BREAK."""
    sources = [pandoc_source(piece["words"]) for piece in pieces]
    text = pandoc_run(f"\n\n{PIECE_BREAK}\n\n".join(source for source, _ in sources), fmt, filter_path)
    parts = re.split(f"\\n?(?:<p>)?{PIECE_BREAK}(?:</p>)?\\n?", text)
    if len(parts) != len(pieces):
        raise ValueError(f"pandoc's batched output has {len(parts)} pieces, not {len(pieces)}")
    return [pandoc_finish(part, values, fmt, piece["inline"])
            for part, (_, values), piece in zip(parts, sources, pieces)]


# --------------------------------------------------------------------------- candidate: markdown-it-py
def markdown_it():
    """A parser of the words (only the rules they use: no HTML, headings, tables, ...) with
    today's HTML for equations (MathML, the values put back) and boxed notes."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    md = MarkdownIt("zero").enable(["emphasis", "backticks", "link", "escape", "list", "blockquote"])
    md.use(dollarmath_plugin, allow_labels=False, allow_space=False, allow_digits=False, double_inline=True)

    def math(display):
        return lambda self, tokens, i, options, env: equations.mathml(
            markup.equation(tokens[i].content.strip(), env["values"]), display)

    md.add_render_rule("math_inline", math(False))
    md.add_render_rule("math_inline_double", math(True))
    md.add_render_rule("math_block", math(True))
    md.add_render_rule("blockquote_open", lambda self, tokens, i, options, env: '<div class="box">\n')
    md.add_render_rule("blockquote_close", lambda self, tokens, i, options, env: "</div>\n")
    return md


class TexRenderer:
    """markdown-it's tokens as LaTeX, as markup.TEX writes each element."""

    TAGS = {"paragraph": ("", "\n\n"), "strong": (r"\textbf{", "}"), "em": (r"\emph{", "}"),
            "bullet_list": ("\\begin{itemize}\\setlength{\\itemsep}{0pt}\n", "\\end{itemize}\n\n"),
            "list_item": (r"\item ", "\n"),
            "blockquote": ("\\noindent\\fbox{\\parbox{\\dimexpr\\linewidth-2\\fboxsep-2\\fboxrule}{", "}}\n\n")}

    def __init__(self, values):
        self.values = values

    def render(self, tokens) -> str:
        out = []
        for token in tokens:
            kind, _, side = token.type.rpartition("_")
            if kind in self.TAGS and side in ("open", "close"):
                if not (kind == "paragraph" and token.hidden):  # a tight list's items
                    out.append(self.TAGS[kind][side == "close"])
            elif token.type == "link_open":
                out.append(rf"\hyperref[{token.attrs['href'].lstrip('#')}]{{")
            elif token.type == "link_close":
                out.append("}")
            elif token.type == "inline":
                out.append(self.render(token.children))
            elif token.type in ("math_inline", "math_inline_double", "math_block"):
                tex = markup.equation(token.content.strip(), self.values)
                out.append(f"${tex}$" if token.type == "math_inline" else rf"\[ {tex} \]" + "\n\n")
            elif token.type == "code_inline":
                out.append(r"\texttt{" + keep_placeholders(escape.latex_escape, token.content) + "}")
            elif token.type == "softbreak":
                out.append("\n")
            elif token.type == "text":
                out.append(keep_placeholders(escape.latex_escape, token.content))
            else:
                raise ValueError(f"no LaTeX for markdown-it's {token.type}")
        return "".join(out)


def markdown_it_convert(md, words: str, fmt: str, inline: bool) -> str:
    """``words`` as convert() returns them, through markdown-it."""
    words, values = take_values(words)
    if fmt == "tex":
        tokens = md.parseInline(words) if inline else md.parse(words)
        text = TexRenderer(values).render(tokens)
    else:
        text = md.renderInline(words, {"values": values}) if inline else md.render(words, {"values": values})
    return put_values(text.strip(), values, fmt)


# --------------------------------------------------------------------------- measuring
def code_lines(*objects) -> int:
    """Lines of code of ``objects`` (functions, classes, or strings of code): neither blank
    nor comments."""
    total = 0
    for obj in objects:
        source = obj if isinstance(obj, str) else inspect.getsource(obj)
        total += sum(1 for line in source.splitlines() if line.strip() and not line.strip().startswith(("#", "--")))
    return total


def today_lines() -> int:
    """the converter (class Format to function plain, constants included) and equations.py's mathml."""
    source = inspect.getsource(markup)
    start, end = source.index("@dataclasses.dataclass(frozen=True)\nclass Format"), source.index("class Macros")
    return code_lines(source[start:end], equations.mathml)


ROUTE_LINES = {
    # the constants and functions each candidate needs beyond what every route shares (the
    # values' marking, mark_value; the Macros; markup.equation and the escapes, kept)
    "pandoc": lambda: code_lines(f"PANDOC_READER = {PANDOC_READER!r}", PANDOC_FILTER,
                                 "PANDOC_MATH = ...\nPIECE_BREAK = ...", take_values, put_values, pandoc_source,
                                 pandoc_finish, pandoc_run, pandoc_batch),
    "markdown-it": lambda: code_lines(take_values, keep_placeholders, put_values, markdown_it, TexRenderer,
                                      markdown_it_convert,
                                      equations.mathml),
}


def outside_math(text: str) -> str:
    """``text`` with equations cut out, character references read and white space
    collapsed, to compare the prose (&#39; and ' are the same text)."""
    text = re.sub(r"<math\b.*?</math>", "[math]", text, flags=re.S)
    text = re.sub(r"\\\[.*?\\\]|\\\(.*?\\\)|\$[^$]+\$", "[math]", text, flags=re.S)
    # layout only: a displayed equation in <p> or not, a tight list's spacing
    text = html.unescape(re.sub(r"\\tightlist|\\setlength\{\\itemsep\}\{0pt\}|<p>\s*(\[math\])\s*</p>", r"\1", text))
    text = re.sub(r"\s+", " ", re.sub(r"\s*\[math\]\s*", " [math] ", text)).strip()
    # the same character or box, spelt another way by pandoc or markdown-it
    for theirs, ours in EQUIVALENT:
        text = re.sub(theirs, ours, text)
    return text


EQUIVALENT = [(r"\\_", r"{\\ttfamily\\char95}"), (r"\{\[\}", "["), (r"\{\]\}", "]"), (r"\\ldots\{\}", r"\\dots{}"),
              (r"\\ ", " "), (r"\\\^\{\}", r"{\\ttfamily\\char94}"),
              (r"\\textasciitilde(\{\}| ?)", r"{\\ttfamily\\char126}"),
              (r'<div class="box"> <p>(.*?)</p> </div>', r'<p class="box">\1</p>'),
              (r"\{ ", "{"), (r" \}\}", "}}")]


def checks(pieces: list, outputs: list, fmt: str) -> dict:
    """Counts of the constructs the words rely on, for one route's ``outputs``."""
    joined = "\n".join(outputs)
    found = dict(
        pieces=len(outputs),
        same_as_today=sum(outside_math(o) == outside_math(p["out"]) for o, p in zip(outputs, pieces)),
        equations=len(re.findall(r"<math\b", joined)) if fmt == "html" else
        len(re.findall(r"\\\[|\\\(|(?<!\\)\$[^$]+\$", joined)),
        tex_left_in_mathml=sum("\\" in re.sub(r"<annotation\b.*?</annotation>", "", m, flags=re.S)
                               for m in re.findall(r"<math\b.*?</math>", joined, re.S)) if fmt == "html" else 0,
        links=len(re.findall(r'href="#' if fmt == "html" else r"\\hyperref\[", joined)),
        notes=len(re.findall(r'class="box"' if fmt == "html" else r"\\fbox\{", joined)),
        lists=len(re.findall(r"<ul>" if fmt == "html" else r"\\begin\{itemize\}", joined)),
        powers_of_ten=len(re.findall(r"<mn>10</mn>" if fmt == "html" else r"10\^\{", joined)),
    )
    # every value outside an equation prints as itself
    missing = 0
    for piece, out in zip(pieces, outputs):
        text = html.unescape(re.sub(r"<[^>]+>", "", out)) if fmt == "html" else out
        for value in VALUE.findall(piece["words"]):
            shown = value if fmt == "html" else escape.latex_escape(value)
            if value and not markup.NUMBER.fullmatch(value) and shown not in text:
                missing += 1
    found["values_not_shown"] = missing
    return found


V = markup.mark_value
# Constructs the words rely on, beyond this study's words; each with what its HTML must hold.
CONSTRUCTS = [
    ("value with markup", f"Title: {V('*a* $5 `b` [x](#y) <i> _c')}", "*a* $5 `b` [x](#y) &lt;i&gt; _c"),
    ("e-notation in math", f"$\\lambda = {V(5e-05)}$", "<mn>10</mn>"),
    ("value in code", f"`{V('lr_schedule: *')}`", "<code>lr_schedule: *</code>"),
    ("link to an anchor", "see [the findings](#findings)", '<a href="#findings">the findings</a>'),
    ("boxed note", "> A note with $x$\n> on two lines", 'class="box"'),
    ("escaped characters", "costs \\$5 and \\*stars\\*", "costs $5 and *stars*"),
    ("line starting (a)", "Panels:\n(a) left,\n(b) right", "(a) left"),
    ("line starting 1.", "The step count is\n1. Then more", "1. Then"),
    ("line starting + or *", "Grad\n+ Frob\n* Mix", "+ Frob"),
    ("line starting #", "Columns\n#1 and #2", "#1 and #2"),
]


def constructs(filter_path: str) -> None:
    """Print whether each route's HTML of CONSTRUCTS holds what it must."""
    md = markdown_it()
    routes = {"today": lambda w: str(markup.convert(w, "html")),
              "pandoc": lambda w: pandoc_each([dict(words=w, inline=False)], "html", filter_path)[0],
              "markdown-it": lambda w: markdown_it_convert(md, w, "html", False)}
    for name, words, expected in CONSTRUCTS:
        row = []
        for route, convert in routes.items():
            try:
                out = convert(words)
                row.append(f"{route} {'ok' if expected in out else 'WRONG ' + repr(out[:120])}")
            except Exception as error:
                row.append(f"{route} ERROR {str(error)[:80]!r}")
        print(f"{name:22} " + " | ".join(row))


def timed(function, repeat: int):
    """The fastest of ``repeat`` runs of ``function()`` (seconds), and its result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def measure(words_path: str, repeat: int, out_dir: str | None, study: str | None) -> None:
    with open(words_path) as handle:
        pieces = json.load(handle)
    filter_path = os.path.join(tempfile.mkdtemp(), "box.lua")
    with open(filter_path, "w") as handle:
        handle.write(PANDOC_FILTER)
    import markdown_it as mdit_module
    import mdit_py_plugins
    import pypandoc
    print(f"{len(pieces)} pieces from {words_path}; pandoc {pypandoc.get_pandoc_version()}, markdown-it-py "
          f"{mdit_module.__version__}, mdit-py-plugins {mdit_py_plugins.__version__}")
    print(f"lines of project code: today {today_lines()}, pandoc {ROUTE_LINES['pandoc']()}, "
          f"markdown-it {ROUTE_LINES['markdown-it']()}")
    routes = {
        "today": lambda ps, fmt: [str(markup.convert(p["words"], fmt, p["inline"])) for p in ps],
        "pandoc (a call per piece)": lambda ps, fmt: pandoc_each(ps, fmt, filter_path),
        "pandoc (one call)": lambda ps, fmt: pandoc_batch(ps, fmt, filter_path),
        "markdown-it": lambda ps, fmt: (lambda md: [markdown_it_convert(md, p["words"], fmt, p["inline"])
                                                     for p in ps])(markdown_it()),
    }
    constructs(filter_path)
    for fmt in ("html", "tex"):
        ps = [p for p in pieces if p["fmt"] == fmt]
        for name, route in routes.items():
            times = repeat if "per piece" not in name else 1
            try:
                best, median, outputs = timed(lambda: route(ps, fmt), times)
            except Exception as error:  # a route that cannot convert the words: say why
                print(f"{fmt:4} {name:26} FAILED: {type(error).__name__}: {str(error)[:300]}")
                continue
            print(f"{fmt:4} {name:26} {best * 1000:9.1f} ms (best of {times}, median {median * 1000:.1f}) "
                  f"{json.dumps(checks(ps, outputs, fmt))}")
    if out_dir and study:
        write_reports(out_dir, study, filter_path)


def differences(words_path: str, route: str, fmt: str, limit: int) -> None:
    """Print the pieces whose prose ``route`` converts differently from today."""
    with open(words_path) as handle:
        pieces = [p for p in json.load(handle) if p["fmt"] == fmt]
    filter_path = os.path.join(tempfile.mkdtemp(), "box.lua")
    with open(filter_path, "w") as handle:
        handle.write(PANDOC_FILTER)
    md = markdown_it()
    outputs = (pandoc_batch(pieces, fmt, filter_path) if route == "pandoc" else
               [markdown_it_convert(md, p["words"], fmt, p["inline"]) for p in pieces])
    shown = 0
    for piece, out in zip(pieces, outputs):
        ours, theirs = outside_math(piece["out"]), outside_math(out)
        if ours != theirs and shown < limit:
            shown += 1
            at = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
            print(f"--- words: {piece['words'][:200]!r}\n    today: ...{ours[max(0, at - 80):at + 120]!r}\n"
                  f"    {route}: ...{theirs[max(0, at - 80):at + 120]!r}")


def write_reports(out_dir: str, study: str, filter_path: str) -> None:
    """The report as each candidate converts it: make_report run again on ``study`` with
    convert replaced by the candidate (pandoc: a call per piece)."""
    md = markdown_it()
    candidates = {
        "pandoc": lambda words, fmt, inline: pandoc_each([dict(words=str(words), inline=inline)], fmt, filter_path)[0],
        "markdown-it": lambda words, fmt, inline: markdown_it_convert(md, str(words), fmt, inline)}
    original = markup.convert
    for name, candidate in candidates.items():
        markup.convert = lambda words, fmt, inline=False, candidate=candidate: markup.FORMATS[fmt].safe(
            candidate(words, fmt, inline))
        folder = os.path.join(out_dir, name)
        os.makedirs(folder, exist_ok=True)
        try:
            render_study(study, folder)
        finally:
            markup.convert = original
        print(f"wrote {folder}/report.html and report.tex")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    c = commands.add_parser("collect", help="collect the words of STUDY's report")
    c.add_argument("study")
    c.add_argument("out")
    m = commands.add_parser("measure", help="time and check every route on the collected words")
    m.add_argument("words")
    m.add_argument("--repeat", type=int, default=3)
    m.add_argument("--out", help="write each candidate's report here (with --study)")
    m.add_argument("--study", help="the study the words came from (for --out)")
    d = commands.add_parser("diff", help="show pieces a candidate converts differently from today")
    d.add_argument("words")
    d.add_argument("route", choices=["pandoc", "markdown-it"])
    d.add_argument("fmt", choices=["html", "tex"])
    d.add_argument("--limit", type=int, default=10)
    args = parser.parse_args(argv)
    if args.command == "collect":
        collect(os.path.abspath(args.study), args.out)
    elif args.command == "measure":
        measure(args.words, args.repeat, args.out, args.study and os.path.abspath(args.study))
    else:
        differences(args.words, args.route, args.fmt, args.limit)


if __name__ == "__main__":
    main()
