"""LaTeX to MathML for the HTML report: equations that render offline, without a script.

Browsers draw MathML natively (Chromium since version 109, Firefox, Safari), so the
self-contained HTML needs neither a CDN nor JavaScript. Registered as the Jinja filter
``mathml`` of the HTML environment: ``{{ "\\|W\\|_F" | mathml }}`` or, for a displayed
equation, ``{{ "..." | mathml(true) }}``.
"""

import latex2mathml.converter
import markupsafe


def mathml(latex: str, display: bool = False) -> markupsafe.Markup:
    """``latex`` (math mode, without dollars) as a ``<math>`` element, marked safe for
    autoescaping Jinja (latex2mathml escapes the text it emits as character references)."""
    return markupsafe.Markup(latex2mathml.converter.convert(str(latex), display="block" if display else "inline"))
