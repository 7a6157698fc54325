"""The results layout has one definition, normbound.layout: every results path the docs
name is one of its paths, the workflow writes only its paths (and every one of them), and
no code in scripts/ or workflow/ spells a results path of its own."""

import glob
import os
import re
import shutil
import subprocess
import sys
import tokenize

import yaml
from helpers import REPO, SWEEP_CONFIG, cell_values, run_workflow, write_config
from normbound import layout

# A results path as docs and code write it: path characters, the docs' placeholders
# ({cell}, {s}, alternatives {a,b}) and globs (*) included.
RESULTS_PATH = re.compile(r"\bresults/(?:[\w.*/-]|\{[\w,]*\})*")
# The docs' placeholders, each filled with a value of its kind: the default study's.
with open(os.path.join(REPO, "config.yaml")) as _handle:
    DEFAULT_CELL = cell_values(yaml.safe_load(_handle))
PLACEHOLDERS = {"{r}": str(DEFAULT_CELL["label_noise"]), "{s}": "0", "{cell}": layout.cell_folder(DEFAULT_CELL), "*": "0"}
# The folders the layout's files lie in, at every depth ("results", "results/data", ...).
FOLDERS = {pattern.rsplit("/", depth)[0] for pattern in layout.FILES for depth in range(1, pattern.count("/") + 1)}
# Code: the Python and Snakemake files of scripts/ and workflow/ but the layout itself.
CODE = sorted({*glob.glob(os.path.join(REPO, "scripts", "**", "*.py"), recursive=True),
               *glob.glob(os.path.join(REPO, "workflow", "**", "*.smk"), recursive=True),
               os.path.join(REPO, "workflow", "Snakefile")} - {os.path.abspath(layout.__file__)})
DOCS = [os.path.join(REPO, "README.md"), *sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))]


def described(path, patterns) -> bool:
    """Whether ``path`` (without the docs' placeholders) is one of ``patterns``' paths."""
    return any(layout.parse(pattern, path) is not None for pattern in patterns)


def filled(path) -> list:
    """The paths that a documented ``path`` names: each alternative of ``{a,b}``, its
    placeholders filled in, without a trailing slash or full stop."""
    path = path.rstrip("./")
    alternatives = re.search(r"\{(\w+(?:,\w+)+)\}", path)
    if alternatives:
        return [p for choice in alternatives.group(1).split(",")
                for p in filled(path[:alternatives.start()] + choice + path[alternatives.end():])]
    for placeholder, value in PLACEHOLDERS.items():
        path = path.replace(placeholder, value)
    return [path]


def texts(path):
    """``(line, text, is_code)`` for each string and comment of a Python or Snakemake
    file; a string that is a statement of its own (a docstring) is not code."""
    with open(path, encoding="utf-8") as handle:
        tokens = list(tokenize.generate_tokens(handle.readline))
    starts = (tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT)
    for i, token in enumerate(tokens):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string, False
        elif token.type == tokenize.STRING:
            alone = (i == 0 or tokens[i - 1].type in starts) and tokens[i + 1].type in (tokenize.NEWLINE,
                                                                                         tokenize.ENDMARKER)
            yield token.start[0], token.string, not alone


def documented_paths() -> list:
    """``(where, path)`` for every results path in the README, docs/ and the docstrings
    and comments of scripts/ and workflow/."""
    found = []
    for doc in DOCS:
        with open(doc, encoding="utf-8") as handle:
            found += [(f"{os.path.relpath(doc, REPO)}:{n}", m) for n, line in enumerate(handle, 1)
                      for m in RESULTS_PATH.findall(line)]
    for code in CODE:
        found += [(f"{os.path.relpath(code, REPO)}:{n + text[:m.start()].count(chr(10))}", m.group())
                  for n, text, is_code in texts(code) if not is_code for m in RESULTS_PATH.finditer(text)]
    return found


def test_fill_and_parse_are_inverse():
    values = dict(label_noise=0.04, hidden=100, steps=10000, seed=3)
    path = layout.fill(layout.SEED_NETWORKS, **values)
    assert path == "results/noise0.04_h100_steps10000/seed3/networks.csv"
    assert layout.parse(layout.SEED_NETWORKS, path) == {key: str(value) for key, value in values.items()}
    assert layout.parse(layout.SEED_NETWORKS, layout.fill(layout.DATA_NPZ, **values)) is None


def test_command_line_prints_a_filled_pattern():
    result = subprocess.run([sys.executable, "-m", "normbound.layout", "BENCHMARK", "rule=*", "job=*"],
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.path.join(REPO, "scripts")})
    assert result.returncode == 0, result.stderr
    assert result.stdout == layout.benchmark("*", "*") + "\n" == "results/benchmarks/*/*.tsv\n"


def test_every_documented_results_path_is_in_the_layout():
    paths = documented_paths()
    assert len(paths) > 20, paths  # the README's table of outputs at least
    wrong = [(where, path) for where, path in paths
             if not all(described(p, layout.FILES) or described(p, FOLDERS) for p in filled(path))]
    assert not wrong, f"results paths that normbound.layout does not describe: {wrong}"


def test_no_code_spells_a_results_path():
    # A results path in code must be normbound.layout's, never a literal of its own.
    spelled = [f"{os.path.relpath(code, REPO)}:{n}: {text}" for code in CODE for n, text, is_code in texts(code)
               if is_code and (RESULTS_PATH.search(text) or re.fullmatch(r"[rbuf]*(['\"])results\1", text))]
    assert not spelled, "\n".join(spelled)


def test_the_workflow_writes_the_layout_and_nothing_else(tmp_path):
    # A sweep, so that every kind of file is planned (the sweep's tables and figures too).
    write_config(tmp_path, base=SWEEP_CONFIG)
    plan = run_workflow(tmp_path, "-n", timeout=300).stdout
    written = {path for paths in re.findall(r"^\s+(?:output|log|benchmark): (.*)$", plan, re.M)
               for path in paths.split(", ")}
    outside = {path for path in written if not described(path, layout.FILES)}
    assert not outside, f"the workflow writes paths that normbound.layout does not describe: {outside}"
    used = {pattern for pattern in layout.FILES if any(layout.parse(pattern, p) is not None for p in written)}
    # Only Snakemake's own report (docs/method.md) and, without LaTeX, the PDF are not planned.
    unplanned = {layout.SNAKEMAKE_REPORT} | (set() if shutil.which("latexmk") else {layout.REPORT_PDF})
    assert used == set(layout.FILES) - unplanned
