"""The three dependency lists agree: requirements.txt pins, environment.yml repeats the pins,
and every pin satisfies pyproject.toml's compatible range."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def pins(lines):
    out = {}
    for line in lines:
        line = line.split("#", 1)[0].strip().lstrip("- ").strip()
        if "==" in line:
            name, version = line.split("==")
            out[canonicalize_name(name)] = version.strip()
    return out


def test_environment_yml_installs_the_same_pinned_set():
    requirements = pins((ROOT / "requirements.txt").read_text().splitlines())
    env_text = (ROOT / "environment.yml").read_text()
    pip_section = env_text.split("- pip:", 1)[1].splitlines()
    assert pins(pip_section) == requirements
    assert re.search(r"python=3\.1[1-9]", env_text)


def test_every_pin_satisfies_pyproject_ranges():
    requirements = pins((ROOT / "requirements.txt").read_text().splitlines())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"]) + [d for group in project["optional-dependencies"].values() for d in group]
    for spec in map(Requirement, declared):
        name = canonicalize_name(spec.name)
        assert name in requirements, f"{name} is a dependency but not pinned in requirements.txt"
        assert spec.specifier.contains(requirements[name], prereleases=True), (name, requirements[name], str(spec))


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./run_tests.sh" in readme and "./run_tests.sh" in ci and "./run_all.sh" in readme
