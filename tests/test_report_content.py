"""The small study's report states its setup, cost and provenance, and the sources of
nondeterminism, each from the files it claims to come from: every expected value here is
worked out again from the config, the installed packages, the machine, the benchmark
files and the git checkout."""

import glob
import hashlib
import json
import os
import subprocess
from importlib.metadata import version

import pandas as pd
import pytest
import yaml
from helpers import LATEX_INSTALL, REPO, SMALL_CONFIG, Page, full_config, pdf_text, require_program

pytestmark = pytest.mark.slow
PACKAGES = ("torch", "numpy", "scipy", "scikit-learn", "pandas", "matplotlib", "jinja2", "snakemake")
# What can still change a number's last bits, each with how it is held fixed.
NONDETERMINISM = ("thread count", "GPU kernels", "library versions", "pinned")


@pytest.fixture(scope="module")
def page(small_study):
    return Page(small_study / "results" / "report" / "report.html")


def words(text) -> str:
    return " ".join(text.split())


def test_setup_states_the_network_loss_and_grids_of_the_config(page):
    setup = words(page.text("#setup"))
    assert "h=100 hidden units" in setup and f"{SMALL_CONFIG['steps']} steps" in setup
    assert "hinge loss" in setup and "“MSE”" in setup
    grids = "; ".join(f"{name} {', '.join(f'{lam:g}' for lam in SMALL_CONFIG['lambdas'][key])}"
                      for key, name in (("frob", "Frob"), ("mix", "Mix"), ("spec", "Spec"), ("grad", "Grad")))
    assert f"λ grids: {grids}; the notebook's" in setup, setup
    assert "the notebook's λ: Frob 0.005, Mix 0.025" in setup


def test_provenance_states_config_code_packages_and_machine(page, small_study):
    provenance = words(page.text("#provenance"))
    config = full_config(small_study)
    # The config as the rules received it, shown whole, and its hash.
    assert yaml.safe_load(page.text("pre")) == config
    assert hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest() in provenance
    head = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True, text=True)
    assert (head.stdout.strip() if head.returncode == 0 else "not a git checkout") in provenance
    for name in PACKAGES:
        assert f"{name} {version(name)}" in provenance, name
    with open("/proc/cpuinfo") as handle:
        cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    assert f"{cpu}, {os.cpu_count()} cores" in provenance


def test_provenance_times_each_rule_from_its_benchmark_files(page, small_study):
    times = {}
    for path in glob.glob(str(small_study / "results" / "benchmarks" / "*" / "*.tsv")):
        times.setdefault(os.path.basename(os.path.dirname(path)), []).append(pd.read_csv(path, sep="\t")["s"].iloc[-1])
    assert {"prepare_data", "train_baselines", "train_networks", "theory_hessian", "theory_bounds"} <= set(times)
    header, *rows = page.rows("rule-times")
    assert header[:3] == ["rule", "jobs", "total s"]
    assert {row[0]: row[1:3] for row in rows} == {rule: [str(len(s)), f"{sum(s):.1f}"] for rule, s in times.items()}


def test_cost_shows_every_benchmark_file(page):
    files = sorted(glob.glob(os.path.join(REPO, "benchmarks", "*.json")))
    assert files, "the repository's speed measurements are missing"
    header, *rows = page.rows("cost-table")
    shown = {row[header.index("file")]: dict(zip(header, row)) for row in rows}
    for path in files:
        with open(path) as handle:
            measured = json.load(handle)
        row = shown[os.path.basename(path)]
        assert row["steps"] == str(measured["steps"]) and row["networks"] == str(measured["networks"])
        assert row["notebook loop, s/network"] == f"{measured['reference_seconds_per_network']:.4f}"
        assert row["batched, s/network"] == f"{measured['fast_seconds_per_network']:.4f}"
        assert row["speed-up"] == f"{measured['ratio']:.1f}"
    # The roofline (issue 25): the trainer against the GEMM rate measured in the same run.
    header, *rows = page.rows("roofline-table")
    shown = {row[0]: dict(zip(header, row)) for row in rows}
    for path in files:
        with open(path) as handle:
            measured = json.load(handle)
        if "gemm_gflops" in measured:
            row = shown[os.path.basename(path)]
            assert row["GEMM GFLOP/s"] == f"{measured['gemm_gflops']:.1f}"
            assert row["step's floor, s/network"] == f"{measured['step_gemm_floor_seconds_per_network']:.3f}"
            assert row["× floor"] == f"{measured['ratio_to_floor']:.2f}"


def test_both_formats_state_the_sources_of_nondeterminism(page, small_study):
    html = words(page.text("#provenance"))
    require_program("latexmk", LATEX_INSTALL)
    pdf = pdf_text(small_study / "results" / "report" / "report.pdf")
    for text in (html, pdf):
        section = text[text.index("Nondeterminism"):]
        for source in NONDETERMINISM:
            assert source in section, f"{source!r} not stated"
