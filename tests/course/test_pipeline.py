"""The test pipeline itself can fail: broken notebooks, drifted golden outputs, unstripped
notebooks and empty test runs are all caught by the commands the Makefile runs.

Each check runs the real command in a subprocess on fixture notebooks copied to tmp_path
(tests/fixtures is never collected by the course's own test runs).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
RUN_PYTEST = ROOT / "tools" / "run_pytest.py"
NB_ENV = {"MPLBACKEND": "Agg", "PYTHONHASHSEED": "0", "MKTME_STATIC": "1"}
NBVAL_ARGS = ["-p", "no:cacheprovider", "-rA", "--rootdir=.", "--nbval-lax",
              "--nbval-current-env", "--nbval-sanitize-with=nbval-sanitize.cfg",
              "--nbval-cell-timeout=120"]


def run(cmd: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **NB_ENV, **env}
    return subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=300)


def outcomes(stdout: str) -> dict[str, set[str]]:
    """{notebook file name: {"PASSED", "FAILED", ...}} from pytest's -rA summary."""
    result: dict[str, set[str]] = {}
    for m in re.finditer(r"^(PASSED|FAILED|ERROR) (\S+?\.ipynb)::", stdout, re.M):
        result.setdefault(Path(m.group(2)).name, set()).add(m.group(1))
    return result


@pytest.fixture(scope="module")
def nbval_run(tmp_path_factory):
    """One nbval run (as `make test-notebooks` does it) over good and bad fixtures."""
    work = tmp_path_factory.mktemp("nbval")
    shutil.copy(ROOT / "conftest.py", work / "conftest.py")  # the golden-cell hook
    shutil.copy(ROOT / "tests" / "nbval-sanitize.cfg", work / "nbval-sanitize.cfg")
    for name in ("good_notebook.ipynb", "broken_notebook.ipynb", "golden_notebook.ipynb"):
        shutil.copy(FIXTURES / name, work / name)
    golden = json.loads((work / "golden_notebook.ipynb").read_text())
    for cell in golden["cells"]:
        for out in cell.get("outputs", []):
            if out.get("text") == ["42\n"]:
                out["text"] = ["41\n"]  # a stored golden output that no longer matches
    (work / "golden_corrupted.ipynb").write_text(json.dumps(golden, indent=1) + "\n")
    proc = run([sys.executable, str(RUN_PYTEST), *NBVAL_ARGS, "."], cwd=work)
    return proc, outcomes(proc.stdout)


def test_nbval_run_fails_as_a_whole(nbval_run):
    proc, _ = nbval_run
    assert proc.returncode == 1, proc.stdout[-3000:]


def test_good_notebook_passes(nbval_run):
    proc, result = nbval_run
    assert result.get("good_notebook.ipynb") == {"PASSED"}, proc.stdout[-3000:]


def test_notebook_that_raises_fails(nbval_run):
    proc, result = nbval_run
    assert "FAILED" in result.get("broken_notebook.ipynb", set()), proc.stdout[-3000:]
    assert "this fixture notebook is broken on purpose" in proc.stdout


def test_golden_cells_are_compared_and_pass(nbval_run):
    """The conftest hook makes nbval compare kept outputs; the sanitizer masks only the
    object address, so the printed physical address is still compared."""
    proc, result = nbval_run
    assert result.get("golden_notebook.ipynb") == {"PASSED"}, proc.stdout[-3000:]


def test_corrupted_golden_output_fails(nbval_run):
    proc, result = nbval_run
    assert "FAILED" in result.get("golden_corrupted.ipynb", set()), proc.stdout[-3000:]
    assert re.search(r"golden_corrupted\.ipynb::Cell 0", proc.stdout), proc.stdout[-3000:]


def test_golden_cells_need_the_conftest_hook(tmp_path):
    """Without the repo's conftest.py, nbval rejects kept outputs ("Unrun reference cell
    has outputs"): the hook is what makes golden cells work with stripped notebooks."""
    shutil.copy(FIXTURES / "golden_notebook.ipynb", tmp_path / "golden_notebook.ipynb")
    shutil.copy(ROOT / "tests" / "nbval-sanitize.cfg", tmp_path / "nbval-sanitize.cfg")
    proc = run([sys.executable, str(RUN_PYTEST), *NBVAL_ARGS, "."], cwd=tmp_path)
    assert proc.returncode == 1
    assert "Unrun reference cell has outputs" in proc.stdout, proc.stdout[-3000:]


def test_fixture_notebooks_are_stripped():
    proc = run([sys.executable, "-m", "nbstripout", "--verify",
                *map(str, sorted(FIXTURES.glob("*.ipynb")))], cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_nbstripout_verify_catches_an_unstripped_notebook(tmp_path):
    nb = json.loads((FIXTURES / "good_notebook.ipynb").read_text())
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["execution_count"] = 1
    code["outputs"] = [{"name": "stdout", "output_type": "stream", "text": ["45\n"]}]
    path = tmp_path / "unstripped.ipynb"
    path.write_text(json.dumps(nb, indent=1) + "\n")
    proc = run([sys.executable, "-m", "nbstripout", "--verify", str(path)], cwd=tmp_path)
    assert proc.returncode != 0
    assert json.loads(path.read_text())["cells"][1]["outputs"], "--verify must not modify"


@pytest.mark.parametrize("case, expected", [
    ("empty", 1),     # pytest says 5 (no tests collected): a failure
    ("passing", 0),
    ("failing", 1),
])
def test_run_pytest_treats_no_tests_as_failure(tmp_path, case, expected):
    if case == "passing":
        (tmp_path / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    if case == "failing":
        (tmp_path / "test_bad.py").write_text("def test_bad():\n    assert False\n")
    proc = run([sys.executable, str(RUN_PYTEST), "-p", "no:cacheprovider", "-p", "no:nbval",
                str(tmp_path)], cwd=tmp_path)
    assert proc.returncode == expected, proc.stdout + proc.stderr
    if case == "empty":
        assert "collected no tests" in proc.stderr


def test_makefile_runs_every_step_through_the_wrapper():
    """`make -n test` shows each step; every pytest call goes through tools/run_pytest.py."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    proc = subprocess.run(["make", "-n", "test"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    plan = proc.stdout
    for step in ("nbstripout --verify", "tools/make_exercises.py --check",
                 "tools/sync_lessons.py --check", "-p no:nbval tests/ --ignore=tests/browser",
                 "--nbval-lax --nbval-current-env", "--nbval-cell-timeout=120",
                 "-p no:nbval tests/browser", "MPLBACKEND=Agg PYTHONHASHSEED=0 MKTME_STATIC=1"):
        assert step in plan, f"`make test` no longer runs {step!r}:\n{plan}"
    for line in plan.splitlines():
        if re.search(r"\bpytest\b", line) and "run_pytest.py" not in line:
            pytest.fail(f"pytest called without tools/run_pytest.py: {line}")
