"""A learner's work is never lost: copies in my-work/ survive every make target.

The learner works in ``my-work/<stem>.ipynb`` (git-ignored), which ``make lab`` (through
``make my-work`` and ``tools/make_exercises.py --learner-copies``) creates from ``exercises/`` when
it is missing and never overwrites. These tests run the real make targets on a copy of the course
(its .venv linked in), edit a learner copy, and prove that ``make exercises``, ``make sync``,
``make my-work`` and the cheap parts of ``make test`` leave it byte for byte as it was; that the
test targets never name my-work/; and that learner-facing text carries no authoring notes.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

import check_env
import make_exercises as mx
import sync_lessons as sl

ROOT = Path(__file__).resolve().parents[2]
LEARNER = mx.LEARNER_DIR
#: The parts of the repository a make target reads (copied with their times, so the .venv stamp
#: stays newer than pyproject.toml and make does not reinstall).
TREE = ["Makefile", "pyproject.toml", "lessons.toml", "README.md", "conftest.py", ".gitignore",
        "tools", "notebooks", "solutions", "exercises", "quizzes", "tests/nbval-sanitize.cfg",
        "docs/instructor.md"]
EDIT = "# my own answer, typed by the learner"


def make(root: Path, *targets: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    return subprocess.run(["make", "--no-print-directory", "-C", str(root), *targets], env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture
def course(tmp_path) -> Path:
    # The copy's make would reinstall a stale or unstamped .venv in editable mode from the temporary copy,
    # and the real environment would then import mktme_lite from a folder that is gone.
    venv = ROOT / ".venv"
    if (why := check_env.pending_reinstall(ROOT, venv / ".installed", prefix=str(venv))) is not None:
        pytest.fail(f"{why}: run `make install` first (this test links the real .venv into a copy of the course)")
    root = tmp_path / "course"
    root.mkdir()
    for name in TREE:
        src, dst = ROOT / name, root / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, copy_function=shutil.copy2,
                            ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        else:
            shutil.copy2(src, dst)
    (root / ".venv").symlink_to(ROOT / ".venv")
    return root


def edited_copy(root: Path) -> tuple[Path, bytes]:
    """Make the learner copies as `make lab` does, then type an answer into the first one."""
    proc = make(root, LEARNER)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    copies = sorted((root / LEARNER).glob("*.ipynb"))
    assert [p.name for p in copies] == sorted(p.name for p in (root / "exercises").glob("*.ipynb"))
    nb = nbformat.read(copies[0], as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and mx.PLACEHOLDER in c.source)
    cell.source = cell.source.replace(mx.PLACEHOLDER, f"1  {EDIT}", 1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="saved output\n")]
    cell.execution_count = 7  # an unstripped, executed notebook, as a learner saves it
    nbformat.write(nb, copies[0])
    return copies[0], copies[0].read_bytes()


def test_make_targets_leave_an_edited_learner_copy_untouched(course):
    copy, before = edited_copy(course)
    # A changed solution makes `make exercises` and `make sync` really rewrite exercises/.
    solution = course / "solutions" / copy.name
    nb = nbformat.read(solution, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("A new closing remark by the author."))
    nbformat.write(nb, solution)
    for targets in (["exercises"], ["sync"], [LEARNER], ["test-exercises", "test-sync"]):
        proc = make(course, *targets)
        assert copy.read_bytes() == before, f"make {' '.join(targets)} changed {copy.name}"
        if targets[0] == "exercises":
            assert proc.returncode == 0 and f"wrote exercises/{copy.name}" in proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr  # the edited copy fails no check
    # A copy the learner deleted comes back; one the learner kept is left alone.
    others = sorted(p for p in (course / LEARNER).glob("*.ipynb") if p != copy)
    others[0].unlink()
    assert make(course, LEARNER).returncode == 0
    assert others[0].exists() and copy.read_bytes() == before


def test_learner_copies_never_overwrite(tmp_path):
    (tmp_path / "exercises").mkdir()
    (tmp_path / "exercises" / "01_x.ipynb").write_text("fresh exercise\n")
    (tmp_path / LEARNER).mkdir()
    (tmp_path / LEARNER / "01_x.ipynb").write_text("the learner's answers\n")
    (tmp_path / "exercises" / "02_y.ipynb").write_text("another exercise\n")
    assert mx.learner_copies(tmp_path) == [tmp_path / LEARNER / "02_y.ipynb"]
    assert (tmp_path / LEARNER / "01_x.ipynb").read_text() == "the learner's answers\n"
    assert (tmp_path / LEARNER / "02_y.ipynb").read_text() == "another exercise\n"
    assert mx.learner_copies(tmp_path) == []


def test_no_test_target_reads_my_work():
    """`make -n` prints every command a target would run: none of the test, sync or exercise
    targets names my-work/ (only `my-work` and `lab` do), and git ignores the folder."""
    for target in ("test", "test-unit", "test-notebooks", "test-stripped", "test-exercises",
                   "test-sync", "test-browser", "exercises", "sync", "book", "test-book",
                   "check-env", "bench"):
        proc = subprocess.run(["make", "-n", "-C", str(ROOT), "--no-print-directory", target],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert LEARNER not in proc.stdout, f"make {target} would touch {LEARNER}/"
    lab = subprocess.run(["make", "-n", "-C", str(ROOT), "--no-print-directory", "lab"],
                         capture_output=True, text=True, timeout=60).stdout
    assert "--learner-copies" in lab
    ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", f"{LEARNER}/01_x.ipynb"])
    assert ignored.returncode == 0, f"{LEARNER}/ is not git-ignored"


AUTHOR_NOTES = re.compile(r"edit the metadata|do not edit it|edit the solution|make sync|"
                          r"tools/(sync_lessons|make_exercises)\.py", re.I)


@pytest.mark.parametrize("folder", ["notebooks", "solutions", "exercises"])
def test_learners_read_no_authoring_notes(folder):
    for path in sorted((ROOT / folder).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "markdown":
                assert not AUTHOR_NOTES.search(cell.source), f"{folder}/{path.name} cell {i}"


def test_every_exercise_link_sends_learners_to_my_work():
    for entry in sl.load_course(ROOT).written():
        if not entry.exercises:
            continue
        text = "\n".join(c.source for c in nbformat.read(ROOT / "notebooks" / f"{entry.stem}.ipynb",
                                                         as_version=4).cells)
        assert f"](../{LEARNER}/{entry.stem}.ipynb)" in text
        assert f"](../exercises/{entry.stem}.ipynb)" not in text
        exercise = nbformat.read(ROOT / "exercises" / f"{entry.stem}.ipynb", as_version=4)
        assert f"`{LEARNER}/{entry.stem}.ipynb`" in exercise.cells[0].source
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"`{LEARNER}/`" in readme and "make lab" in readme
