rule train_baselines:
    """Random forest and RBF SVC with scikit-learn's defaults, one seed."""
    input:
        data=rules.prepare_data.output.npz,
    output:
        table=f"{SEED_DIR}/baselines.csv",
        # The SVC's fitted parameters, for the robustness job.
        **({"svc": SVC_ARRAYS} if TRAINED_SVC else {}),
    params:
        settings=settings("baselines"),
    log:
        f"{LOGS}/train_baselines/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/train_baselines/seed{{seed}}.tsv"
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


rule train_networks:
    """Every network of one seed (both λ grids, on the training set and on the fit part
    for validation) as one batched program; measurements before and after training."""
    input:
        data=rules.prepare_data.output.npz,
    output:
        networks=f"{SEED_DIR}/networks.csv",
        validation=f"{SEED_DIR}/validation.csv",
        curves=f"{SEED_DIR}/curves.csv",
        weights=f"{SEED_DIR}/weights.npz",
    params:
        settings=settings("networks"),
    log:
        f"{LOGS}/train_networks/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/train_networks/seed{{seed}}.tsv"
    # torch uses min(threads, CPU count); 4 lets one job fill a laptop's cores.
    threads: 4
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=1 if config["device"] == "cuda" else 0,
    conda:
        ENV
    script:
        f"{SCRIPTS}/train_networks.py"


rule aggregate:
    """All seeds joined: results/metrics.csv, selection.csv, curves.csv, robustness.csv. A
    model subset without networks or without baselines joins only what was trained."""
    input:
        networks=per_seed(rules.train_networks.output.networks) if TRAINED_NETWORKS else [],
        validation=per_seed(rules.train_networks.output.validation) if TRAINED_NETWORKS else [],
        curves=per_seed(rules.train_networks.output.curves) if TRAINED_NETWORKS else [],
        baselines=per_seed(rules.train_baselines.output.table) if TRAINED_BASELINES else [],
        robustness=per_seed(SEED_ROBUSTNESS) if ROBUSTNESS_MEASURED else [],
    output:
        metrics=f"{RESULTS}/metrics.csv",
        selection=f"{RESULTS}/selection.csv",
        curves=f"{RESULTS}/curves.csv",
        robustness=ROBUSTNESS,
    params:
        notebook_lambdas=config["notebook_lambdas"],
    log:
        f"{LOGS}/aggregate.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        ENV
    script:
        f"{SCRIPTS}/aggregate.py"
