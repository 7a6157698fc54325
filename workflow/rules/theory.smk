# The exercise sheet's two results, checked by computation: exercise 1 (conditioning of the
# linear model's objective) and exercise 2 (the bounds on a ReLU network's input gradient).
THEORY_FIGURES = {rule: figure_files(THEORY, names) for rule, names in THEORY_FIGURE_NAMES.items()}


rule theory_hessian:
    """Exercise 1: autograd Hessian against σ²I + μμᵀ, condition numbers, optimiser steps,
    and the dataset's conditioning before and after normalisation."""
    output:
        json=f"{THEORY}/exercise1.json",
        **captioned(THEORY_FIGURES["theory_hessian"], "Theory"),
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


rule theory_random:
    """Exercise 2 on random weight families, the exact maximum over activation patterns
    for small widths: reads nothing of the study, so it runs once."""
    output:
        f"{THEORY}/random_families.csv",
    log:
        f"{LOGS}/theory_random/theory.log",
    benchmark:
        f"{BENCHMARKS}/theory_random/theory.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
    script:
        f"{SCRIPTS}/theory_random.py"


rule theory_bounds:
    """Exercise 2: the bound chain's ratios on every trained network, beside the random
    families'."""
    input:
        random=rules.theory_random.output[0],
        metrics=rules.aggregate.output.metrics,
        weights=per_seed(rules.train_networks.output.weights) if TRAINED_NETWORKS else [],
    output:
        json=f"{THEORY}/exercise2.json",
        **captioned(THEORY_FIGURES["theory_bounds"], "Theory"),
    params:
        # The seed of each weights file, in the same order.
        seeds=SEEDS if TRAINED_NETWORKS else [],
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
