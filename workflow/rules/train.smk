rule train_baselines:
    """Random forest and RBF SVC with scikit-learn's defaults, one seed and noise rate
    (no network: the same for every width and number of steps)."""
    input:
        data=rules.prepare_data.output.npz,
    output:
        table=layout.BASELINES,
        # The SVC's fitted parameters, for the robustness job.
        **({"svc": layout.SVC_ARRAYS} if TRAINED_SVC else {}),
    params:
        settings=job_settings("baselines"),
    log:
        layout.log("train_baselines", layout.DATA_JOB),
    benchmark:
        layout.benchmark("train_baselines", layout.DATA_JOB)
    threads: 1
    # Seconds of work: on a cluster, one job with the other light rules (profiles/slurm).
    group:
        "light"
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        ENV
    script:
        f"{SCRIPTS}/train_baselines.py"


# A training job's files, per seed: one job per seed and cell, or (PER_CELL) one per cell
# that writes every seed's (config training_jobs).
TRAINING_OUTPUTS = {"networks": layout.SEED_NETWORKS, "validation": layout.SEED_VALIDATION,
                    "curves": layout.SEED_CURVES, "weights": layout.SEED_WEIGHTS}


rule train_networks:
    """Every network of one seed and cell (both λ grids, on the training set and on the
    fit part for validation) as one batched program; measurements before and after
    training. Per cell: the cell's seeds one after the other in one process."""
    input:
        data=expand(layout.DATA_NPZ, seed=SEEDS, allow_missing=True) if PER_CELL else layout.DATA_NPZ,
    output:
        **{key: expand(path, seed=SEEDS, allow_missing=True) if PER_CELL else path
           for key, path in TRAINING_OUTPUTS.items()},
    params:
        settings=job_settings("networks"),
        seeds=lambda wildcards: SEEDS if PER_CELL else [int(wildcards.seed)],
    log:
        layout.log("train_networks", layout.CELL if PER_CELL else layout.CELL_JOB),
    benchmark:
        layout.benchmark("train_networks", layout.CELL if PER_CELL else layout.CELL_JOB)
    # torch uses min(threads, CPU count); 4 lets one job fill a laptop's cores.
    threads: 4
    resources:
        mem_mb=4000,
        runtime=60 * (len(SEEDS) if PER_CELL else 1),
        gpu=1 if config["device"] == "cuda" else 0,
    conda:
        ENV
    script:
        f"{SCRIPTS}/train_networks.py"


rule aggregate:
    """All cells and seeds joined: results/metrics.csv, selection.csv, curves.csv,
    robustness.csv, each row with its cell's label_noise, hidden and steps. A model subset
    without networks or without baselines joins only what was trained."""
    input:
        # One file per (cell, seed) each, in CELL_SEEDS order: a noise rate's baselines
        # are listed for every cell that shares them.
        networks=per_cell_and_seed(layout.SEED_NETWORKS) if TRAINED_NETWORKS else [],
        validation=per_cell_and_seed(layout.SEED_VALIDATION) if TRAINED_NETWORKS else [],
        curves=per_cell_and_seed(layout.SEED_CURVES) if TRAINED_NETWORKS else [],
        baselines=per_cell_and_seed(rules.train_baselines.output.table) if TRAINED_BASELINES else [],
        robustness=per_cell_and_seed(layout.SEED_ROBUSTNESS) if ROBUSTNESS_MEASURED else [],
    output:
        metrics=layout.METRICS,
        selection=layout.SELECTION,
        curves=layout.CURVES,
        robustness=layout.ROBUSTNESS,
    params:
        # The one route of the notebook's λ into the results: every table flags its rows
        # (notebook_lambda), so the tables and figures match no floats of their own.
        notebook_lambdas=config["notebook_lambdas"],
        # The cell of each input file, in the same order.
        cells=[cell for cell, _ in CELL_SEEDS],
    log:
        layout.log("aggregate"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        ENV
    script:
        f"{SCRIPTS}/aggregate.py"
