# The exercise sheet's two results, checked by computation: exercise 1 (conditioning of the
# linear model's objective) and exercise 2 (the bounds on a ReLU network's input gradient).
THEORY_FIGURES = {rule: figure_files(layout.THEORY_FILE, names) for rule, names in THEORY_FIGURE_NAMES.items()}


rule theory_hessian:
    """Exercise 1: autograd Hessian against σ²I + μμᵀ, condition numbers, optimiser steps,
    and the dataset's conditioning before and after normalisation."""
    output:
        json=layout.fill(layout.THEORY_FILE, name="exercise1", ext="json"),
        **captioned(THEORY_FIGURES["theory_hessian"], "Theory"),
    params:
        dataset=config["dataset"],
    log:
        layout.log("theory_hessian", layout.THEORY_JOB),
    benchmark:
        layout.benchmark("theory_hessian", layout.THEORY_JOB)
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
        layout.fill(layout.THEORY_FILE, name="random_families", ext="csv"),
    log:
        layout.log("theory_random", layout.THEORY_JOB),
    benchmark:
        layout.benchmark("theory_random", layout.THEORY_JOB)
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
    script:
        f"{SCRIPTS}/theory_random.py"


rule theory_bounds:
    """Exercise 2: the bound chain's ratios on every trained network of the report's cell,
    beside the random families'."""
    input:
        random=rules.theory_random.output[0],
        # The report's cell alone, not results/metrics.csv: a new sweep cell leaves it be.
        networks=per_seed(layout.SEED_NETWORKS) if TRAINED_NETWORKS else [],
        weights=per_seed(layout.SEED_WEIGHTS) if TRAINED_NETWORKS else [],
    output:
        json=layout.fill(layout.THEORY_FILE, name="exercise2", ext="json"),
        **captioned(THEORY_FIGURES["theory_bounds"], "Theory"),
    params:
        # The seed of each weights file, in the same order.
        seeds=SEEDS if TRAINED_NETWORKS else [],
    log:
        layout.log("theory_bounds", layout.THEORY_JOB),
    benchmark:
        layout.benchmark("theory_bounds", layout.THEORY_JOB)
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
    script:
        f"{SCRIPTS}/theory_bounds.py"
