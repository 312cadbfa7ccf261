"""Every package the course resolves to admits the oldest Python it claims (tools/check_requires_python.py)."""
from __future__ import annotations

import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.version import Version

import check_requires_python as crp

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def without_guard(pyproject: dict) -> dict:
    project = dict(pyproject["project"], dependencies=[d for d in pyproject["project"]["dependencies"]
                                                       if not d.startswith("soupsieve")])
    return {**pyproject, "project": project}


@pytest.mark.parametrize("spec, low", [(">=3.11", "3.11.0"), (">=3.11.5", "3.11.5"), (">=3.10,<4", "3.10.0"),
                                       ("<4", "3.0.0")])
def test_lowest_python(spec, low):
    assert crp.lowest_python(spec) == Version(low)


def test_the_installed_course_admits_its_oldest_python():
    assert crp.problems_installed(crp.installed(), PYPROJECT) == []


def test_soupsieve_is_bounded_below_3_11_5():
    assert "soupsieve" in crp.guards(PYPROJECT, Version("3.11.2"))
    assert "soupsieve" not in crp.guards(PYPROJECT, Version("3.11.5"))
    assert Version("3.0.2") not in crp.guards(PYPROJECT, Version("3.11.0"))["soupsieve"]


def test_an_unbounded_package_that_excludes_the_oldest_python_is_reported():
    dists = [("soupsieve", "4.1.3", ">=3.11.5"), ("numpy", "2.4.6", ">=3.11")]
    assert crp.problems_installed(dists, PYPROJECT) == []
    problems = crp.problems_installed(dists, without_guard(PYPROJECT))
    assert len(problems) == 1 and problems[0].startswith("soupsieve 4.1.3 requires Python >=3.11.5")


def fake_wheel(folder: Path, name: str, version: str, requires_python: str) -> None:
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as zf:
        zf.writestr(f"{name}-{version}.dist-info/METADATA",
                    f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Python: {requires_python}\n")


def test_a_wheelhouse_needs_a_wheel_for_the_oldest_python(tmp_path):
    fake_wheel(tmp_path, "soupsieve", "4.1.3", ">=3.11.5")
    fake_wheel(tmp_path, "six", "1.17.0", ">=2.7")
    problems = crp.problems_wheelhouse(crp.in_wheelhouse(tmp_path), PYPROJECT)
    assert len(problems) == 1 and problems[0].startswith("soupsieve: no wheel admits Python 3.11.0")
    fake_wheel(tmp_path, "soupsieve", "2.10", ">=3.10")
    assert crp.problems_wheelhouse(crp.in_wheelhouse(tmp_path), PYPROJECT) == []
    assert crp.main(["--wheelhouse", str(tmp_path)]) == 0


def test_not_a_wheelhouse_is_a_clear_error(tmp_path, capsys):
    assert crp.main(["--wheelhouse", str(tmp_path / "nowhere")]) == 2
    assert "is not a folder of wheels" in capsys.readouterr().err
