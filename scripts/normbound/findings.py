"""The study's findings: each question of the report's first section answered by claims,
each claim a number with its interval, its tests and a verdict whose words a rule here
chooses from those numbers (results/tables/findings.csv). The report only lays them out.

A comparison's verdict (:func:`comparison_verdict`) reads two tests, each Holm-adjusted
within its family (:func:`normbound.summary.holm`):

- the **corrected resampled t** (the interval of the mean difference, which accounts for the
  overlap of the seeds' splits) answers "how large, and is it surely not 0?";
- the **exact sign test** answers "does it go the same way seed after seed?". With 10 seeds
  and n_test/n_train = 1 the corrected t is wide (its standard error is √1.1 ≈ 1.05 times
  the seeds' sd, not 0.32 times), so a difference can be consistent on every seed while its
  interval still includes 0; the reader needs both.

The words say which of the two holds. The tail-averaged view (the mean over the last part of
training, :data:`normbound.summary.TAIL_FRACTION`) is a sensitivity check: a claim whose
verdict changes under it does not survive it, and the verdict says so.
"""

from __future__ import annotations

import math

from . import PENALTY
from .summary import ALPHA, MIN_SEEDS

# Seed 0 against the notebook's printed single run: the accuracy within 0.02 (about 6 of the
# 285 test points) and the norms within 10 %, the tolerances of the notebook-fidelity test;
# "to the printed digits" within half of the last printed digit.
FIDELITY_TOLERANCE = dict(accuracy=0.02, norm=0.10)
PRINTED_DIGIT = 0.0005


def fmt(value: float, digits: int = 3) -> str:
    """A number in a verdict, with fixed digits."""
    return f"{value:.{digits}f}"


def p_text(p: float) -> str:
    """A p-value in a verdict: three decimals, or "< 0.001"."""
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def difference(value: float) -> str:
    """A difference's bound in a verdict, signed."""
    return f"{value:+.3f}"


def log_ratio(value: float) -> str:
    """A log ratio's bound in a verdict, as the ratio."""
    return f"×{math.exp(value):.3f}"


def comparison_verdict(row: dict, higher: str = "higher", lower: str = "lower", bound=difference,
                       null: str = "0") -> tuple[str, str]:
    """(verdict key, verdict words) of one paired comparison ``row`` with ``n``, ``mean``,
    ``ci_low``/``ci_high``, ``p_holm``, ``wins``/``losses`` and ``sign_p_holm``. ``higher``
    and ``lower`` name the two directions (e.g. "better"/"worse"); ``bound`` prints the
    interval's ends and ``null`` names no change (a log ratio: :func:`log_ratio`, "1").

    Keys: ``too_few`` (fewer than MIN_SEEDS seeds), ``interval`` (the Holm-adjusted corrected
    t rejects 0: the size is resolved), ``consistent`` (only the Holm-adjusted sign test
    rejects: the same direction on most seeds, the size unresolved), ``none``."""
    n, wins, losses = int(row["n"]), int(row["wins"]), int(row["losses"])
    if n < MIN_SEEDS:
        return "too_few", f"not judged: {n} {'seed' if n == 1 else 'seeds'}, fewer than the {MIN_SEEDS} an interval needs"
    if wins == losses == 0:  # no seed to test a direction on, nor a spread to size it with
        return "none", f"no difference: equal on all {n} seeds"
    seeds = f"{higher} on {wins} of {n} seeds" if wins >= losses else f"{lower} on {losses} of {n} seeds"
    interval = f"[{bound(row['ci_low'])}, {bound(row['ci_high'])}]"
    # An interval can exclude the null while the Holm-adjusted p does not reject it: say so.
    unresolved = (f"includes {null}" if row["ci_low"] <= 0 <= row["ci_high"] else
                  f"excludes {null}, but not after Holm's adjustment (p {p_text(row['p_holm'])})")
    if row["p_holm"] < ALPHA:
        return "interval", (f"{higher if row['mean'] > 0 else lower}: the corrected interval {interval} excludes {null} "
                            f"(Holm-adjusted p {p_text(row['p_holm'])}); {seeds}")
    if row["sign_p_holm"] < ALPHA:
        return "consistent", (f"{seeds} (sign test, Holm-adjusted p {p_text(row['sign_p_holm'])}), but the corrected "
                              f"interval {interval} {unresolved}: the direction is clear, the size is not")
    return "none", (f"no clear difference: {seeds}, sign test Holm-adjusted p {p_text(row['sign_p_holm'])}; the "
                    f"corrected interval {interval} {unresolved}")


def tail_note(key: str, tail_key: str) -> str:
    """Whether a comparison's verdict survives the tail-averaged sensitivity check."""
    if tail_key == "missing":
        return ""
    return ("; the same under tail averaging" if tail_key == key
            else f"; under tail averaging it is {TAIL_WORDS[tail_key]} instead, so it does not survive that check")


TAIL_WORDS = {"too_few": "not judged", "interval": "resolved by the interval", "consistent": "consistent in sign only",
              "none": "not a clear difference"}


def fluctuation_note(row: dict) -> str:
    """The within-run fluctuation beside the difference: the step-to-step sd of the
    difference over the last part of training (median over seeds)."""
    if not math.isfinite(row.get("fluctuation", math.nan)):
        return ""
    size = "larger than" if row["fluctuation"] > abs(row["mean"]) else "smaller than"
    return (f"; within one run the difference moves from step to step by an sd of {fmt(row['fluctuation'])}, "
            f"{size} the mean difference")


def fidelity_verdict(accuracy: float, norm: float) -> tuple[str, str]:
    """(key, words) for seed 0's largest accuracy difference and largest relative norm
    difference from the notebook's printed values (NaN: the lines have no norms)."""
    norm_known = math.isfinite(norm)
    within = f"accuracies within {fmt(accuracy)}" + (f", norms within {100 * norm:.1f} %" if norm_known else "")
    if accuracy <= PRINTED_DIGIT and (not norm_known or norm <= PRINTED_DIGIT):
        return "exact", f"reproduced to the printed digits ({within})"
    if accuracy <= FIDELITY_TOLERANCE["accuracy"] and (not norm_known or norm <= FIDELITY_TOLERANCE["norm"]):
        return "tolerance", (f"reproduced within the tolerance of {FIDELITY_TOLERANCE['accuracy']} in accuracy and "
                             f"{100 * FIDELITY_TOLERANCE['norm']:.0f} % in the norms ({within})")
    return "not_reproduced", (f"not reproduced: {within}, beyond the tolerance of {FIDELITY_TOLERANCE['accuracy']} in "
                              f"accuracy and {100 * FIDELITY_TOLERANCE['norm']:.0f} % in the norms")


def share_words(row: dict) -> str:
    """A certified share at one radius, with its interval where there is one."""
    words = f"certifies {100 * row['mean']:.1f} % of the test points"
    if math.isfinite(row["ci_low"]):
        words += f" [{100 * row['ci_low']:.1f}, {100 * row['ci_high']:.1f}]"
    return words


def fidelity_drift(table) -> dict:
    """The largest difference from the notebook of seed 0's unpenalised lines (baselines,
    NN before and after) and of its penalised ones (``table``: the fidelity table), each
    group where the table has it: ``accuracy`` as a difference; ``norm``, the norms' and
    the notebook's Grad variant's, relative to the printed value (NaN without any)."""
    penalised = table["model"].isin(list(PENALTY))
    accuracy = table["metric"].isin(["train_acc", "test_acc"])
    printed = table["notebook"].notna()
    relative = (table["difference"] / table["notebook"]).abs()
    drift = {}
    for group, pick in (("unpenalised", ~penalised), ("penalised", penalised)):
        if pick.any():
            norms = relative[~accuracy & pick & printed]
            drift[group] = dict(accuracy=float(table.loc[accuracy & pick, "difference"].abs().max()),
                                norm=float(norms.max()) if len(norms) else math.nan)
    return drift
