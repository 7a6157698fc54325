rule prepare_data:
    """The notebook's split, label noise and normalisation for one seed and noise rate."""
    output:
        npz=layout.DATA_NPZ,
        json=layout.DATA_JSON,
    params:
        settings=job_settings("data"),
    log:
        layout.log("prepare_data", layout.DATA_JOB),
    benchmark:
        layout.benchmark("prepare_data", layout.DATA_JOB)
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
