"""One entry point for every rule's script, from the workflow or from the command line.

A script declares its ``run``'s keyword arguments once, each an :class:`Arg` saying where
its value comes from in a job (the rule's ``input``, ``output``, ``params``, ``wildcards``
or ``threads``) and by hand (an option ``--name``, generated; a results path's default is
:mod:`normbound.layout`'s). A rule's params are worked out from the config by a function
of :mod:`normbound.config` that the workflow calls too; by hand the same function reads
the checked ``--config``, so neither route derives a value its own way. The report's cell
(:data:`REPORT_CELL`) is the one value every route shares.

    SCRIPT = entry.Script(__doc__, run, data=entry.inp("arrays from prepare_data.py"), ...)
    main = SCRIPT.main

    if __name__ == "__main__":
        SCRIPT.start(globals())
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Callable

from . import config as study_config
from . import io


@dataclass(frozen=True)
class Arg:
    """One keyword argument: ``workflow(snakemake, name)`` in a job (None: the run's
    default holds); by hand, ``by_hand(args, name, config)`` of the parsed command line
    (None: the option's value, ``args.<name>``), with the option ``flag`` (default
    ``--name``) made from ``option``, argparse's keywords (None: no option), and
    ``config`` the checked config where ``reads_config``."""

    workflow: Callable | None
    option: dict | None = None
    by_hand: Callable | None = None
    flag: str | None = None
    reads_config: bool = False


def rule_value(smk, section: str, key, many: bool = False, optional: bool = False):
    """The rule's ``section`` entry ``key`` (a name, or the position of an unnamed one)."""
    where = getattr(smk, section)
    value = where.get(key) if optional else where[key]
    if not many:
        return value
    # A rule may give one file where another of its modes gives several (train_networks per seed or per cell).
    return [value] if isinstance(value, str) else list(value)


def path(section: str, help: str, key=None, *, many=False, optional=False, default=None, flag=None) -> Arg:
    """A file (``many``: a list) of the rule's ``section``, input or output; by hand an
    option, required unless ``optional`` or given a ``default``."""
    option = (dict(help=help, nargs="*", default=[]) if many else
              dict(help=help + (f" (default: {default})" if default else ""), default=default,
                   required=not optional and default is None))
    return Arg(lambda smk, name: rule_value(smk, section, name if key is None else key, many, optional), option, flag=flag)


def inp(help: str, key=None, **kwargs) -> Arg:
    return path("input", help, key, **kwargs)


def out(help: str, key=None, **kwargs) -> Arg:
    return path("output", help, key, **kwargs)


def param(from_config: Callable) -> Arg:
    """A rule's param of the same name; by hand ``from_config(config)``, the function the
    workflow's param is made with."""
    return Arg(lambda smk, name: smk.params[name], by_hand=lambda args, name, config: from_config(config),
               reads_config=True)


def wildcard(help: str, type: Callable = int) -> Arg:
    return Arg(lambda smk, name: type(smk.wildcards[name]), dict(help=help, type=type, required=True))


def threads(default: int | None, help: str) -> Arg:
    return Arg(lambda smk, name: smk.threads, dict(type=int, default=default, help=help))


def option(help: str, **kwargs) -> Arg:
    """By hand only: in a job the run's default holds."""
    return Arg(None, dict(help=help, **kwargs))


def figure_outputs(names, flag: str = "--figdir") -> Arg:
    """Figures ``name -> (pdf, png)``: the rule's named outputs; by hand ``names`` in a
    folder (``names``: a list, or a function of the config)."""
    from . import plots  # matplotlib: imported by the scripts that draw alone

    names_of = names if callable(names) else lambda config: names
    return Arg(lambda smk, name: plots.outputs(smk.output),
               dict(help="folder for <name>.pdf and <name>.png", required=True),
               lambda args, name, config: plots.files_in(getattr(args, name), names_of(config)), flag=flag,
               reads_config=callable(names))


# The report's cell: the config's first (normbound.config.report_cell), in a job the rule's param ``cell``.
REPORT_CELL = param(study_config.report_cell)


def stage_settings(stage: str) -> Arg:
    """The config keys that ``stage`` reads (:func:`normbound.config.stage_settings`): in a
    job, at its cell's values; by hand, at the report's cell."""
    return param(lambda config: study_config.stage_settings(config, stage, study_config.report_cell(config)))


class Script:
    """A rule's script: ``run(**arguments)``, each argument an :class:`Arg`."""

    def __init__(self, doc: str, run: Callable, **args: Arg):
        self.doc, self.run, self.args = doc, run, args

    @property
    def reads_config(self) -> bool:
        return any(arg.reads_config for arg in self.args.values())

    def from_workflow(self, smk) -> dict:
        return {name: arg.workflow(smk, name) for name, arg in self.args.items() if arg.workflow}

    def parser(self) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(description=self.doc, formatter_class=argparse.RawDescriptionHelpFormatter)
        for name, arg in self.args.items():
            if arg.option is not None:
                parser.add_argument(arg.flag or "--" + name.replace("_", "-"), dest=name, **arg.option)
        if self.reads_config:
            study_config.add_config_arguments(parser)
        return parser

    def from_command_line(self, argv=None) -> dict:
        """The arguments by hand; the config is checked before anything else happens."""
        args = self.parser().parse_args(argv)
        config = study_config.load_config(args.config, args.schema) if self.reads_config else None
        return {name: arg.by_hand(args, name, config) if arg.by_hand else getattr(args, name)
                for name, arg in self.args.items() if arg.by_hand or arg.option is not None}

    def main(self, argv=None) -> None:
        arguments = self.from_command_line(argv)
        io.setup_logging()
        self.run(**arguments)

    def start(self, namespace: dict) -> None:
        """Run as the rule's job where Snakemake left its object in ``namespace`` (the
        script's globals), else from the command line."""
        smk = namespace.get("snakemake")
        if smk is None:
            self.main()
        else:
            io.setup_logging(smk.log[0])
            self.run(**self.from_workflow(smk))
