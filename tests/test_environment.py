"""The pip path (requirements.txt) and the conda path (environment.yml) pin the same
packages at the same versions, and the running environment is the pinned one."""

import os
import re
from importlib.metadata import version

import yaml

from helpers import REPO

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)$")


def pins(lines):
    found = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line:
            match = PIN.match(line)
            assert match, f"not an exact pin: {line!r}"
            found[match.group(1).lower()] = match.group(2)
    return found


def requirements():
    with open(os.path.join(REPO, "requirements.txt")) as handle:
        return pins(handle)


def conda_pip_section():
    with open(os.path.join(REPO, "environment.yml")) as handle:
        env = yaml.safe_load(handle)
    sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert "python=3.11" in env["dependencies"]
    return pins(sections[0])


def test_environment_yml_pins_what_requirements_txt_pins():
    assert conda_pip_section() == requirements()


def test_the_installed_packages_are_the_pinned_ones():
    for name, pinned in requirements().items():
        assert version(name).split("+")[0] == pinned, name
