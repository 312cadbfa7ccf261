"""Lesson minutes follow from the lesson: words, visible code cells and exercises
(tools/sync_lessons.py estimate_minutes), and `make sync` warns when prose outgrows them."""
from __future__ import annotations

import json
from pathlib import Path

import nbformat

import sync_lessons as sl

ROOT = Path(__file__).resolve().parents[2]


def notebook(words: int, code: int = 0, sanity: int = 0, exercises: int = 0):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(" ".join(["word"] * words))]
    for i in range(exercises):
        nb.cells.append(nbformat.v4.new_markdown_cell(f"## Exercise {i + 1} — something\n\nDo it."))
    nb.cells += [nbformat.v4.new_code_cell("x = 1") for _ in range(code)]
    for _ in range(sanity):
        cell = nbformat.v4.new_code_cell("assert True")
        cell.metadata["tags"] = [sl.SANITY_TAG]
        nb.cells.append(cell)
    return nb


def test_estimate_grows_with_words_code_cells_and_exercises():
    base = sl.estimate_minutes(notebook(2000))[0]
    assert sl.estimate_minutes(notebook(4000))[0] > base
    assert sl.estimate_minutes(notebook(2000, code=40))[0] > base
    assert sl.estimate_minutes(notebook(2000, sanity=40))[0] == base  # hidden asserts cost no reading
    assert sl.estimate_minutes(notebook(2000), None)[1] == 0
    one, four = (sl.estimate_minutes(notebook(100), notebook(500, exercises=n))[1] for n in (1, 4))
    assert four > one > 0


def test_the_estimate_never_exceeds_the_reading_pace():
    for words in (100, 800, 1000, 2600, 3442, 5000, 9000):
        teaching = sl.estimate_minutes(notebook(words))[0]
        assert teaching % 5 == 0 and words / teaching <= sl.MAX_WORDS_PER_MIN


def test_every_lesson_keeps_within_its_minutes():
    """No warning for the course's lessons, and the before-stop hook's rule holds: at most 90 words
    of prose per teaching minute."""
    assert sl.minute_warnings(ROOT) == []
    for entry in sl.load_course(ROOT).written():
        nb = json.loads((ROOT / "notebooks" / f"{entry.stem}.ipynb").read_text())
        words = sum(len("".join(c["source"]).split()) for c in nb["cells"] if c["cell_type"] == "markdown")
        assert words / nb["metadata"]["mktme"]["teaching_min"] <= 90, entry.stem


def test_sync_warns_when_prose_outgrows_its_minutes(tmp_path, capsys):
    for name in ("lessons.toml", "README.md", "glossary.toml"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    for folder in ("notebooks", "solutions"):
        (tmp_path / folder).mkdir()
        for path in (ROOT / folder).glob("*.ipynb"):
            (tmp_path / folder / path.name).write_text(path.read_text())
    assert sl.main(["--root", str(tmp_path)]) == 0
    capsys.readouterr()
    path = tmp_path / "notebooks" / "01_tme_basics.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(2, nbformat.v4.new_markdown_cell(" ".join(["more"] * 3000)))
    nbformat.write(nb, path)
    sl.main(["--root", str(tmp_path)])
    err = capsys.readouterr().err
    assert "warning: notebooks/01_tme_basics.ipynb: teaching_min is 35" in err and "shorten" in err
