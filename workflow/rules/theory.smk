# The exercise sheet's two results, checked by computation: exercise 1 (conditioning of the
# linear model's objective) and exercise 2 (the bounds on a ReLU network's input gradient).
# The report reads THEORY_OUTPUTS: theory.json and the figures, PDF and PNG.
import json
from pathlib import Path

import theory_bounds
import theory_hessian

THEORY = f"{RESULTS}/theory"
# The PDF and PNG of each figure, per rule.
THEORY_FIGURES = {
    script.__name__: [f"{THEORY}/{name}.{ext}" for name in script.FIGURES for ext in ("pdf", "png")]
    for script in (theory_hessian, theory_bounds)
}
THEORY_OUTPUTS = [f"{THEORY}/theory.json", *THEORY_FIGURES["theory_hessian"], *THEORY_FIGURES["theory_bounds"]]


localrules:
    theory,


rule theory_hessian:
    """Exercise 1: autograd Hessian against σ²I + μμᵀ, condition numbers, optimiser steps,
    and the dataset's conditioning before and after normalisation."""
    output:
        json=f"{THEORY}/hessian.json",
        figures=THEORY_FIGURES["theory_hessian"],
    params:
        dataset=config["dataset"],
    log:
        f"{LOGS}/theory_hessian/theory.log",
    benchmark:
        f"{BENCHMARKS}/theory_hessian/theory.tsv"
    # Matrices of at most 30 x 30: one thread is fastest.
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"{SCRIPTS}/theory_hessian.py"


rule theory_bounds:
    """Exercise 2: the bound chain's ratios on random weight families and on every trained
    network; the exact maximum over activation patterns for small widths."""
    input:
        metrics=METRICS,
        weights=per_seed(rules.train_networks.output.weights),
    output:
        json=f"{THEORY}/bounds.json",
        figures=THEORY_FIGURES["theory_bounds"],
    log:
        f"{LOGS}/theory_bounds/theory.log",
    benchmark:
        f"{BENCHMARKS}/theory_bounds/theory.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"{SCRIPTS}/theory_bounds.py"


rule theory:
    """theory.json: both exercises' results in one file, the one the report reads."""
    input:
        exercise1=rules.theory_hessian.output.json,
        exercise2=rules.theory_bounds.output.json,
    output:
        f"{THEORY}/theory.json",
    log:
        f"{LOGS}/theory/theory.log",
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    run:
        nb.write_json(output[0], {key: json.loads(Path(path).read_text()) for key, path in input.items()})
        Path(log[0]).write_text(f"merged {', '.join(input.keys())} into {output[0]}\n")
