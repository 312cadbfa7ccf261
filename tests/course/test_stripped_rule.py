"""`make test-stripped` checks what git would commit, not the working files (issue 17).

A learner who ran a lesson in JupyterLab has outputs saved in notebooks/ (nbstripout's git filter
hides them from git); that must not fail `make test`. A notebook staged with outputs must.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv"


def _nb(outputs: list) -> str:
    cell = {"cell_type": "code", "execution_count": 1 if outputs else None, "id": "0", "metadata": {},
            "outputs": outputs, "source": ["print(1)"]}
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1) + "\n"


OUT = [{"name": "stdout", "output_type": "stream", "text": "1\n"}]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                   capture_output=True)


def _make(repo: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "-f", str(ROOT / "Makefile"), "test-stripped",
                           "STAMP=", f"VENV={VENV}"], cwd=repo, capture_output=True, text=True, timeout=120)


def test_saved_outputs_on_disk_pass_staged_outputs_fail(tmp_path):
    repo = tmp_path / "course"
    (repo / "notebooks").mkdir(parents=True)
    lesson = repo / "notebooks" / "01_x.ipynb"
    lesson.write_text(_nb([]))
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "stripped")
    assert _make(repo).returncode == 0

    lesson.write_text(_nb(OUT))  # the learner ran it in JupyterLab; nothing staged
    ok = _make(repo)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    _git(repo, "add", str(lesson))  # staged with outputs (no filter installed here)
    bad = _make(repo)
    assert bad.returncode != 0
    assert "notebooks/01_x.ipynb" in bad.stdout + bad.stderr and "staged with outputs" in bad.stdout
