"""Every stage runs by hand: each script's ``--help``, the command lines the README and the
scripts' own help show, and steps run by hand against what the workflow wrote."""

import argparse
import glob
import importlib
import os
import re
import shlex
import subprocess
import sys

import pytest
from helpers import REPO, SCHEMA, SMALL_CONFIG, baselines_file, data_file, read_bytes, seed_folder

# The stage scripts: each declares its entry point (normbound.entry), benchmark.py has its own main.
SCRIPTS = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(REPO, "scripts", "*.py"))
                 if re.search(r"^(def main\(|main = SCRIPT\.main$)", open(p).read(), re.M))


def test_every_stage_script_is_found():
    assert {"prepare_data", "train_baselines", "train_networks", "robustness", "aggregate", "tables", "figures",
            "make_report", "theory_hessian", "theory_random", "theory_bounds"} <= set(SCRIPTS)


@pytest.mark.parametrize("name", SCRIPTS)
def test_help(name, capsys):
    module = importlib.import_module(name)
    with pytest.raises(SystemExit) as stop:
        module.main(["--help"])
    out = capsys.readouterr().out
    assert stop.value.code == 0 and out.startswith("usage:")
    # The help is the module's description: what it does, and how to run it by hand.
    assert module.__doc__.strip().splitlines()[0] in out


def test_help_as_a_program():
    result = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "prepare_data.py"), "--help"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("usage:"), result.stderr


def test_by_hand_from_another_folder_finds_the_schema(tmp_path):
    """The schema's default is found from the package, not the working folder."""
    result = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "prepare_data.py"), "--seed", "0",
                             "--npz", "seed0.npz", "--json", "seed0.json", "--config", os.path.join(REPO, "config.yaml")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and (tmp_path / "seed0.npz").exists(), result.stderr


class Parsed(Exception):
    """Raised instead of running a script once its command line parsed."""


def by_hand_commands():
    """``(script, argv)`` for every command line shown in the README and in the scripts'
    help ("By hand:"), placeholders such as ``<script>`` left out."""
    texts = [open(os.path.join(REPO, "README.md")).read()]
    texts += [importlib.import_module(name).__doc__ for name in SCRIPTS]
    commands = []
    for text in texts:
        for line in re.findall(r"^\s*(?:By hand:)?\s*(?:\.venv/bin/)?python (scripts/\S+\.py(?:\\\n|[^\n])*)",
                               text, re.M):
            words = shlex.split(line.replace("\\\n", " "), comments=True)
            if "<" not in words[0]:
                commands.append((os.path.basename(words[0])[:-3], words[1:]))
    return commands


def test_by_hand_commands_are_found():
    assert {script for script, _ in by_hand_commands()} >= {"prepare_data", "train_networks", "aggregate"}


@pytest.mark.parametrize("script, argv", by_hand_commands(), ids=lambda x: x if isinstance(x, str) else "")
def test_by_hand_command_parses(script, argv, monkeypatch):
    # The documented command must name the script's current options; nothing runs.
    def parse(parser, args=None, namespace=None):
        raise Parsed(original(parser, args, namespace))

    original = argparse.ArgumentParser.parse_args
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse)
    with pytest.raises(Parsed):
        importlib.import_module(script).main(argv)


def run_main(name, *argv, cwd):
    """``scripts/<name>.py argv`` run by hand (in-process) in the folder ``cwd``."""
    here = os.getcwd()
    os.chdir(cwd)
    try:
        importlib.import_module(name).main([*map(str, argv)])
    finally:
        os.chdir(here)


@pytest.mark.slow
def test_steps_by_hand_equal_the_workflow(small_study, tmp_path):
    """Data, baselines, aggregation and tables, run by hand on the workflow's inputs,
    write byte for byte what the workflow's jobs wrote."""
    results = small_study / "results"
    config = ["--config", small_study / "config.yaml", "--schema", SCHEMA]
    run_main("prepare_data", "--seed", 1, "--npz", tmp_path / "seed1.npz", "--json", tmp_path / "seed1.json",
             *config, cwd=tmp_path)
    run_main("train_baselines", "--seed", 1, "--data", data_file(results, 1, "npz"),
             "--out", tmp_path / "baselines.csv", "--svc", tmp_path / "svc.npz", *config, cwd=tmp_path)
    run_main("robustness", "--seed", 1, "--data", data_file(results, 1, "npz"),
             "--networks", os.path.join(seed_folder(results, 1), "networks.csv"),
             "--weights", os.path.join(seed_folder(results, 1), "weights.npz"),
             "--svc", tmp_path / "svc.npz", "--out", tmp_path / "robustness1.csv", *config, cwd=tmp_path)
    seeds = SMALL_CONFIG["seeds"]
    files = {kind: [os.path.join(seed_folder(results, s), f"{kind}.csv") for s in seeds]
             for kind in ("networks", "validation", "curves", "robustness")}
    files["baselines"] = [baselines_file(results, s) for s in seeds]
    run_main("aggregate", *[a for kind, paths in files.items() for a in (f"--{kind}", *paths)],
             "--out-metrics", tmp_path / "metrics.csv", "--out-selection", tmp_path / "selection.csv",
             "--out-curves", tmp_path / "curves.csv", "--out-robustness", tmp_path / "robustness.csv", *config,
             cwd=tmp_path)
    names = [os.path.basename(p)[:-4] for p in glob.glob(str(results / "tables" / "*.csv"))]
    run_main("tables", "--metrics", tmp_path / "metrics.csv", "--selection", tmp_path / "selection.csv",
             "--curves", tmp_path / "curves.csv", "--robustness", tmp_path / "robustness.csv",
             "--reference", os.path.join(REPO, "report", "notebook_reference.yaml"),
             "--out", *[f"{n}={tmp_path / n}.csv" for n in names], *config, cwd=tmp_path)
    pairs = {"seed1.json": data_file("", 1, "json"), "baselines.csv": baselines_file("", 1), "metrics.csv": "metrics.csv",
             "selection.csv": "selection.csv", "curves.csv": "curves.csv",
             "robustness1.csv": os.path.join(seed_folder("", 1), "robustness.csv"), "robustness.csv": "robustness.csv",
             **{f"{n}.csv": f"tables/{n}.csv" for n in names}}
    assert len(names) >= 5
    different = [mine for mine, theirs in pairs.items() if read_bytes(tmp_path / mine) != read_bytes(results / theirs)]
    assert not different, f"by hand differs from the workflow: {different}"
