"""tools/sync_lessons.py: headers, footers, `next` and the README map follow lessons.toml."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

import sync_lessons as sl

ROOT = Path(__file__).resolve().parents[2]
FIRST = "00_start_here"


@pytest.fixture
def tree(tmp_path) -> Path:
    """A copy of the course's lesson files with only lesson 00."""
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    claims = sl.load_manifest(ROOT)["claims"]
    (tmp_path / "lessons.toml").write_text(
        "[claims]\n" + "".join(f"{cid} = {json.dumps(text)}\n" for cid, text in claims.items())
        + f'\n[[lesson]]\nstem = "{FIRST}"\nexercises = false\n')
    (tmp_path / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / f"{FIRST}.ipynb", tmp_path / "notebooks")
    assert sl.main(["--root", str(tmp_path)]) == 0
    return tmp_path


def read(path: Path):
    return nbformat.read(path, as_version=4)


def tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def add_lesson(root: Path, stem: str, title: str, exercises: bool = False) -> None:
    with open(root / "lessons.toml", "a") as fh:
        fh.write(f'\n[[lesson]]\nstem = "{stem}"\nexercises = {str(exercises).lower()}\n')
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("Body."),
                nbformat.v4.new_code_cell("# \"one is one\"\nassert 1 == 1")]
    nb.cells[1].metadata["tags"] = ["sanity-check"]
    nb.metadata["mktme"] = {
        "lesson": stem[:2], "title": title, "objectives": ["see it"], "prerequisites": ["00"],
        "teaching_min": 30, "exercise_min": 20, "claims": ["C5"], "keypoints": ["flush"],
        "next": None}
    nbformat.write(nb, root / "notebooks" / f"{stem}.ipynb")


def test_header_first_and_footer_last(tree):
    nb = read(tree / "notebooks" / f"{FIRST}.ipynb")
    assert tags(nb.cells[0]) == [sl.HEADER_TAG] and tags(nb.cells[-1]) == [sl.FOOTER_TAG]
    meta = nb.metadata["mktme"]
    assert nb.cells[0].source.startswith(f"# Lesson {meta['lesson']} — {meta['title']}")
    assert all(f"- {k}" in nb.cells[-1].source for k in meta["keypoints"])
    assert "last lesson written so far" in nb.cells[-1].source


def test_missing_cells_are_inserted_and_edited_cells_replaced(tree, capsys):
    path = tree / "notebooks" / f"{FIRST}.ipynb"
    synced = path.read_text()
    nb = read(path)
    nb.cells = nb.cells[1:-1]  # no header, no footer
    nbformat.write(nb, path)
    assert sl.main(["--root", str(tree), "--check"]) == 1
    assert f"notebooks/{FIRST}.ipynb is out of date" in capsys.readouterr().err
    assert sl.main(["--root", str(tree)]) == 0
    assert path.read_text() == synced
    nb = read(path)
    nb.cells[0].source = "# hand-edited header"
    nb.cells[-1].source = "hand-edited footer"
    nbformat.write(nb, path)
    assert sl.main(["--root", str(tree)]) == 0
    assert path.read_text() == synced


def test_check_changes_nothing(tree):
    readme = tree / "README.md"
    readme.write_text(readme.read_text().replace("| Start here |", "| Stale title |"))
    before = readme.read_text()
    assert sl.main(["--root", str(tree), "--check"]) == 1
    assert readme.read_text() == before


def test_appending_a_lesson_needs_no_code_change(tree):
    add_lesson(tree, "01_tme_basics", "TME basics")
    assert sl.main(["--root", str(tree), "--check"]) == 1
    assert sl.main(["--root", str(tree)]) == 0
    assert sl.main(["--root", str(tree), "--check"]) == 0
    first = read(tree / "notebooks" / f"{FIRST}.ipynb")
    assert first.metadata["mktme"]["next"] == "01_tme_basics"
    assert "[Lesson 01 — TME basics](01_tme_basics.ipynb)" in first.cells[-1].source
    second = read(tree / "notebooks" / "01_tme_basics.ipynb")
    assert "**C5**" in second.cells[0].source and "30 min teaching + 20 min" in second.cells[0].source
    assert "last lesson written so far" in second.cells[-1].source
    assert "last lesson written so far" not in first.cells[-1].source
    readme = (tree / "README.md").read_text()
    assert "| [01](notebooks/01_tme_basics.ipynb) | TME basics | 30 + 20 | C5 |" in readme


def test_solution_notebook_gets_header_and_metadata(tree):
    add_lesson(tree, "01_tme_basics", "TME basics", exercises=True)
    (tree / "solutions").mkdir()
    sol = nbformat.v4.new_notebook()
    sol.cells = [nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(sol, tree / "solutions" / "01_tme_basics.ipynb")
    assert sl.main(["--root", str(tree)]) == 0
    lesson = read(tree / "notebooks" / "01_tme_basics.ipynb")
    sol = read(tree / "solutions" / "01_tme_basics.ipynb")
    assert sol.metadata["mktme"] == lesson.metadata["mktme"]
    lesson_head, sol_head = lesson.cells[0].source.split("\n\n"), sol.cells[0].source.split("\n\n")
    assert sol_head[:-1] == lesson_head[:-1]  # the same header up to its last line
    assert "(../exercises/01_tme_basics.ipynb)" in lesson_head[-1]
    assert [c.source for c in sol.cells[1:]] == ["x = 1"]


def test_the_exercise_copy_links_to_the_lesson_and_solutions_not_to_itself(tree):
    import make_exercises

    add_lesson(tree, "01_tme_basics", "TME basics", exercises=True)
    (tree / "solutions").mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]),
                   tree / "solutions" / "01_tme_basics.ipynb")
    assert sl.main(["--root", str(tree)]) == 0
    exercise = make_exercises.make_exercise(read(tree / "solutions" / "01_tme_basics.ipynb"),
                                            "solutions/01_tme_basics.ipynb")
    header = next(c.source for c in exercise.cells if sl.HEADER_TAG in tags(c))
    assert "](../notebooks/01_tme_basics.ipynb)" in header
    assert "](../solutions/01_tme_basics.ipynb)" in header
    assert "](../exercises/01_tme_basics.ipynb)" not in header
    assert sl.main(["--root", str(tree), "--check"]) == 0


@pytest.mark.parametrize("breakage, message", [
    ("exercises-without-solution", "solutions/01_tme_basics.ipynb does not exist"),
    ("solution-without-flag", "set exercises = true"),
    ("unknown-claim", "claim 'C99' is not in lessons.toml"),
    ("no-map-markers", "lesson-map:start"),
    ("missing-notebook", "does not exist"),
    ("out-of-order", "increasing order"),
])
def test_inconsistent_lessons_are_reported(tree, capsys, breakage, message):
    add_lesson(tree, "01_tme_basics", "TME basics",
               exercises=breakage == "exercises-without-solution")
    if breakage == "solution-without-flag":
        (tree / "solutions").mkdir()
        shutil.copy(tree / "notebooks" / "01_tme_basics.ipynb", tree / "solutions")
    if breakage == "unknown-claim":
        nb = read(tree / "notebooks" / "01_tme_basics.ipynb")
        nb.metadata["mktme"]["claims"] = ["C99"]
        nbformat.write(nb, tree / "notebooks" / "01_tme_basics.ipynb")
    if breakage == "no-map-markers":
        (tree / "README.md").write_text("# README without a map\n")
    if breakage == "missing-notebook":
        (tree / "notebooks" / "01_tme_basics.ipynb").unlink()
    if breakage == "out-of-order":
        toml = (tree / "lessons.toml").read_text()
        head, first, second = toml.split("[[lesson]]")
        (tree / "lessons.toml").write_text(head + "[[lesson]]" + second + "[[lesson]]" + first)
    assert sl.main(["--root", str(tree), "--check"]) != 0
    assert message in capsys.readouterr().err


def test_the_last_lesson_points_to_the_plan_not_to_the_end_of_the_course(tree):
    """Lessons are written one at a time: the last one written is not the end of the course."""
    add_lesson(tree, "01_tme_basics", "TME basics")
    assert sl.main(["--root", str(tree)]) == 0
    footer = read(tree / "notebooks" / "01_tme_basics.ipynb").cells[-1].source
    assert "end of the course" not in footer
    assert f"this is the last lesson written so far; the [lesson plan in the README]({sl.PLAN_LINK})" in footer
    # The link leads to the README's "## Lessons" section, where the plan is.
    page, anchor = sl.PLAN_LINK.split("#")
    readme = (tree / "notebooks" / page).resolve()
    assert readme == (tree / "README.md").resolve()
    headings = [line[3:].strip().lower().replace(" ", "-") for line in readme.read_text().splitlines()
                if line.startswith("## ")]
    assert anchor in headings


def test_the_course_readme_has_the_plan_the_footer_links_to():
    """The real README: a "## Lessons" section that holds the lesson map and the planned lessons."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Lessons\n", 1)[1].split("\n## ", 1)[0]
    assert sl.MAP_START in section and "Planned:" in section


def test_sanity_check_cells_are_collapsed_and_check_notices_an_expanded_one(tree, capsys):
    add_lesson(tree, "04_cache", "Cache")
    assert sl.main(["--root", str(tree)]) == 0
    path = tree / "notebooks" / "04_cache.ipynb"
    nb = read(path)
    sanity = [c for c in nb.cells if "sanity-check" in tags(c)]
    assert sanity and all(c.metadata["jupyter"]["source_hidden"] is True for c in sanity)
    assert not any(c.metadata.get("jupyter") for c in nb.cells if "sanity-check" not in tags(c))
    sanity[0].metadata["jupyter"]["source_hidden"] = False  # an author expanded it and saved
    nbformat.write(nb, path)
    assert sl.main(["--root", str(tree), "--check"]) == 1
