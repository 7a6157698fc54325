"""Every stage script runs by hand: ``python scripts/<x>.py --help`` (issue: one step by hand)."""

import glob
import os
import subprocess
import sys

import pytest

from conftest import REPO

STAGE_SCRIPTS = sorted(p for p in glob.glob(os.path.join(REPO, "scripts", "*.py"))
                       if "def main(" in open(p).read())


def test_every_stage_script_is_found():
    names = {os.path.basename(p) for p in STAGE_SCRIPTS}
    assert {"prepare_data.py", "train_baselines.py", "train_networks.py", "aggregate.py"} <= names


@pytest.mark.parametrize("script", STAGE_SCRIPTS, ids=os.path.basename)
def test_help(script):
    result = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def test_a_step_by_hand_equals_the_workflow(small_study, tmp_path):
    """prepare_data.py from the command line writes what the workflow's rule wrote."""
    subprocess.run([sys.executable, os.path.join(REPO, "scripts", "prepare_data.py"), "--seed", "1",
                    "--npz", str(tmp_path / "seed1.npz"), "--json", str(tmp_path / "seed1.json"),
                    "--config", str(small_study / "config.yaml")], check=True, timeout=120)
    assert (tmp_path / "seed1.json").read_text() == (small_study / "results" / "data" / "seed1.json").read_text()
