rule prepare_data:
    """The notebook's split, label noise and normalisation for one seed and noise rate."""
    output:
        npz=f"{DATA}.npz",
        json=f"{DATA}.json",
    params:
        settings=stage_settings("data"),
    log:
        f"{LOGS}/prepare_data/{DATA_JOB}.log",
    benchmark:
        f"{BENCHMARKS}/prepare_data/{DATA_JOB}.tsv"
    threads: 1
    # Seconds of work: on a cluster, one job with the other light rules (profiles/slurm).
    group:
        "light"
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        ENV
    script:
        f"{SCRIPTS}/prepare_data.py"
