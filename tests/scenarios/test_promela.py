"""SPIN agrees with the race explorer: the same scenarios, modelled again in Promela, searched again.

The explorer runs the real engine; the Promela model (mktme_lite.scenarios.promela) shares no
code with it, only the scenario description. SPIN comes from Debian (`apt-get install spin`;
.ci/run installs it). Without it these tests are skipped, except under CI=true, where a missing
SPIN is a failure.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mktme_lite.errors import ParameterError
from mktme_lite.machine import KEYTABLE_SCOPES
from mktme_lite.scenarios import promela, races

SPIN = shutil.which("spin")
CC = shutil.which("cc") or shutil.which("gcc")
if not (SPIN and CC):
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI needs SPIN and a C compiler for tests/scenarios/test_promela.py: "
                           "apt-get install spin gcc (.ci/run does)")
    pytestmark = pytest.mark.skip(reason="SPIN (Debian package 'spin') or a C compiler is not installed")

CASES = [(name, scope) for name in ("rotate_unsafe", "rotate_safe", "rotate_no_barrier") for scope in KEYTABLE_SCOPES]
CASES += [(name, "home") for name in ("rotate_own_package", "rotate_safe_retry", "busy_no_retry", "busy_retry",
                                      "busy_mutex")]


def spin_errors(text: str, workdir: Path) -> tuple[int, str]:
    """Run SPIN's exhaustive search on a Promela model; returns (errors, pan's report)."""
    (workdir / "model.pml").write_text(text)
    subprocess.run([SPIN, "-a", "model.pml"], cwd=workdir, check=True, capture_output=True, timeout=60)
    subprocess.run([CC, "-O1", "-DSAFETY", "-o", "pan", "pan.c"], cwd=workdir, check=True, capture_output=True,
                   timeout=120)
    run = subprocess.run(["./pan", "-m100000"], cwd=workdir, capture_output=True, text=True, timeout=120)
    found = re.search(r"errors: (\d+)", run.stdout)
    assert found, run.stdout + run.stderr
    return int(found.group(1)), run.stdout


@pytest.mark.parametrize("name, scope", CASES)
def test_spin_and_the_explorer_agree(name, scope, tmp_path):
    scen = races.SCENARIOS[name]
    errors, report = spin_errors(promela.model(scen, scope), tmp_path)
    assert "depth too small" not in report
    assert (errors == 0) == races.explore(scen, scope).safe, report


def test_spin_finds_the_corrupting_interleaving_and_none_in_the_safe_rotation(tmp_path):
    errors, report = spin_errors(promela.model(races.SCENARIOS["rotate_unsafe"], "home"), tmp_path)
    assert errors >= 1 and "assertion violated" in report
    errors, report = spin_errors(promela.model(races.SCENARIOS["rotate_safe"], "home"), tmp_path)
    assert errors == 0


def test_a_model_of_the_wrong_machine_disagrees(tmp_path):
    """The agreement check can fail: the explorer under one key-table scope and SPIN given the
    model of another disagree on the scenario whose verdict depends on the scope."""
    scen = races.SCENARIOS["rotate_no_barrier"]
    errors, _ = spin_errors(promela.model(scen, "home"), tmp_path)
    assert (errors == 0) != races.explore(scen, "writer").safe


def test_model_refuses_what_it_cannot_represent():
    with pytest.raises(ParameterError, match="Scenario"):
        promela.model("rotate_safe")
    wide = races.scenario("wide", "three lines", [("t", 0, [races.store("L", 1, "v"), races.store("L", 2, "v"),
                                                           races.store("H", 1, "v")])], {"v": "v"})
    with pytest.raises(ParameterError, match="at most 2"):
        promela.model(wide)
