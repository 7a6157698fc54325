"""The workflow as a whole: lint-clean, and the default config's dry run lists every job."""

import re
import subprocess

from conftest import REPO, SNAKEMAKE


def snakemake(*args):
    return subprocess.run([SNAKEMAKE, *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_lint_is_clean():
    result = snakemake("--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr


def test_dry_run_lists_the_whole_default_study():
    result = snakemake("-n", "--forceall", "--quiet", "rules")
    assert result.returncode == 0, result.stderr
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout + result.stderr, re.M))
    for rule in ("prepare_data", "train_baselines", "train_networks"):
        assert counts.get(rule) == "10", (rule, counts)
    for rule in ("aggregate", "theory_hessian", "theory_bounds", "tables", "figures", "report", "all"):
        assert counts.get(rule) == "1", (rule, counts)
