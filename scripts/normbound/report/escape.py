"""How a value prints in each format: LaTeX escaping, and the numbers of tables and words.

Every value the templates insert comes from the results and prints as itself: escaped by
HTML autoescaping or by :func:`latex_escape`, so that user text such as the title cannot
inject markup. Only :class:`LatexSafe` strings (built in code, or escaped already) pass
the LaTeX layouts unchanged.
"""

import math


class LatexSafe(str):
    """A string that is valid LaTeX already; :func:`latex_escape` leaves it as is."""


# TeX's special characters, and < > which the default OT1 font encoding prints as ¡ ¿.
# OT1's roman fonts have no glyph for " _ ~ ^ ` (they print a closing quote, a rule,
# accents and an opening quote): those come from the typewriter font, which has every
# ASCII character.
LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "{": r"\{", "}": r"\}", "<": r"\textless{}", ">": r"\textgreater{}",
                  **{c: rf"{{\ttfamily\char{ord(c)}}}" for c in '"_~^`'}}
# Characters outside Latin-1 that the study's own text uses; pdfLaTeX's default input
# encoding knows none of them.
LATEX_UNICODE = {"λ": r"\ensuremath{\lambda}", "μ": r"\ensuremath{\mu}", "σ": r"\ensuremath{\sigma}",
                 "κ": r"\ensuremath{\kappa}", "ε": r"\ensuremath{\varepsilon}", "‖": r"\ensuremath{\|}",
                 "√": r"\ensuremath{\surd}", "∞": r"\ensuremath{\infty}",
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
def missing(value) -> bool:
    """A value a table shows as a dash: None, NaN or infinite."""
    try:
        return value is None or not math.isfinite(float(value))
    except (TypeError, ValueError):  # pandas' NA, or text
        return value is not None and str(value) in ("<NA>", "nan", "")


def number(value, digits: int = 3) -> str:
    """A table number: fixed ``digits`` decimals, a dash for a missing value."""
    if missing(value):
        return "—"
    return f"{value:.{digits}f}"


def signed(value, digits: int = 3) -> str:
    """A difference, always with its sign, a minus sign (−) rather than a hyphen; one that
    rounds to zero shows as +0.000, not −0.000."""
    return number(value, digits) if missing(value) else f"{round(value, digits) + 0.0:+.{digits}f}".replace("-", "−")


def percent(value) -> str:
    """A fraction as a percentage with one decimal: 0.0312 -> "3.1 %"."""
    return f"{100 * value:.1f} %"



def is_finite(value) -> bool:
    """Jinja's test ``is finite``: a table's missing value (NaN), such as a comparator's row at
    the notebook's λ or an interval from too few seeds, is not."""
    return isinstance(value, (int, float)) and math.isfinite(value)
