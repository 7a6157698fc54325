"""The pieces a report's section is made of: paragraphs of the words, headings, figures,
warning boxes and tables. Each is drawn by one macro per format (``report/blocks.html.j2``,
``report/blocks.tex.j2``), so that a table is declared once, here, and not per layout.

A table is its caption, its heading rows and its groups of rows; a cell is lines of
parts. Values arrive formatted (:mod:`.escape`'s ``number``, ``signed``) and print as
text; a :class:`Words` part (a heading or caption with an equation) is a phrase of
``phrases.text.j2``, which each layout converts to its format, and :class:`Prose` a run of
the same markup written in code. ``cls`` names what a part
or line is (``mean``, ``ci-low``, ...): the HTML's class, which the tests read, and the
LaTeX macro's style (``ci`` grey, ``reference`` blue, ``warn`` a superscript note).
"""

import dataclasses

from .escape import number, signed


@dataclasses.dataclass(frozen=True)
class Words:
    """A phrase of the words, ``phrase.<name>(*args)`` in the layout."""

    name: str
    args: tuple = ()


def words(name: str, *args) -> Words:
    return Words(name, args)


@dataclasses.dataclass(frozen=True)
class Prose:
    """A run of the words written beside the block it belongs to (a table's caption), in
    the words' markup, without values: for a table declared in one place."""

    prose: str


@dataclasses.dataclass
class Part:
    text: object  # a str (printed as it is) or Words
    cls: str = ""


@dataclasses.dataclass
class Line:
    parts: list
    cls: str = ""


@dataclasses.dataclass
class Cell:
    lines: list
    header: bool = False  # the row's label: <th scope="row">
    attrs: dict = dataclasses.field(default_factory=dict)  # HTML data-* attributes
    colspan: int = 1
    rowspan: int = 1


@dataclasses.dataclass
class Row:
    cells: list
    attrs: dict = dataclasses.field(default_factory=dict)
    cls: str = ""  # "per-lambda" (indented), "reference" (blue), "report-cell" (bold)


@dataclasses.dataclass
class Group:
    rows: list
    heading: object = None  # Words or str: a row across the table above the group
    attrs: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Table:
    id: str
    caption: Words
    head: list  # rows of heading Cells
    groups: list
    align: tuple  # LaTeX column types, one per column ("l", "r", "c", "p{2cm}")
    note: object = None  # Words printed under the table (a warning)
    collapsed: bool = False  # HTML: folded in <details> (a long appendix table)
    number: int = 0  # set in reading order (sections.build)
    kind = "table"

    @property
    def columns(self) -> int:
        return len(self.align)

    def latex_head(self) -> list:
        """The heading rows for LaTeX, which has no rowspan: a cell spanning rows prints in
        its first row and leaves blank cells below it. Each item: (cell or None, colspan,
        wrap), ``wrap`` where a long heading of one column of a wide table is set in a
        narrow box, so that the table fits the page."""
        covered, rows = {}, []
        for r, heading in enumerate(self.head):
            row, column, cells = [], 0, iter(heading)
            while column < self.columns:
                if covered.get((r, column)):
                    row.append((None, covered[(r, column)], False))
                    column += covered[(r, column)]
                    continue
                cell = next(cells, None)
                if cell is None:
                    break
                for below in range(1, cell.rowspan):
                    covered[(r + below, column)] = cell.colspan
                text = "".join(p.text if isinstance(p.text, str) else "≈≈≈≈≈≈≈≈≈≈≈" for line in cell.lines for p in line.parts)
                row.append((cell, cell.colspan, self.columns > 6 and cell.colspan == 1 and len(text) > 10))
                column += cell.colspan
            rows.append(row)
        return rows


@dataclasses.dataclass
class Text:
    """A paragraph macro of the words, ``text.<name>(*args)``."""

    name: str
    args: tuple = ()
    kind = "text"


@dataclasses.dataclass
class Heading:
    text: object  # str or Words
    id: str = ""
    kind = "heading"


@dataclasses.dataclass
class Figure:
    """A figure by its name; ``group``: the render's figures it is in (figures,
    theory_figures, sweep_figures)."""

    name: str
    group: str = "figures"
    number: int = 0
    kind = "figure"

    @property
    def id(self) -> str:
        return f"figure-{self.name}"


@dataclasses.dataclass
class Box:
    """A warning in a box."""

    words: Words
    id: str = ""
    kind = "box"


@dataclasses.dataclass
class Listing:
    """The config, as YAML."""

    kind = "listing"


@dataclasses.dataclass
class Section:
    id: str
    heading: object  # str or Words
    blocks: list
    appendix: bool = False


def cell(*parts, header=False, cls="", **attrs) -> Cell:
    """One line of ``parts`` (str, Words or Part); ``attrs`` become data-* attributes (a
    trailing underscore dropped, ``_`` as ``-``)."""
    return Cell([Line([p if isinstance(p, Part) else Part(p) for p in parts], cls)], header=header,
                attrs={f"data-{k.rstrip('_').replace('_', '-')}": v for k, v in attrs.items()})


def heading(*parts, colspan=1, rowspan=1, **attrs) -> Cell:
    made = cell(*parts, **attrs)
    made.colspan, made.rowspan = colspan, rowspan
    return made


def bounds(low, high, format=signed) -> list:
    """``[low, high]`` as parts classed ci-low and ci-high."""
    return ["[", Part(format(low), "ci-low"), ", ", Part(format(high), "ci-high"), "]"]


def summary(row, interval=True, spread=True, **attrs) -> Cell:
    """A summary over seeds (:func:`normbound.summary.summarise`'s row): mean ± sd (the sd
    where ``spread``), and (``interval``) its interval on a grey line below where it has
    one; a dash where it has no seeds."""
    if row is None or not row.get("n"):
        return cell("—", **attrs)
    first = [Part(number(row["mean"]), "mean")]
    if spread and row["n"] > 1 and "std" in row:
        first += [" ± ", Part(number(row["std"]), "std")]
    made = cell(*first, **attrs)
    low = row.get("ci_low")
    if interval and isinstance(low, float) and low == low:
        made.lines.append(Line([Part(p) if isinstance(p, str) else p for p in bounds(low, row["ci_high"], number)], "ci"))
    return made
