# Certified and empirical robustness of one cell's and seed's classifiers: every network model at its
# λ chosen on validation data, and the RBF SVC (not the random forest; README).


rule robustness:
    """Per test point: the radius each bound certifies (the networks' ‖W‖_Mix, √h‖W‖₂,
    √h‖W‖_F and local certificate; the SVC's kernel bound √(2γ/e)·Σ|α|) and the distance at
    which the attack found a misclassified point."""
    input:
        data=rules.prepare_data.output.npz,
        **(
            {"networks": layout.SEED_NETWORKS, "weights": layout.SEED_WEIGHTS}
            if TRAINED_NETWORKS
            else {}
        ),
        **({"svc": layout.SVC_ARRAYS} if TRAINED_SVC else {}),
    output:
        layout.SEED_ROBUSTNESS,
    params:
        settings=attack_settings(config),
    log:
        layout.log("robustness", layout.CELL_JOB),
    benchmark:
        layout.benchmark("robustness", layout.CELL_JOB)
    # Small matrix products: one thread each, so two seeds share two cores.
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
    script:
        f"{SCRIPTS}/robustness.py"
