"""Every lesson keeps the contract in docs/CONVENTIONS.md.

``contract_problems(root)`` lists every violation in a course tree; the course itself must
have none, and each parametrised breakage of a copy in tmp_path must be reported, so the
contract is known to bite.
"""
from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

import sync_lessons as sl

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIRS = ("notebooks", "solutions", "exercises")
ALLOWED_IMPORTS = {"mktme_lite", "matplotlib", "numpy", "ipywidgets", "IPython"}
IMPORT_RE = re.compile(r"^\s*(?:from\s+(\S+)\s+import\b|import\s+(.+))")
QUOTE_RE = re.compile(r"#.*[\"“]")


def _tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def imported_modules(source: str) -> list[str]:
    """Top-level module names imported by a cell (IPython magics and shell lines skipped)."""
    found = []
    for line in source.splitlines():
        if line.lstrip().startswith(("%", "!", "#")):
            continue
        m = IMPORT_RE.match(line)
        if not m:
            continue
        if m.group(1):
            found.append(m.group(1).split(".")[0] or m.group(1))  # "." for relative imports
        else:
            for part in m.group(2).split("#")[0].split(","):
                name = part.strip().split(" ")[0]
                if name:
                    found.append(name.split(".")[0])
    return found


def contract_problems(root: Path) -> list[str]:
    try:
        course = sl.load_course(root)
    except sl.LessonError as exc:
        return str(exc).splitlines()
    claims = [c.id for c in course.claims]
    stems = [entry.stem for entry in course.written()]
    planned = [entry.stem for entry in course.planned()]
    problems: list[str] = []

    on_disk = sorted(p.stem for p in (root / "notebooks").glob("*.ipynb"))
    problems += [f"notebooks/{s}.ipynb exists but lessons.toml says {s} is planned"
                 for s in on_disk if s in planned]
    problems += [f"notebooks/{s}.ipynb is not in lessons.toml" for s in on_disk
                 if s not in stems and s not in planned]
    problems += [f"lessons.toml lists {s} but notebooks/{s}.ipynb does not exist"
                 for s in stems if s not in on_disk]
    solutions = sorted(p.stem for p in (root / "solutions").glob("*.ipynb"))
    problems += [f"solutions/{s}.ipynb is not a written lesson in lessons.toml"
                 for s in solutions if s not in stems]

    for entry in course.written():
        stem = entry.stem
        path = root / "notebooks" / f"{stem}.ipynb"
        if not path.exists():
            continue
        nb = nbformat.read(path, as_version=4)
        meta = nb.metadata.get("mktme")
        problems += sl.validate_metadata(meta, stem, claims)
        # lessons.toml is the source of lesson, title, claims and next: the copy must agree.
        problems += sl.disagreements(meta, course, entry)
        if not isinstance(meta, dict):
            continue
        cells = nb.cells
        if not cells or cells[0].cell_type != "markdown" or sl.HEADER_TAG not in _tags(cells[0]):
            problems.append(f"notebooks/{stem}.ipynb: first cell is not the {sl.HEADER_TAG} cell")
        if not cells or cells[-1].cell_type != "markdown" or sl.FOOTER_TAG not in _tags(cells[-1]):
            problems.append(f"notebooks/{stem}.ipynb: last cell is not the {sl.FOOTER_TAG} cell")
        sanity = [c for c in cells if "sanity-check" in _tags(c)]
        if not stem.startswith("00_") and not sanity:
            problems.append(f"notebooks/{stem}.ipynb has no sanity-check cell")
        for c in sanity:
            if c.cell_type != "code" or "assert" not in c.source:
                problems.append(f"notebooks/{stem}.ipynb: a sanity-check cell has no assert")
            elif not QUOTE_RE.search(c.source):
                problems.append(f"notebooks/{stem}.ipynb: a sanity-check cell does not quote "
                                "the sentence it pins in a comment")
    try:
        problems += [f"{p.relative_to(root)} is out of date (run `make sync`)"
                     for p in sl.drifted(root)]
    except sl.LessonError as exc:
        problems += str(exc).splitlines()

    allowed = ALLOWED_IMPORTS | set(sys.stdlib_module_names)
    for folder in NOTEBOOK_DIRS:
        for path in sorted((root / folder).glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            where = f"{folder}/{path.name}"
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                if cell.get("outputs") and "keep_output" not in _tags(cell):
                    problems.append(f"{where} cell {index} has stored outputs (strip them)")
                if cell.get("execution_count") is not None:
                    problems.append(f"{where} cell {index} has an execution count (strip it)")
                for module in imported_modules(cell.source):
                    if module not in allowed:
                        problems.append(f"{where} cell {index} imports {module!r}; lessons may "
                                        f"import only {sorted(ALLOWED_IMPORTS)} and the stdlib")
                tags = _tags(cell)
                if "nbval-skip" in tags and not {"needs-hw", "needs-network", "needs-input"} & set(tags):
                    problems.append(f"{where} cell {index} is nbval-skip without a reason tag")
                if ("nbval-check-output" in tags) != ("keep_output" in tags):
                    problems.append(f"{where} cell {index}: golden cells need both keep_output "
                                    "and nbval-check-output")
    return problems


def test_the_course_keeps_the_lesson_contract():
    problems = contract_problems(ROOT)
    assert not problems, "\n".join(problems)


def test_lessons_toml_lists_at_least_the_start_lesson():
    assert sl.load_course(ROOT).lessons[0].stem == "00_start_here"


def test_the_claims_table_lists_c1_to_c11():
    assert [c.id for c in sl.load_course(ROOT).claims] == [f"C{i}" for i in range(1, 12)]


@pytest.mark.parametrize("source, modules", [
    ("import numpy as np\nfrom mktme_lite.machine import Machine", ["numpy", "mktme_lite"]),
    ("import os, sys  # comment\n%matplotlib inline\n!ls", ["os", "sys"]),
    ("from . import x\nimport pandas.core", [".", "pandas"]),
    ("x = 'import me'", []),
])
def test_import_scan(source, modules):
    assert imported_modules(source) == modules


# --------------------------------------------------------------------------- it can fail

def copy_course(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "lessons.toml", tmp_path)
    shutil.copy(ROOT / "README.md", tmp_path)
    shutil.copy(ROOT / "glossary.toml", tmp_path)  # the headers link the glossary when there is one
    shutil.copy(ROOT / "GLOSSARY.md", tmp_path)
    for folder in NOTEBOOK_DIRS:
        (tmp_path / folder).mkdir()
        for path in (ROOT / folder).glob("*.ipynb"):
            shutil.copy(path, tmp_path / folder)
    return tmp_path


def edit(path: Path, change) -> None:
    nb = nbformat.read(path, as_version=4)
    change(nb)
    nbformat.write(nb, path)


def append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)


def first(root: Path) -> Path:
    return root / "notebooks" / f"{sl.load_course(root).lessons[0].stem}.ipynb"


def _plan_last_lesson(root: Path) -> None:
    """Mark the last lesson planned again in the copy's lessons.toml, leaving its notebook in place."""
    toml = root / "lessons.toml"
    last = sl.load_course(root).lessons[-1].stem
    text = toml.read_text(encoding="utf-8")
    new = re.sub(rf'(stem = "{last}"\n)status = "written"\n(title = .*\n)(claims = .*\n)exercises = (true|false)\n',
                 r'\1status = "planned"\n\2\3', text)
    assert new != text
    toml.write_text(new, encoding="utf-8")


LESSON_99 = '\n[[lesson]]\nstem = "99_extra"\nstatus = "written"\ntitle = "Extra"\nclaims = ["C5"]\nexercises = false\n'


def add_lesson_99(root: Path, sanity: bool = True) -> None:
    """Append a complete lesson 99 and sync, as an author would: one lessons.toml entry and a
    notebook whose metadata holds only the author's fields (sync writes the rest)."""
    append(root / "lessons.toml", LESSON_99)
    nb = nbformat.read(first(root), as_version=4)
    nb.metadata["mktme"].update(prerequisites=["00"])
    for field in sl.GENERATED:
        nb.metadata["mktme"].pop(field)
    nb.cells = [c for c in nb.cells if "sanity-check" not in _tags(c)]
    if sanity:
        cell = nbformat.v4.new_code_cell('# "One is one."\nassert 1 == 1')
        cell.metadata["tags"] = ["sanity-check"]
        nb.cells.insert(1, cell)
    nbformat.write(nb, root / "notebooks" / "99_extra.ipynb")
    assert sl.main(["--root", str(root)]) == 0


def _set(field, value):
    return lambda nb: nb.metadata["mktme"].__setitem__(field, value)


BREAKAGES = {
    "notebook missing from lessons.toml": (
        lambda r: shutil.copy(first(r), r / "notebooks" / "98_unlisted.ipynb"),
        "98_unlisted.ipynb is not in lessons.toml"),
    "lessons.toml entry without notebook": (
        lambda r: append(r / "lessons.toml", LESSON_99.replace("99_extra", "98_gone")),
        "98_gone.ipynb does not exist"),
    "notebook of a planned lesson": (
        lambda r: _plan_last_lesson(r),
        "is planned; set status = \"written\""),
    "title in the metadata differs from lessons.toml": (
        lambda r: edit(first(r), _set("title", "A title kept by hand")),
        "title is 'A title kept by hand' but lessons.toml says 'Start here'"),
    "claims in the metadata differ from lessons.toml": (
        lambda r: edit(first(r), _set("claims", ["C5"])),
        "claims is ['C5'] but lessons.toml says []"),
    "title changed in lessons.toml only": (
        lambda r: (r / "lessons.toml").write_text(
            (r / "lessons.toml").read_text().replace('title = "Start here"', 'title = "Begin"')),
        "title is 'Start here' but lessons.toml says 'Begin'"),
    "missing field": (
        lambda r: edit(first(r), lambda nb: nb.metadata["mktme"].pop("keypoints")),
        "'keypoints' is missing"),
    "wrong type": (lambda r: edit(first(r), _set("teaching_min", "ten")),
                   "'teaching_min' has type str"),
    "empty objectives": (lambda r: edit(first(r), _set("objectives", [])),
                         "'objectives' must not be empty"),
    "wrong next": (lambda r: edit(first(r), _set("next", "01_nowhere")),
                   "next is '01_nowhere' but lessons.toml says '01_tme_basics'"),
    "header removed": (lambda r: edit(first(r), lambda nb: nb.cells.pop(0)),
                       "first cell is not the lesson-header cell"),
    "footer edited by hand": (
        lambda r: edit(first(r), lambda nb: setattr(nb.cells[-1], "source", "edited")),
        "is out of date"),
    "README map stale": (
        lambda r: (r / "README.md").write_text(
            (r / "README.md").read_text().replace("lesson-map:start -->\n",
                                                  "lesson-map:start -->\nstale\n")),
        "README.md is out of date"),
    "stored outputs": (
        lambda r: edit(first(r), lambda nb: next(c for c in nb.cells if c.cell_type == "code")
                       .outputs.append(nbformat.v4.new_output("stream", text="x\n"))),
        "has stored outputs"),
    "execution count": (
        lambda r: edit(first(r), lambda nb: setattr(
            next(c for c in nb.cells if c.cell_type == "code"), "execution_count", 3)),
        "has an execution count"),
    "foreign import": (
        lambda r: edit(first(r), lambda nb: nb.cells.insert(
            1, nbformat.v4.new_code_cell("import pandas as pd"))),
        "imports 'pandas'"),
    "lesson without sanity check": (lambda r: add_lesson_99(r, sanity=False),
                                    "99_extra.ipynb has no sanity-check cell"),
    "unknown claim": (lambda r: edit(first(r), _set("claims", ["C42"])),
                      "claim 'C42' is not in lessons.toml"),
    "lessons listed out of order": (
        lambda r: (add_lesson_99(r), (r / "lessons.toml").write_text(
            (r / "lessons.toml").read_text().replace('"00_start_here"', '"SWAP"')
            .replace('"99_extra"', '"00_start_here"').replace('"SWAP"', '"99_extra"'))),
        "not in increasing order"),
    "unknown claim in lessons.toml": (
        lambda r: (r / "lessons.toml").write_text(
            (r / "lessons.toml").read_text().replace('claims = ["C4"]', 'claims = ["C42"]')),
        "claim 'C42' is not in lessons.toml [claims]"),
    "lesson number does not match the file": (
        lambda r: (add_lesson_99(r), edit(r / "notebooks" / "99_extra.ipynb",
                                          _set("lesson", "00"))),
        "does not match the file name"),
}


def test_a_new_complete_lesson_keeps_the_contract(tmp_path):
    root = copy_course(tmp_path)
    add_lesson_99(root)
    assert contract_problems(root) == []


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_broken_copy_is_reported(tmp_path, breakage):
    root = copy_course(tmp_path)
    assert contract_problems(root) == [], "the copy must start clean"
    change, expected = BREAKAGES[breakage]
    change(root)
    problems = contract_problems(root)
    assert any(expected in p for p in problems), f"{breakage}: got {problems}"
