"""LaTeX to MathML for the HTML report: equations that render offline, without a script.

Browsers draw MathML natively (Chromium since version 109, Firefox, Safari), so the
self-contained HTML needs neither a CDN nor JavaScript. markup.convert calls it for
every ``$...$`` and ``$$...$$`` of the report's words.
"""

import latex2mathml.converter
import markupsafe


def mathml(latex: str, display: bool = False) -> markupsafe.Markup:
    """``latex`` (math mode, without dollars) as a ``<math>`` element, marked safe for
    autoescaping Jinja (latex2mathml escapes the text it emits as character references).

    A command latex2mathml cannot translate comes out as its TeX source (``\\Big\\|``
    does), which the page would show verbatim: that is an error here, not a silent typo.
    """
    out = latex2mathml.converter.convert(str(latex), display="block" if display else "inline")
    if "\\" in out:
        raise ValueError(f"latex2mathml left TeX in the MathML of {latex!r}; write it another way "
                         r"(for example \left\| ... \right\| instead of \Big\|)")
    return markupsafe.Markup(out)
