"""Where the browser stage finds Chromium or Chrome, and what `make test` does without one (issue 17).

lab_driver.find_chromium is the one place that decides; tools/find_chromium.py (run by the Makefile
before the long stages), the browser test and the benchmarks all use it.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab_driver import ROOT, find_chromium, in_ci

TOOL = ROOT / "tools" / "find_chromium.py"


def _exe(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    f = folder / name
    f.write_text("#!/bin/sh\nexit 0\n")
    f.chmod(0o755)
    return f


@pytest.mark.parametrize("name", ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"])
def test_each_name_on_path_is_found(tmp_path, name):
    exe = _exe(tmp_path / "bin", name)
    assert find_chromium({"PATH": str(tmp_path / "bin")}, paths=()) == str(exe)


def test_fixed_paths_are_tried_when_path_has_none(tmp_path):
    mac = _exe(tmp_path / "Google Chrome.app" / "Contents" / "MacOS", "Google Chrome")
    assert find_chromium({"PATH": str(tmp_path / "empty")}, paths=(str(tmp_path / "no"), str(mac))) == str(mac)


def test_mktme_chromium_wins_and_a_wrong_one_is_not_replaced(tmp_path):
    mine = _exe(tmp_path / "mine", "my-chrome")
    other = _exe(tmp_path / "bin", "chromium")
    env = {"PATH": str(other.parent), "MKTME_CHROMIUM": str(mine)}
    assert find_chromium(env) == str(mine)
    assert find_chromium({**env, "MKTME_CHROMIUM": str(tmp_path / "typo")}) is None


def test_nothing_found(tmp_path):
    assert find_chromium({"PATH": str(tmp_path)}, paths=(str(tmp_path / "none"),)) is None
    assert in_ci({"CI": "true"}) and not in_ci({}) and not in_ci({"CI": "false"})


def _tool(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL)], env={"SYSTEMROOT": os.environ.get("SYSTEMROOT", ""),
                                                           **env}, capture_output=True, text=True, timeout=60)


def test_tool_without_a_browser_skips_outside_ci_and_fails_in_ci(tmp_path):
    # MKTME_CHROMIUM naming no file makes "none found" on any machine, whatever it has installed.
    env = {"PATH": str(tmp_path), "MKTME_CHROMIUM": str(tmp_path / "none")}
    outside = _tool(env)
    assert outside.returncode == 1 and "skipped" in outside.stderr and "MKTME_CHROMIUM" in outside.stderr
    ci = _tool({**env, "CI": "true"})
    assert ci.returncode == 2 and "error: CI=true" in ci.stderr
    found = _tool({"PATH": str(tmp_path), "MKTME_CHROMIUM": str(_exe(tmp_path / "b", "chromium"))})
    assert found.returncode == 0 and found.stdout.strip().endswith("chromium")


def test_make_test_says_it_once_and_skips_the_browser_stage(tmp_path):
    """`make -n` shows the order; running chromium-check and test-browser shows the messages."""
    env = {**os.environ, "MKTME_CHROMIUM": str(tmp_path / "none"), "CI": ""}
    order = subprocess.run(["make", "-n", "test"], cwd=ROOT, env=env, capture_output=True, text=True).stdout
    assert order.index("find_chromium.py") < order.index("run_pytest.py")  # before the long stages
    out = subprocess.run(["make", "--no-print-directory", "chromium-check", "test-browser", "MAKECMDGOALS=test"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert (out.stdout + out.stderr).count("no Chromium or Chrome found") == 1
    assert "run_pytest" not in out.stdout
    ci = subprocess.run(["make", "--no-print-directory", "chromium-check", "CI=true"], cwd=ROOT,
                        env={**env, "CI": "true"}, capture_output=True, text=True, timeout=120)
    assert ci.returncode != 0 and "error: CI=true" in ci.stderr
