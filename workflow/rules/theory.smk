# The exercise sheet's two results, checked by computation: exercise 1 (conditioning of the
# linear model's objective) and exercise 2 (the bounds on a ReLU network's input gradient).
# The report reads THEORY_OUTPUTS: exercise1.json, exercise2.json and the figures (PDF, PNG).
import theory_bounds
import theory_hessian

THEORY = f"{RESULTS}/theory"
# The PDF and PNG of each figure, per rule.
THEORY_FIGURES = {
    script.__name__: [f"{THEORY}/{name}.{ext}" for name in script.FIGURES for ext in ("pdf", "png")]
    for script in (theory_hessian, theory_bounds)
}
THEORY_OUTPUTS = [
    f"{THEORY}/exercise1.json",
    f"{THEORY}/exercise2.json",
    *THEORY_FIGURES["theory_hessian"],
    *THEORY_FIGURES["theory_bounds"],
]


rule theory_hessian:
    """Exercise 1: autograd Hessian against σ²I + μμᵀ, condition numbers, optimiser steps,
    and the dataset's conditioning before and after normalisation."""
    output:
        json=f"{THEORY}/exercise1.json",
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
    conda:
        ENV
    script:
        f"{SCRIPTS}/theory_hessian.py"


rule theory_bounds:
    """Exercise 2: the bound chain's ratios on random weight families and on every trained
    network; the exact maximum over activation patterns for small widths."""
    input:
        metrics=METRICS,
        weights=per_seed(rules.train_networks.output.weights),
    output:
        json=f"{THEORY}/exercise2.json",
        figures=THEORY_FIGURES["theory_bounds"],
    log:
        f"{LOGS}/theory_bounds/theory.log",
    benchmark:
        f"{BENCHMARKS}/theory_bounds/theory.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
    script:
        f"{SCRIPTS}/theory_bounds.py"
