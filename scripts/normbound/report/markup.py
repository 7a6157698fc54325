"""The words of the report, written once for both formats, and their conversion.

The words are Markdown-like text with TeX math, as in a Jupyter notebook: blank lines
separate paragraphs; ``$...$`` is an equation in the text, and a paragraph ``$$...$$`` a
displayed one; ``**bold**``, ``*emphasis*``, code between backquotes, ``[text](#anchor)``
(a link to a section: an HTML id, a LaTeX label); lines starting with ``- `` make a
list, with ``> `` a boxed note; a backslash before ``$ * ` [ \\`` prints the character
itself. Equations become MathML in HTML (:mod:`.equations`, drawn offline) and stay TeX
in LaTeX. docs/markup.md says why this small converter is kept rather than a library.

In the words, a value (``{{ ... }}``) is never read as markup, and inside ``$...$`` it
must be a number (e-notation prints as a power of ten).
"""

import dataclasses
import re
from typing import Callable

import jinja2
import markupsafe

from normbound import lam_text

from ..penalties import PENALTIES
from . import equations
from .escape import is_finite, latex_escape, LatexSafe, number, percent, signed, tex_finalize

# The words of the report: paragraphs (each a macro), and phrases (captions, headings, cells).
TEXT_FILES = ("report.text.j2", "theory.text.j2")
PHRASE_FILE = "phrases.text.j2"


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



def words_environment(templates: str) -> jinja2.Environment:
    """The Jinja2 environment of the words (``*.text.j2``, ``captions/*.rst``)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(templates), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, finalize=mark_value)
    # |words: a macro's output placed in other words stays words (its values are marked already).
    env.filters.update(num=number, signed=signed, pct=percent, sci=scientific, words=BuiltMarkup, lam=lam_text)
    env.tests["finite"] = is_finite
    # Each penalised model's words (normbound.penalties): the templates type none.
    env.globals["penalty_words"] = {p.model: dict(key=p.key, label=p.label, name=p.name, tex=p.tex, notebook=p.notebook)
                                    for p in PENALTIES.values()}
    return env


def layout_words(fmt: str, templates: str, values: dict) -> dict:
    """What a layout of ``fmt`` uses to place the words, rendered with ``values``:
    ``text`` (paragraphs), ``phrase`` (one run of text each), ``caption(figure)`` and
    ``prose(words)``, a run of words given in code (:class:`.blocks.Prose`)."""
    env = words_environment(templates)
    module = lambda name: env.get_template(name).make_module(vars=values)  # noqa: E731

    def caption(name: str) -> str:
        """A figure's caption: its reStructuredText file, which Snakemake's report shows too."""
        return convert(env.get_template(f"captions/{name}.rst").render(values), fmt, inline=True)

    return dict(text=Macros([module(name) for name in TEXT_FILES], fmt, inline=False),
                phrase=Macros([module(PHRASE_FILE)], fmt, inline=True), caption=caption,
                prose=lambda words: convert(words, fmt, inline=True))


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
    env.filters.update(num=number, signed=signed, pct=percent, lam=lam_text)
    env.tests["finite"] = is_finite
    return env
