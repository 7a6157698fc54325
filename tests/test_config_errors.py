"""Bad input is refused before any job runs, with one short paragraph for a person.

Each case of the corpus is one mistake a user can make in config.yaml or in a CSV
dataset. Every case goes through every script that reads the config, run by hand but
in-process (its ``main``): each must stop with the message alone (no stack trace), naming
the key or file and what was expected, and write nothing. A handful of cases, one per
kind of check, start the workflow for real: it must refuse within seconds, before any
job, with the same message the scripts give.
"""

import importlib
import inspect
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import aggregate
import benchmark
import figures
import make_report
import prepare_data
import robustness
import pytest
import tables
import theory_hessian
import train_baselines
import train_networks
from helpers import REPO, SCHEMA, SMALL_CONFIG, run_workflow, workflow_command, write_config

LAMBDAS = SMALL_CONFIG["lambdas"]
# A stack trace, whole ("Traceback") or as the frame lines Snakemake prints without one.
TRACE = re.compile(r"Traceback|^\s+File \".*\", line \d+", re.MULTILINE)

# A usable CSV (40 rows, two features, a 0/1 target); the CSV cases below spoil one thing.
GOOD_CSV_ROWS = [f"{i % 7}.5,{i * 0.25},{i % 2}" for i in range(40)]
CSV_CASES = {
    "csv_empty": "",
    "csv_header_only": "x1,x2,target\n",
    "csv_no_target_column": "x1,x2,label\n" + "\n".join(GOOD_CSV_ROWS) + "\n",
    "csv_custom_target_missing": "x1,x2,target\n" + "\n".join(GOOD_CSV_ROWS) + "\n",
    "csv_target_three_values": "x1,x2,target\n" + "\n".join(f"{i},{i},{i % 3}" for i in range(40)) + "\n",
    "csv_target_one_value": "x1,x2,target\n" + "\n".join(f"{i},{i},1" for i in range(40)) + "\n",
    "csv_missing_value": "x1,x2,target\n" + "\n".join(GOOD_CSV_ROWS[:5]) + "\n1.0,,0\n"
    + "\n".join(GOOD_CSV_ROWS[5:]) + "\n",
    "csv_non_numeric_feature": "x1,colour,target\n" + "\n".join(f"{i},red,{i % 2}" for i in range(40)) + "\n",
    "csv_only_target": "target\n" + "\n".join(str(i % 2) for i in range(40)) + "\n",
    "csv_too_few_rows": "x1,x2,target\n" + "\n".join(GOOD_CSV_ROWS[:8]) + "\n",
    "csv_infinite_value": "x1,x2,target\n" + "\n".join(GOOD_CSV_ROWS[:5]) + "\ninf,1.0,0\n"
    + "\n".join(GOOD_CSV_ROWS[5:]) + "\n",
}

# id -> (config overrides, or raw YAML text for the whole file; substrings the message must
# contain: the key or file it names, and what was expected). "{csv}" is the case's CSV path.
CASES = {
    # wrong types
    "steps_is_text": (dict(steps="many"), ["'steps'", "'many' is not of type 'integer'", "Adam steps"]),
    "steps_is_fraction": (dict(steps=10.5), ["'steps'", "10.5 is not of type 'integer'"]),
    "seeds_not_a_list": (dict(seeds="0,1"), ["'seeds'", "is not of type 'array'"]),
    "seed_is_text": (dict(seeds=[0, "one"]), ["'seeds[1]'", "'one' is not of type 'integer'"]),
    "lambda_grid_is_scalar": (dict(lambdas={**LAMBDAS, "frob": 0.005}), ["'lambdas.frob'", "is not of type 'array'"]),
    "lr_is_text": (dict(lr="fast"), ["'lr'", "is not of type 'number'"]),
    "compile_is_text": (dict(compile="sometimes"), ["'compile'", "is not of type 'boolean'"]),
    "title_empty": (dict(title=""), ["'title'", "should be non-empty"]),
    # out of range and non-finite
    "lambda_negative": (dict(lambdas={**LAMBDAS, "frob": [-0.005, 0.005]}), ["'lambdas.frob[0]'", "minimum of 0"]),
    "lambda_zero": (dict(lambdas={**LAMBDAS, "mix": [0, 0.025]}), ["'lambdas.mix[0]'", "minimum of 0"]),
    "lambda_infinite": (dict(lambdas={**LAMBDAS, "frob": [float("inf"), 0.005]}), ["'lambdas.frob[0]'", "inf"]),
    "lambda_nan": (dict(lambdas={**LAMBDAS, "mix": [float("nan"), 0.025]}),
                   ["'lambdas.mix[0]'", "not a finite number"]),
    "lr_nan": (dict(lr=float("nan")), ["'lr'", "not a finite number"]),
    "label_noise_half": (dict(label_noise=0.5), ["'label_noise'", "maximum of 0.5"]),
    "label_noise_negative": (dict(label_noise=-0.1), ["'label_noise'", "minimum of 0"]),
    "label_noise_nan": (dict(label_noise=float("nan")), ["'label_noise'", "not a finite number"]),
    "test_fraction_zero": (dict(test_fraction=0), ["'test_fraction'", "minimum of 0"]),
    "test_fraction_one": (dict(test_fraction=1.0), ["'test_fraction'", "maximum of 1"]),
    "validation_fraction_above_one": (dict(validation_fraction=1.5), ["'validation_fraction'", "maximum of 1"]),
    "validation_folds_zero": (dict(validation_folds=0), ["'validation_folds'", "minimum of 1"]),
    "validation_folds_too_many": (dict(validation_folds=200), ["'validation_folds'", "200 folds of 284 training points"]),
    "steps_zero": (dict(steps=0), ["'steps'", "minimum of 1"]),
    "steps_negative": (dict(steps=-3), ["'steps'", "minimum of 1"]),
    "hidden_zero": (dict(hidden=0), ["'hidden'", "minimum of 2"]),
    # empty and duplicated lists
    "seeds_empty": (dict(seeds=[]), ["'seeds'", "should be non-empty"]),
    "seeds_duplicated": (dict(seeds=[0, 1, 0]), ["'seeds'", "non-unique elements"]),
    "lambdas_empty": (dict(lambdas={**LAMBDAS, "frob": []}), ["'lambdas.frob'", "should be non-empty"]),
    "lambdas_duplicated": (dict(lambdas={**LAMBDAS, "mix": [0.025, 0.1, 0.025]}),
                           ["'lambdas.mix'", "non-unique elements"]),
    # sweep axes: a list must be non-empty, without repeats, each value valid; a sweep of
    # more than 200 cells asks for confirmation
    "label_noise_list_empty": (dict(label_noise=[]), ["'label_noise'", "should be non-empty", "a list sweeps it"]),
    "hidden_list_duplicated": (dict(hidden=[100, 50, 100]), ["'hidden'", "non-unique elements"]),
    "steps_list_invalid_value": (dict(steps=[300, 0]), ["'steps[1]'", "minimum of 1"]),
    "label_noise_list_invalid_value": (dict(label_noise=[0.04, 0.5]), ["'label_noise[1]'", "maximum of 0.5"]),
    "hidden_list_text": (dict(hidden=[100, "wide"]), ["'hidden[1]'", "'wide' is not of type 'integer'"]),
    "label_noise_list_nan": (dict(label_noise=[0.04, float("nan")]), ["'label_noise[1]'", "not a finite number"]),
    "sweep_too_large": (dict(label_noise=[0.01, 0.02, 0.03], hidden=list(range(2, 70))),
                        ["'confirm_large_sweep'", "204 study cells", "more than 200", "confirm_large_sweep: true"]),
    # unknown and missing keys, unknown names
    "unknown_top_level_key": (dict(learning_rate=0.01), ["unknown config key 'learning_rate'", "known keys"]),
    "unknown_nested_key": (dict(lambdas={**LAMBDAS, "l1": [0.01]}), ["unknown config key 'lambdas.l1'"]),
    "unknown_dataset_key": (dict(dataset={"source": "breast_cancer", "colour": "red"}),
                            ["unknown config key 'dataset.colour'"]),
    "missing_required_key": ({k: v for k, v in SMALL_CONFIG.items() if k != "steps"},
                             ["config key 'steps' is missing"]),
    "unknown_model": (dict(models=["nn", "nn_l1"]), ["'models[1]'", "'nn_l1' is not one of"]),
    "unknown_device": (dict(device="gpu"), ["'device'", "'gpu' is not one of"]),
    "notebook_lambda_not_in_grid": (dict(notebook_lambdas={"frob": 0.003, "mix": 0.025}),
                                    ["notebook_lambdas.frob", "not in lambdas.frob"]),
    "notebook_lambda_of_a_comparator": (dict(notebook_lambdas={"frob": 0.005, "spec": 0.1}),
                                        ["unknown config key 'notebook_lambdas.spec'", "known keys of notebook_lambdas"]),
    # the config file itself (the workflow's wording is Snakemake's, see WORKFLOW_WORDING)
    "yaml_syntax_error": ("seeds: [0, 1\nsteps: 10\n", ["config.yaml", "cannot read the config file"]),
    "yaml_not_a_mapping": ("- 0\n- 1\n", ["config.yaml", "expected a mapping of config keys"]),
    # CSV datasets
    "csv_missing_file": (dict(dataset={"source": "{csv}"}), ["{csv}", "no such file"]),
    "csv_empty": (dict(dataset={"source": "{csv}"}), ["{csv}", "not a readable CSV"]),
    "csv_header_only": (dict(dataset={"source": "{csv}"}), ["{csv}", "0 rows"]),
    "csv_no_target_column": (dict(dataset={"source": "{csv}"}), ["dataset.target", "'target' not in"]),
    "csv_custom_target_missing": (dict(dataset={"source": "{csv}", "target": "outcome"}),
                                  ["dataset.target", "'outcome' not in"]),
    "csv_target_three_values": (dict(dataset={"source": "{csv}"}), ["dataset.target", "must be binary", "found 3"]),
    "csv_target_one_value": (dict(dataset={"source": "{csv}"}), ["dataset.target", "must be binary", "found 1"]),
    "csv_missing_value": (dict(dataset={"source": "{csv}"}), ["{csv}", "missing values in column(s) x2"]),
    "csv_non_numeric_feature": (dict(dataset={"source": "{csv}"}), ["{csv}", "non-numeric feature column(s) colour"]),
    "csv_only_target": (dict(dataset={"source": "{csv}"}), ["{csv}", "no feature columns"]),
    "csv_too_few_rows": (dict(dataset={"source": "{csv}"}), ["{csv}", "8 rows", "at least"]),
    "csv_infinite_value": (dict(dataset={"source": "{csv}"}), ["{csv}", "infinite values in column(s) x1"]),
}
# Snakemake reads the config file before the workflow sees it, and words these itself.
WORKFLOW_WORDING = {
    "yaml_syntax_error": ["Config file is not valid JSON or YAML"],
    "yaml_not_a_mapping": ["Config file must be given as JSON or YAML with keys at top level"],
}
# One case per kind of check, run through the workflow: the schema, a cross-key rule, a
# non-finite number, an unknown key, a CSV dataset, a sweep axis's list, the sweep's size,
# and the file itself (twice: the workflow's wording is Snakemake's there).
END_TO_END = ["steps_is_text", "notebook_lambda_not_in_grid", "lambda_nan", "unknown_nested_key",
              "csv_missing_value", "steps_list_invalid_value", "sweep_too_large", *WORKFLOW_WORDING]
# "Within seconds": a refusal takes about 2 s on an idle 2-core machine, nearly all of it
# CPU time in one process (Python, Snakemake, the check). The suite measures the CPU time
# (processor seconds, which the studies built beside it do not stretch as they stretch
# wall time); the bound leaves room for a slower processor.
REFUSAL_SECONDS = 10
# A short paragraph: the message, and Snakemake's one line about the config file.
MAX_LINES = 3


def _substitute(value, csv):
    """``value`` with every "{csv}" replaced by the case's CSV path."""
    if isinstance(value, dict):
        return {k: _substitute(v, csv) for k, v in value.items()}
    return value.replace("{csv}", csv) if isinstance(value, str) else value


def write_case(name, folder):
    """Write case ``name``'s config.yaml (and CSV) into ``folder``; returns the CSV's path."""
    os.makedirs(folder)
    config, _ = CASES[name]
    csv = os.path.join(folder, f"{name}.csv")
    if name in CSV_CASES:
        with open(csv, "w") as handle:
            handle.write(CSV_CASES[name])
    if isinstance(config, str):
        with open(os.path.join(folder, "config.yaml"), "w") as handle:
            handle.write(config)
    elif name == "missing_required_key":
        write_config(folder, base=config)
    else:
        write_config(folder, **_substitute(config, csv))
    return csv


# Every script that reads the config, with the arguments it needs besides --config
# (paths into the folder "out", which must stay empty, and inputs that need not exist:
# the config is checked first).
SCRIPTS = {
    prepare_data: ["--seed", "0", "--npz", "out/d.npz", "--json", "out/d.json"],
    train_baselines: ["--seed", "0", "--data", "in.npz", "--out", "out/b.csv"],
    train_networks: ["--seed", "0", "--data", "in.npz", "--networks", "out/n.csv", "--validation", "out/v.csv",
                     "--curves", "out/c.csv", "--weights", "out/w.npz"],
    aggregate: ["--out-metrics", "out/m.csv", "--out-selection", "out/s.csv", "--out-curves", "out/c.csv",
                "--out-robustness", "out/r.csv"],
    robustness: ["--seed", "0", "--data", "in.npz", "--out", "out/r.csv"],
    tables: ["--metrics", "m.csv", "--selection", "s.csv", "--curves", "c.csv", "--robustness", "r.csv",
             "--out", "fidelity=out/f.csv"],
    figures: ["--metrics", "m.csv", "--selection", "s.csv", "--curves", "c.csv", "--robustness", "r.csv",
              "--outdir", "out"],
    benchmark: ["--out", "out/cpu.json"],
    theory_hessian: ["--json", "out/e.json", "--figdir", "out"],
    make_report: ["--tables", "t", "--figures", "f", "--theory", "th", "--benchmarks", "b", "--html", "out/r.html",
                  "--tex", "out/r.tex"],
}


def script_message(script, folder) -> str:
    """What ``script`` run by hand in ``folder`` on its config.yaml prints: the message of
    the SystemExit it ends with. Any other exception fails the test with its trace."""
    here = os.getcwd()
    os.chdir(folder)
    try:
        with pytest.raises(SystemExit) as stop:
            script.main([*SCRIPTS[script], "--config", "config.yaml", "--schema", SCHEMA])
    finally:
        os.chdir(here)
    assert not os.path.exists(os.path.join(folder, "out")), f"{script.__name__} wrote before the refusal"
    assert isinstance(stop.value.code, str), f"{script.__name__}: exit {stop.value.code!r} without a message"
    return stop.value.code


def test_corpus_covers_every_kind_of_mistake():
    assert len(CASES) >= 52
    assert set(CSV_CASES) <= set(CASES) and set(WORKFLOW_WORDING) <= set(END_TO_END) <= set(CASES)


def test_every_script_that_reads_the_config_is_in_the_corpus():
    # A new script with --config must be added to SCRIPTS, or its refusals go untested.
    def reads_config(name):
        module = importlib.import_module(name)
        script = getattr(module, "SCRIPT", None)  # normbound.entry's, where the script declares one
        return script.reads_config if script else "add_config_arguments" in inspect.getsource(module)

    names = [name[:-3] for name in os.listdir(os.path.join(REPO, "scripts")) if name.endswith(".py")]
    assert {name for name in names if reads_config(name)} == {script.__name__ for script in SCRIPTS}


@pytest.mark.parametrize("name", sorted(CASES))
def test_scripts_by_hand_refuse_with_the_message(tmp_path, name):
    folder = str(tmp_path / name)
    csv = write_case(name, folder)
    messages = {script.__name__: script_message(script, folder) for script in SCRIPTS}
    first = messages["prepare_data"]
    assert set(messages.values()) == {first}, f"{name}: the scripts word it differently: {messages}"
    # One short paragraph (a YAML syntax error adds the line and column it was found at).
    assert first.startswith("config.yaml: ") and len(first.splitlines()) <= 4 and len(first) < 600, first
    for expected in CASES[name][1]:
        assert expected.replace("{csv}", csv) in first, f"{name}: {expected!r} not in the message: {first}"


def cpu_timed(command, log) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``command`` (its output to ``log``.out and .err); its result, and the CPU time
    it and the processes it waited for took (os.wait4's accounting)."""
    with open(f"{log}.out", "w") as out, open(f"{log}.err", "w") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    with open(f"{log}.out") as out, open(f"{log}.err") as err:
        result = subprocess.CompletedProcess(command, process.returncode, out.read(), err.read())
    return result, usage.ru_utime + usage.ru_stime


@pytest.fixture(scope="module")
def refusals(tmp_path_factory):
    """The END_TO_END cases through the workflow, three at a time: (folder, result,
    seconds, CSV path) each."""
    root = tmp_path_factory.mktemp("bad_configs")

    def refuse(name):
        folder = str(root / name)
        csv = write_case(name, folder)
        # A real run, so that "nothing was created" means something; --until bounds what a
        # wrongly accepted config would cost (one cheap stage instead of the study).
        result, seconds = cpu_timed(workflow_command(folder, "--until", "prepare_data"), os.path.join(folder, "run"))
        return folder, result, seconds, csv

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(END_TO_END, pool.map(refuse, END_TO_END)))


@pytest.mark.parametrize("name", END_TO_END)
def test_workflow_refuses_within_seconds_before_any_job(refusals, name):
    folder, result, seconds, csv = refusals[name]
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"{name} was accepted:\n{output[-2000:]}"
    assert not os.path.exists(os.path.join(folder, "results")), f"{name}: a job ran before the refusal"
    assert seconds < REFUSAL_SECONDS, f"{name}: refused after {seconds:.1f} s of CPU time"
    assert not TRACE.search(output), f"{name}: a stack trace instead of a message:\n{output}"
    assert len(output.strip().splitlines()) <= MAX_LINES, f"{name}: more than a short paragraph:\n{output}"
    if name in WORKFLOW_WORDING:
        for expected in WORKFLOW_WORDING[name]:
            assert expected in output, f"{name}: {expected!r} not in:\n{output}"
    else:
        # The scripts' message, without the file name they put first.
        message = script_message(prepare_data, folder).removeprefix("config.yaml: ")
        assert f"Invalid config: {message}" in output, f"{name}: not the scripts' message {message!r}:\n{output}"


def test_a_missing_grid_or_notebook_lambda_is_the_penalty_default():
    from normbound.config import check
    from normbound.penalties import PENALTIES

    config = check({**SMALL_CONFIG, "lambdas": {"frob": [0.005]}, "models": ["nn", "nn_frob", "nn_spec"]}, SCHEMA)
    assert config["lambdas"] == {"frob": [0.005], "spec": list(PENALTIES["spec"].lambdas)}
    assert config["notebook_lambdas"] == {"frob": 0.005, "mix": 0.025}


def test_good_small_config_is_accepted(tmp_path):
    # Guards the corpus: if the base config were itself refused, every case would pass.
    write_config(tmp_path)
    result = run_workflow(tmp_path, "-n", check=False, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_message_is_one_line_without_a_stack_trace_when_run_as_a_program(tmp_path):
    # In-process, SystemExit's message is what Python prints; this checks that it is.
    folder = str(tmp_path / "case")
    write_case("steps_is_text", folder)
    result = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "prepare_data.py"),
                             *SCRIPTS[prepare_data], "--config", "config.yaml", "--schema", SCHEMA],
                            cwd=folder, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and not TRACE.search(result.stderr), result.stderr
    assert result.stderr.strip() == script_message(prepare_data, folder)
