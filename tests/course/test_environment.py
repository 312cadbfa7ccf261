"""environment.yml (conda, Binder) and pyproject.toml (pip, `make`) install the same course.

Both files name the same packages with the same version bounds; conda-only entries
(python, pip) and the pip section that installs this repository are accounted for. environment.yml
pins one Python, ``python =3.X`` (the only form repo2docker reads), which must satisfy
requires-python; pyproject.toml's requirements with an environment marker are guards for older
Pythons and are expected in environment.yml only where the marker holds for that pin.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
CONDA_ONLY = {"python", "pip"}
CONDA_TO_PYPI = {"matplotlib-base": "matplotlib", "pytables": "tables"}
INSTALLS_THIS_REPO = {"-e .", ".", "-e .[lab,test]", ".[lab,test]"}
#: How repo2docker's conda buildpack reads the Python version from environment.yml.
REPO2DOCKER_PYTHON = re.compile(r"python\s*=+\s*([\d\.]*)")


def conda_python_pin(env: dict) -> str | None:
    """The Python version repo2docker would build (``3.11`` for ``python =3.11``), or None."""
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            m = REPO2DOCKER_PYTHON.match(dep.strip())
            if m:
                return m.group(1) or None
    return None


def marker_environment(pin: str) -> dict[str, str]:
    """Markers evaluated for the newest patch release of the pinned Python (what conda-forge gives)."""
    return {"python_version": pin, "python_full_version": f"{pin}.99"}


def pyproject_requirements(pyproject: dict, python: str | None = None) -> dict[str, SpecifierSet]:
    """{name: specifier}; with ``python``, requirements whose marker is false for it are left out."""
    project = pyproject["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    out = {}
    for text in reqs:
        req = Requirement(text)
        if python and req.marker and not req.marker.evaluate(marker_environment(python)):
            continue
        out[canonicalize_name(req.name)] = req.specifier
    return out


def conda_requirements(env: dict) -> tuple[dict[str, SpecifierSet], dict[str, str], list[str]]:
    """({pypi name: specifier}, {conda-only name: spec}, [pip lines])"""
    packages, conda_only, pip_lines = {}, {}, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip_lines += dep.get("pip", [])
            continue
        name, _, spec = dep.strip().partition(" ")
        name = name.strip()
        if any(c in name for c in "<>=!"):  # "numpy>=1.26" written without a space
            req = Requirement(name)
            name, spec = req.name, str(req.specifier)
        if name in CONDA_ONLY:
            conda_only[name] = spec.strip()
            continue
        name = canonicalize_name(CONDA_TO_PYPI.get(name, name))
        packages[name] = SpecifierSet(spec.replace(" ", ""))
    for line in pip_lines:  # other pip entries are packages too
        if line.strip() not in INSTALLS_THIS_REPO:
            req = Requirement(line)
            packages[canonicalize_name(req.name)] = req.specifier
    return packages, conda_only, pip_lines


def differences(pyproject: dict, env: dict) -> list[str]:
    conda_side, conda_only, pip_lines = conda_requirements(env)
    pin = conda_python_pin(env)
    pip_side = pyproject_requirements(pyproject, pin or "3.99")
    problems = []
    for name in sorted(set(pip_side) - set(conda_side)):
        problems.append(f"{name} is in pyproject.toml but not in environment.yml")
    for name in sorted(set(conda_side) - set(pip_side)):
        problems.append(f"{name} is in environment.yml but not in pyproject.toml")
    for name in sorted(set(pip_side) & set(conda_side)):
        if pip_side[name] != conda_side[name]:
            problems.append(f"{name}: pyproject.toml says {pip_side[name]}, "
                            f"environment.yml says {conda_side[name]}")
    python = pyproject["project"]["requires-python"]
    if not pin or not re.fullmatch(r"3\.\d+", pin):
        problems.append(f"python: environment.yml must pin one Python as `python =3.X` (repo2docker reads "
                        f"only that form), not {conda_only.get('python')!r}")
    elif f"{pin}.0" not in SpecifierSet(python) or f"{pin}.99" not in SpecifierSet(python):
        problems.append(f"python: environment.yml pins {pin}, outside pyproject.toml's requires-python {python}")
    if any(line.strip() in INSTALLS_THIS_REPO for line in pip_lines):
        problems.append("environment.yml's pip section must not install this repository: Binder builds "
                        "the environment before the repository is copied in (postBuild installs it)")
    if env.get("channels") != ["conda-forge"]:
        problems.append(f"environment.yml channels must be [conda-forge], not {env.get('channels')}")
    return problems


def load():
    with open(ROOT / "pyproject.toml", "rb") as fh:
        pyproject = tomllib.load(fh)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    return pyproject, env


def test_environment_yml_matches_pyproject():
    assert differences(*load()) == []


def test_binder_reads_the_pinned_python():
    _, env = load()
    assert conda_python_pin(env) == "3.11"


def test_a_marker_guard_is_expected_where_it_holds():
    pyproject, _ = load()
    assert "soupsieve" not in pyproject_requirements(pyproject, "3.11")
    assert "soupsieve" not in pyproject_requirements(pyproject, "3.12")
    assert "soupsieve" in pyproject_requirements(pyproject)


def test_every_dependency_has_bounds():
    pyproject, _ = load()
    for name, spec in pyproject_requirements(pyproject).items():
        ops = {s.operator for s in spec}
        assert "==" in ops or ({">=", "<"} <= ops), f"{name} needs a bounded range, has {spec}"
    assert pyproject_requirements(pyproject)["nbval"] == SpecifierSet("==0.11.0")


@pytest.mark.parametrize("change, expected", [
    (lambda env: env["dependencies"].append("pandas >=2,<3"), "pandas is in environment.yml"),
    (lambda env: env["dependencies"].remove("nbval ==0.11.0"), "nbval is in pyproject.toml"),
    (lambda env: env["dependencies"].__setitem__(
        env["dependencies"].index("numpy >=1.26,<3"), "numpy >=1.26,<2"), "numpy: pyproject"),
    (lambda env: env["dependencies"].__setitem__(0, "python >=3.11"), "must pin one Python"),
    (lambda env: env["dependencies"].__setitem__(0, "python =3.10"), "outside pyproject.toml"),
    (lambda env: env["dependencies"].__setitem__(0, "python =3"), "must pin one Python"),
    (lambda env: env["dependencies"].append("soupsieve >=2.5,<3.0.2"), "soupsieve is in environment.yml"),
    (lambda env: env["dependencies"].append({"pip": ["-e ."]}), "pip section must not"),
    (lambda env: env["dependencies"].__setitem__(
        env["dependencies"].index("matplotlib >=3.8,<4"), "matplotlib-base >=3.8,<4"), None),
])
def test_a_drifted_environment_is_reported(change, expected):
    pyproject, env = load()
    change(env)
    problems = differences(pyproject, env)
    if expected is None:  # an equivalent conda name is not a difference
        assert problems == []
    else:
        assert any(expected in p for p in problems), problems


def test_binder_post_build_installs_the_course():
    post = ROOT / "postBuild"
    assert post.exists() and os.access(post, os.X_OK), "postBuild must exist and be executable"
    lines = [line.strip() for line in post.read_text().splitlines()]
    assert lines[0].startswith("#!") and "set -euo pipefail" in lines
    assert any(line.startswith("python -m pip install") and line.endswith(" -e .") for line in lines)


def test_check_env_script_passes():
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "check_env.py")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "environment OK" in proc.stdout
