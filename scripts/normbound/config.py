"""The study's config: the JSON-Schema check and the cross-key checks a schema cannot
express, with one short message per mistake that names the key, the value and what was
expected.

Torch-free by design: the workflow runs these checks while Snakemake parses the
Snakefile, before any job, on a login node that may have no GPU. Whether CUDA exists is
checked where training runs (:func:`normbound.train.pick_device`), not here.
"""

from __future__ import annotations

import itertools
import math
import os

from . import MODELS, SWEEP_AXES
from .data import BREAST_CANCER_ROWS, DataError, load_dataset, split_sizes
from .penalties import PENALTIES, notebook


class ConfigError(ValueError):
    """A config mistake; the message names the key, the value and what was expected."""


def validate(config: dict, schema_path: str) -> None:
    """Check ``config`` against the schema and fill in its defaults (Snakemake's
    ``validate``); a violation becomes one :class:`ConfigError` paragraph instead of
    Snakemake's dump of the whole schema."""
    import jsonschema
    from snakemake.utils import validate as snakemake_validate

    try:
        snakemake_validate(config, schema_path)
    except Exception as err:  # Snakemake raises a WorkflowError while handling jsonschema's
        cause = err.__context__
        if not isinstance(cause, jsonschema.ValidationError):
            raise ConfigError(str(err).strip().splitlines()[0]) from None
        raise ConfigError(schema_message(cause)) from None


def schema_message(error) -> str:
    """One paragraph for a ``jsonschema.ValidationError``: the key, the value and what
    was expected (the key's description in the schema). A key that takes one value or a
    list (``oneOf``) is explained by the alternative of the value's own type: a list's
    first wrong item, not "is not of type 'number'"."""
    expected = error.schema.get("description", "") if isinstance(error.schema, dict) else ""
    if error.validator == "oneOf" and error.context:
        error = chosen_alternative(error)
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        unknown = sorted(set(error.instance) - set(schema.get("properties", {})))
        known = ", ".join(schema.get("properties", {}))
        return f"unknown config key {', '.join(repr(k if not where else f'{where}.{k}') for k in unknown)} (known keys{' of ' + where if where else ''}: {known})"
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        key = ".".join(filter(None, [where, *missing[:1]]))
        expected = schema.get("properties", {}).get(missing[0], {}).get("description", "") if missing else ""
        return f"config key '{key}' is missing" + (f"; expected: {expected}" if expected else "")
    text = f"config key '{where}': {error.message[:200]}"
    if repr(error.instance) not in text:
        text += f" (value: {error.instance!r})"
    expected = schema.get("description", "") or expected
    return text + (f"; expected: {expected}" if expected else "")


def chosen_alternative(error):
    """The error of the ``oneOf`` alternative that matches the value's type (the one
    without a type error at the value itself), else of the first alternative: a value of
    neither type is told the single value's type, as before lists were allowed."""
    by_alternative = {}
    for sub in error.context:
        by_alternative.setdefault(sub.relative_schema_path[0], []).append(sub)
    for subs in by_alternative.values():
        if not any(sub.validator == "type" and not sub.relative_path for sub in subs):
            return subs[0]
    return by_alternative[min(by_alternative)][0]


def check_config(config: dict) -> None:
    """The rules a JSON-Schema cannot say: finite numbers, a λ grid for every penalised
    model asked for, the notebook's λ inside the grids, a usable dataset (a CSV file is
    read and checked). Raises :class:`ConfigError`."""

    def walk(value, key):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{key}.{k}" if key else k)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{key}[{i}]")
        elif isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"config key '{key}': {value} is not a finite number")

    walk(config, "")
    penalty_keys(config)
    count = len(cells(config))
    # .get: a config read without the schema's defaults (benchmark.py on a bare GPU image).
    if count > MAX_CELLS and not config.get("confirm_large_sweep"):
        raise ConfigError(f"config key 'confirm_large_sweep': the lists of {', '.join(SWEEP_AXES)} make {count} "
                          f"study cells (each trained for every seed), more than {MAX_CELLS}; set "
                          f"confirm_large_sweep: true to run them")
    for name, lam in config["notebook_lambdas"].items():
        model, grid = PENALTIES[name].model, config["lambdas"].get(name)
        if model in config["models"] and lam not in grid:
            raise ConfigError(f"config key 'notebook_lambdas.{name}': {lam} is not in lambdas.{name} {grid} "
                              f"(the notebook's comparison row needs a network trained at that λ)")
    dataset = config["dataset"]
    try:
        if dataset["source"] == "breast_cancer":
            n = BREAST_CANCER_ROWS
        else:
            n = len(load_dataset(dataset["source"], dataset["target"])[1])
        n_train, _ = split_sizes(n, config["test_fraction"], config["validation_fraction"])
    except DataError as err:
        raise ConfigError(f"config key {err}") from None
    folds = config["validation_folds"]
    if folds > 1 and n_train // folds < 2:
        raise ConfigError(f"config key 'validation_folds': {folds} folds of {n_train} training points leave fewer "
                          f"than 2 validation points in a fold")


def penalty_keys(config: dict) -> None:
    """The names the schema leaves to :mod:`normbound.penalties`: models, and the keys of
    lambdas and notebook_lambdas, checked; the defaults filled in (every model; a listed
    model's grid and the notebook's λ, from its penalty)."""
    config.setdefault("models", list(MODELS))
    for i, model in enumerate(config["models"]):
        if model not in MODELS:
            raise ConfigError(f"config key 'models[{i}]': {model!r} is not one of {list(MODELS)}; expected: a model "
                              f"of scripts/normbound/penalties.py, nn_<key>, or rf, svc, nn")
    for key, known in (("lambdas", list(PENALTIES)), ("notebook_lambdas", notebook())):
        unknown = sorted(set(config.get(key, {})) - set(known))
        if unknown:
            raise ConfigError(f"unknown config key {', '.join(repr(f'{key}.{k}') for k in unknown)} "
                              f"(known keys of {key}: {', '.join(known)})")
    config["notebook_lambdas"] = {**{k: PENALTIES[k].notebook_lambda for k in notebook()},
                                  **config.get("notebook_lambdas", {})}
    for name, penalty in PENALTIES.items():
        if penalty.model in config["models"] and name not in config["lambdas"]:
            if not penalty.lambdas:
                raise ConfigError(f"config key 'lambdas.{name}' is missing; expected: the λ grid of "
                                  f"{penalty.model}, which models lists")
            config["lambdas"][name] = list(penalty.lambdas)


# A sweep of more cells than this runs only with confirm_large_sweep: true (a typo in a
# list should not queue thousands of jobs).
MAX_CELLS = 200


def axis_values(config: dict, key: str) -> list:
    """The values of sweep axis ``key``: its list, or its one value."""
    value = config[key]
    return list(value) if isinstance(value, list) else [value]


def swept(config: dict) -> list:
    """The sweep axes with more than one value, in :data:`SWEEP_AXES` order."""
    return [key for key in SWEEP_AXES if len(axis_values(config, key)) > 1]


def cells(config: dict) -> list:
    """Every study cell (one value of each sweep axis, ``{key: value}``), the lists'
    orders kept: the first cell holds the first value of each list."""
    lists = [axis_values(config, key) for key in SWEEP_AXES]
    return [dict(zip(SWEEP_AXES, values)) for values in itertools.product(*lists)]


def cell_config(config: dict, cell: dict | None = None) -> dict:
    """``config`` as one cell sees it: each sweep axis set to ``cell``'s value. Without
    ``cell``, the first cell: the one the report's single-cell sections show, and what a
    script run by hand on a sweep's config uses (a config of single values is unchanged)."""
    return {**config, **(cell or report_cell(config))}


def check(config: dict, schema_path: str) -> dict:
    """Schema with defaults, then the cross-key checks; returns ``config`` (filled in)."""
    validate(config, schema_path)
    check_config(config)
    return config


def load_config(path: str, schema_path: str) -> dict:
    """Read and check a config file as the workflow does, for scripts run by hand. A
    mistake ends the program with the same one-paragraph message the workflow prints,
    prefixed by the file's name (``SystemExit``: no stack trace)."""
    import yaml

    try:
        with open(path) as handle:
            config = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as err:
        raise SystemExit(f"{path}: cannot read the config file ({err})") from None
    if not isinstance(config, dict):
        raise SystemExit(f"{path}: expected a mapping of config keys, found {type(config).__name__}")
    try:
        return check(config, schema_path)
    except ConfigError as err:
        raise SystemExit(f"{path}: {err}") from None


def report_cell(config: dict) -> dict:
    """The cell that the report's single-cell sections show, and that a script run by hand
    on a sweep's config reads: the first (each swept key's first value)."""
    return cells(config)[0]


# The config keys each stage reads: a rule's params (workflow/rules/common.smk), so that
# changing a key reruns exactly the stages that read it; by hand, the same keys.
STAGE_KEYS = {
    "data": ("dataset", "label_noise", "test_fraction", "validation_fraction"),
    "baselines": ("models",),
    "networks": ("models", "hidden", "init_scale", "lr", "lr_schedule", "steps", "lambdas", "curve_every",
                 "device", "batch_size", "compile", "validation_folds"),
}
# The robustness block's keys that the attack reads; its ε are the report's (tables, figures).
ATTACK_KEYS = ("restarts", "steps")


def stage_settings(config: dict, stage: str, cell: dict) -> dict:
    """The part of the config that ``stage`` reads, each sweep axis at ``cell``'s value
    (a job's cell; by hand, :func:`report_cell`)."""
    return {key: cell[key] if key in SWEEP_AXES else config[key] for key in STAGE_KEYS[stage]}


def attack_settings(config: dict) -> dict:
    return {key: config["robustness"][key] for key in ATTACK_KEYS}


def table_settings(config: dict, notebook_settings: dict) -> dict:
    """The config keys the tables read: those that the notebook's settings name
    (report/notebook_reference.yaml), at the report's cell, and the robustness table's ε."""
    at_cell = cell_config(config, report_cell(config))
    return {**{key: at_cell[key] for key in notebook_settings},
            "robustness": {"table_epsilons": config["robustness"]["table_epsilons"]}}


# The schema's place in the repository, found from this package's own, so that a script
# run by hand from any folder finds it; the workflow passes its own.
DEFAULT_SCHEMA = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "workflow",
                                               "schemas", "config.schema.yaml"))


def add_config_arguments(parser) -> None:
    """``--config`` and ``--schema`` for a script run by hand."""
    parser.add_argument("--config", default="config.yaml", help="study config (default: config.yaml)")
    parser.add_argument("--schema", default=DEFAULT_SCHEMA, help=f"config schema (default: {DEFAULT_SCHEMA})")
