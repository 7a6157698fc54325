"""The figures' common style and file format, shared by the report's and the theory's
figures: sizes readable at print scale, reproducible files (no dates or versions inside),
each figure as a vector PDF (LaTeX) and a PNG (HTML, Snakemake's report)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; no display on a cluster node
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as ticker  # noqa: E402

from .io import write_atomically  # noqa: E402

# Full text width of an A4 page with 2 cm margins, so figures print at 1:1 scale.
WIDTH = 6.7
# Reproducible files: no creation date or software version inside.
PDF_METADATA = {"CreationDate": None, "Producer": None, "Creator": None}
PNG_METADATA = {"Software": None}
PNG_DPI = 160
# The bound chain's norms in mathtext, for every figure's text (labels, titles, legends).
NORMS = {"mix_norm": r"$\|W\|_\mathrm{Mix}$", "spectral_bound": r"$\sqrt{h}\,\|W\|_2$",
         "frob_bound": r"$\sqrt{h}\,\|W\|_F$"}


def style() -> None:
    """Font sizes readable when the figure is printed at ``WIDTH`` inches."""
    plt.rcParams.update({"font.size": 9, "axes.titlesize": 9.5, "axes.labelsize": 9, "legend.fontsize": 8,
                         "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False,
                         "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
                         "figure.constrained_layout.use": True})


def plain_log(ax, axis: str = "y") -> None:
    """Log scale labelled with plain numbers (0.5, 1, 10), not 5 × 10⁻¹; call after plotting.
    Ticks at 1, 2, 5 per decade where the range is short enough to leave room for them."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    low, high = ax.get_ylim() if axis == "y" else ax.get_xlim()
    target.set_major_locator(ticker.LogLocator(subs=(1, 2, 5) if high / low < 200 else (1,)))
    target.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    target.set_minor_formatter(ticker.NullFormatter())


def save(fig, pdf: str, png: str) -> None:
    """Both formats, each under a temporary name then renamed: complete or absent."""
    for path, options in ((pdf, dict(metadata=PDF_METADATA)), (png, dict(dpi=PNG_DPI, metadata=PNG_METADATA))):
        write_atomically(path, lambda tmp: fig.savefig(tmp, **options))
    plt.close(fig)


def files_in(folder: str, names) -> dict:
    """``{name: (pdf, png)}`` for figures ``names`` in ``folder`` (scripts run by hand)."""
    return {name: (f"{folder}/{name}.pdf", f"{folder}/{name}.png") for name in names}


def outputs(files) -> dict:
    """``{name: (pdf, png)}`` from a rule's named outputs ``<name>_pdf``, ``<name>_png``."""
    keys = [key for key in files.keys() if key.endswith("_pdf")]
    return {key[:-4]: (files[key], files[f"{key[:-4]}_png"]) for key in keys}


def draw(figures: dict, wanted: dict, *args) -> None:
    """Draw each figure ``name -> (pdf, png)`` of ``wanted`` with ``figures[name](*args)``;
    a name the workflow asks for that no function draws fails at once."""
    unknown = sorted(set(wanted) - set(figures))
    if unknown:
        raise KeyError(f"no figure function for {', '.join(unknown)} (known: {', '.join(figures)})")
    style()
    for name, (pdf, png) in wanted.items():
        save(figures[name](*args), pdf, png)
