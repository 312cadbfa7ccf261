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


def claims_toml() -> str:
    """The course's claims table as lessons.toml text (json strings are TOML basic strings)."""
    return "".join(f"[claims.{c.id}]\ntext = {json.dumps(c.text)}\nshort = {json.dumps(c.short)}\n"
                   f"experiment = {json.dumps(c.experiment)}\n\n" for c in sl.load_course(ROOT).claims)


def lesson_toml(stem: str, title: str, claims: list[str], *, status: str = "written",
                exercises: bool = False) -> str:
    return (f'\n[[lesson]]\nstem = "{stem}"\nstatus = "{status}"\ntitle = "{title}"\n'
            f"claims = {json.dumps(claims)}\n" + (f"exercises = {str(exercises).lower()}\n"
                                                   if status == "written" else ""))


@pytest.fixture
def tree(tmp_path) -> Path:
    """A copy of the course's lesson files with only lesson 00."""
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    (tmp_path / "lessons.toml").write_text(claims_toml() + lesson_toml(FIRST, "Start here", []))
    (tmp_path / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / f"{FIRST}.ipynb", tmp_path / "notebooks")
    assert sl.main(["--root", str(tmp_path)]) == 0
    return tmp_path


def read(path: Path):
    return nbformat.read(path, as_version=4)


def tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def add_lesson(root: Path, stem: str, title: str, exercises: bool = False) -> None:
    """Append a written lesson covering C5 to lessons.toml and write its notebook, whose metadata
    holds only the author's fields: lesson, title, claims and next are sync's to write."""
    with open(root / "lessons.toml", "a") as fh:
        fh.write(lesson_toml(stem, title, ["C5"], exercises=exercises))
    write_notebook(root, stem)


def write_notebook(root: Path, stem: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("Body."),
                nbformat.v4.new_code_cell("# \"one is one\"\nassert 1 == 1")]
    nb.cells[1].metadata["tags"] = ["sanity-check"]
    nb.metadata["mktme"] = {"objectives": ["see it"], "prerequisites": ["00"],
                            "teaching_min": 30, "exercise_min": 20, "keypoints": ["flush"],
                            "in_short": [f"line {i}" for i in range(1, 6)]}
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
    assert "(../my-work/01_tme_basics.ipynb)" in lesson_head[-1]  # the learner's own copy
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
    ("unknown-status", "status is 'draft'; it must be one of 'written', 'planned'"),
    ("no-title", "'title' must be non-empty text"),
    ("planned-with-notebook", "notebooks/01_tme_basics.ipynb exists but lessons.toml says 01_tme_basics is planned"),
    ("not-toml", "is not valid TOML"),
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
        toml = tree / "lessons.toml"
        toml.write_text(toml.read_text().replace('claims = ["C5"]', 'claims = ["C99"]'))
    if breakage in ("unknown-status", "no-title", "planned-with-notebook"):
        toml = tree / "lessons.toml"
        replaced = {"unknown-status": ('status = "written"\ntitle = "TME', 'status = "draft"\ntitle = "TME'),
                    "no-title": ('title = "TME basics"', 'title = ""'),
                    "planned-with-notebook": ('status = "written"\ntitle = "TME basics"\nclaims = ["C5"]\n'
                                              'exercises = false',
                                              'status = "planned"\ntitle = "TME basics"\nclaims = ["C5"]')}
        old, new = replaced[breakage]
        assert old in toml.read_text()
        toml.write_text(toml.read_text().replace(old, new))
    if breakage == "not-toml":
        with open(tree / "lessons.toml", "a") as fh:
            fh.write("[[lesson]\n")
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
    """The real README: a "## Lessons" section that holds the lesson map and the planned lessons,
    named by the sentence sync writes from lessons.toml."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Lessons\n", 1)[1].split("\n## ", 1)[0]
    course = sl.load_course(ROOT)
    assert sl.MAP_START in section and sl.planned_sentence(course) in section
    assert ("Planned:" in section) == bool(course.planned())
    for entry in course.planned():
        assert f"{entry.number} {entry.title} ({', '.join(entry.claims)})" in section


def test_metadata_fields_come_from_lessons_toml(tree, capsys):
    """lessons.toml is the source of lesson, title, claims and next; a hand edit of the copy drifts."""
    add_lesson(tree, "01_tme_basics", "TME basics")
    assert sl.main(["--root", str(tree)]) == 0
    path = tree / "notebooks" / "01_tme_basics.ipynb"
    meta = read(path).metadata["mktme"]
    assert {f: meta[f] for f in sl.GENERATED} == {"lesson": "01", "title": "TME basics",
                                                  "claims": ["C5"], "next": None}
    course = sl.load_course(tree)
    assert sl.disagreements(meta, course, course.lesson("01")) == []
    nb = read(path)
    nb.metadata["mktme"]["title"] = "Edited in JupyterLab"
    nbformat.write(nb, path)
    assert sl.disagreements(nb.metadata["mktme"], course, course.lesson("01")) == [
        "notebooks/01_tme_basics.ipynb metadata.mktme: title is 'Edited in JupyterLab' but lessons.toml "
        "says 'TME basics' (lessons.toml is the source; run `make sync`)"]
    assert sl.main(["--root", str(tree), "--check"]) == 1
    assert "notebooks/01_tme_basics.ipynb is out of date" in capsys.readouterr().err
    assert sl.main(["--root", str(tree)]) == 0
    assert read(path).metadata["mktme"]["title"] == "TME basics"


def test_retitling_in_lessons_toml_alone_drifts_header_footer_and_readme(tree, capsys):
    add_lesson(tree, "01_tme_basics", "TME basics")
    assert sl.main(["--root", str(tree)]) == 0
    toml = tree / "lessons.toml"
    toml.write_text(toml.read_text().replace('title = "TME basics"', 'title = "TME, the basics"'))
    assert sl.main(["--root", str(tree), "--check"]) == 1
    err = capsys.readouterr().err
    for name in (f"notebooks/{FIRST}.ipynb", "notebooks/01_tme_basics.ipynb", "README.md"):
        assert f"{name} is out of date" in err
    assert sl.main(["--root", str(tree)]) == 0
    assert read(tree / "notebooks" / "01_tme_basics.ipynb").cells[0].source.startswith(
        "# Lesson 01 — TME, the basics")
    assert "[Lesson 01 — TME, the basics](01_tme_basics.ipynb)" in read(
        tree / "notebooks" / f"{FIRST}.ipynb").cells[-1].source


def test_a_planned_lesson_is_in_the_readme_sentence_and_nowhere_else(tree):
    with open(tree / "lessons.toml", "a") as fh:
        fh.write(lesson_toml("04_cache_incoherence", "Cache incoherence", ["C5", "C6"], status="planned"))
    assert sl.main(["--root", str(tree)]) == 0
    readme = (tree / "README.md").read_text()
    region = readme[readme.index(sl.MAP_START):readme.index(sl.MAP_END)]
    assert "Planned: 04 Cache incoherence (C5, C6)." in region
    assert "04_cache_incoherence.ipynb" not in region  # no link to a notebook that does not exist
    first = read(tree / "notebooks" / f"{FIRST}.ipynb")
    assert first.metadata["mktme"]["next"] is None  # next skips planned lessons
    assert "last lesson written so far" in first.cells[-1].source


def test_writing_the_planned_lesson_touches_lessons_toml_once(tree):
    """Lesson 04 goes from planned to written: one status line in lessons.toml, plus its notebook."""
    with open(tree / "lessons.toml", "a") as fh:
        fh.write(lesson_toml("04_cache_incoherence", "Cache incoherence", ["C5", "C6"], status="planned"))
    assert sl.main(["--root", str(tree)]) == 0
    write_notebook(tree, "04_cache_incoherence")
    assert sl.main(["--root", str(tree), "--check"]) == 2  # a planned lesson may not have a notebook
    toml = tree / "lessons.toml"
    toml.write_text(toml.read_text().replace('status = "planned"', 'status = "written"\nexercises = false'))
    assert sl.main(["--root", str(tree), "--check"]) == 1
    assert sl.main(["--root", str(tree)]) == 0
    readme = (tree / "README.md").read_text()
    assert "| [04](notebooks/04_cache_incoherence.ipynb) | Cache incoherence | 30 + 20 | C5, C6 |" in readme
    assert "Every lesson of the plan is written" in readme and "Planned:" not in readme
    lesson = read(tree / "notebooks" / "04_cache_incoherence.ipynb")
    assert "**C5**" in lesson.cells[0].source and "**C6**" in lesson.cells[0].source
    first = read(tree / "notebooks" / f"{FIRST}.ipynb")
    assert "[Lesson 04 — Cache incoherence](04_cache_incoherence.ipynb)" in first.cells[-1].source


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


def test_header_opens_with_the_five_line_in_short(tree):
    add_lesson(tree, "01_tme_basics", "TME basics")
    assert sl.main(["--root", str(tree)]) == 0
    header = read(tree / "notebooks" / "01_tme_basics.ipynb").cells[0].source
    title, in_short = header.split("\n\n")[:2]
    assert title == "# Lesson 01 — TME basics"
    assert in_short == "**In short**\n" + "\n".join(f"- line {i}" for i in range(1, 6))


@pytest.mark.parametrize("lines, message", [(4, "exactly 5"), (6, "exactly 5"), ("long", "longer than")])
def test_in_short_must_be_five_short_lines(tree, capsys, lines, message):
    add_lesson(tree, "01_tme_basics", "TME basics")
    path = tree / "notebooks" / "01_tme_basics.ipynb"
    nb = read(path)
    nb.metadata["mktme"]["in_short"] = (["x" * 200] * 5 if lines == "long" else ["x"] * lines)
    nbformat.write(nb, path)
    assert sl.main(["--root", str(tree), "--check"]) == 2
    assert message in capsys.readouterr().err
