"""Where a report comes from: the code's commit, the packages, the machine, the jobs' times."""

import datetime
import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess

import pandas as pd
import yaml

from normbound import io, layout

PACKAGES = ("torch", "numpy", "scipy", "scikit-learn", "pandas", "matplotlib", "jinja2", "snakemake")


def git_commit(repo: str) -> str:
    """The commit the code ran from, marked when the checkout has uncommitted changes."""
    try:
        head = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout, or git is not installed)"
    return head.stdout.strip() + (" with uncommitted changes" if dirty.stdout.strip() else "")


def gpu_names() -> list[str]:
    """The GPUs ``nvidia-smi`` lists: asking torch instead would import it (seconds) in a job
    that needs nothing else from it."""
    try:
        listed = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in listed.stdout.splitlines() if line.strip()] if listed.returncode == 0 else []


def hardware() -> dict:
    """The machine that rendered the report (CPU model, cores, memory, GPU)."""
    cpu = io.cpu_model()
    memory = ""
    try:
        with open("/proc/meminfo") as handle:
            kib = next(int(line.split()[1]) for line in handle if line.startswith("MemTotal"))
            memory = f"{kib / 2**20:.1f} GiB"
    except (OSError, StopIteration):
        pass
    return dict(cpu=cpu, cores=os.cpu_count(), memory=memory or "unknown", gpu=", ".join(gpu_names()) or "none",
                system=platform.platform(), python=platform.python_version())


def package_versions() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def benchmark_view(files) -> dict:
    """Per-job and per-rule time from Snakemake's ``benchmark:`` files of this config's
    jobs (``<rule>/<job>.tsv``, the report rule's declared inputs), and the wall-clock
    window the jobs ran in."""
    jobs = []
    for path in sorted(files):
        row = pd.read_csv(path, sep="\t").iloc[-1]  # a repeated benchmark appends rows
        end = os.path.getmtime(path)
        # The rule and the job named by the file's place in the layout, wherever the study's benchmarks folder is.
        names = layout.parse(layout.benchmark("{rule}", "{job}", os.path.dirname(os.path.dirname(path))), path)
        jobs.append(dict(rule=names["rule"], job=names["job"], seconds=float(row["s"]), max_rss_mb=float(row["max_rss"]), start=end - float(row["s"]), end=end))
    if not jobs:
        return dict(jobs=[], rules=[], window=None)
    frame = pd.DataFrame(jobs)
    rules = (frame.groupby("rule", sort=False).agg(jobs=("seconds", "size"), total=("seconds", "sum"),
                                                     longest=("seconds", "max"), max_rss_mb=("max_rss_mb", "max"))
             .reset_index().to_dict("records"))
    stamp = lambda t: datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")  # noqa: E731
    window = dict(start=stamp(frame["start"].min()), end=stamp(frame["end"].max()),
                  seconds=frame["end"].max() - frame["start"].min(), total=frame["seconds"].sum())
    return dict(jobs=jobs, rules=rules, window=window)


def cost_view(paths) -> list:
    """The lead's speed measurements (``benchmarks/*.json`` in the repository), as given."""
    runs = []
    for path in sorted(paths):
        with open(path) as handle:
            runs.append({**json.load(handle), "file": os.path.basename(path)})
    return runs


def provenance(config: dict, benchmark_files, repo: str) -> dict:
    """The config (as YAML, and its lines for LaTeX), its hash, the commit, the packages,
    the machine, the time of rendering and the jobs' times."""
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    # LaTeX keeps the YAML's indentation as a width per line (verbatim could be ended by user text).
    lines = [dict(indent=len(line) - len(line.lstrip()), text=line.strip()) for line in text.splitlines()]
    return dict(config_yaml=text, config_lines=lines, config_sha256=hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest(),
                commit=git_commit(repo), packages=package_versions(), hardware=hardware(),
                rendered=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
                benchmarks=benchmark_view(benchmark_files))
