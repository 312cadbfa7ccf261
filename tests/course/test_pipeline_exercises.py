"""tools/make_exercises.py: solution regions become runnable placeholders (CONVENTIONS.md)."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import nbformat
import pytest

import make_exercises as mx
from make_exercises import PLACEHOLDER, MarkerError, transform_source


def src(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


@pytest.mark.parametrize("name, solution, exercise", [
    ("top-level assignment",
     """
     key = bytes(16)
     ### BEGIN SOLUTION
     keyid = 3
     hpa = (keyid << 40) | 0x1000
     ### END SOLUTION
     check(hpa)
     """,
     f"""
     key = bytes(16)
     keyid = {PLACEHOLDER}
     hpa = {PLACEHOLDER}
     check(hpa)
     """),
    ("tuple, chained, annotated and augmented assignments",
     """
     ### BEGIN SOLUTION
     keyid, offset = divmod(hpa, 1 << 40)
     a = b = 0
     mask: int = (1 << 40) - 1
     a += 1
     ### END SOLUTION
     """,
     f"""
     keyid = {PLACEHOLDER}
     offset = {PLACEHOLDER}
     a = {PLACEHOLDER}
     b = {PLACEHOLDER}
     mask = {PLACEHOLDER}
     """),
    ("inside a function body: the final return of an assigned name is kept",
     """
     def keyid_of(hpa):
         \"\"\"Return the KeyID bits.\"\"\"
         ### BEGIN SOLUTION
         keyid = hpa >> 40
         return keyid
         ### END SOLUTION
     """,
     f"""
     def keyid_of(hpa):
         \"\"\"Return the KeyID bits.\"\"\"
         keyid = {PLACEHOLDER}
         return keyid
     """),
    ("a returned tuple of assigned names is kept too",
     """
     def split(hpa):
         ### BEGIN SOLUTION
         pa = hpa & 0xFF
         keyid = hpa >> 40
         return pa, keyid
         ### END SOLUTION
     """,
     f"""
     def split(hpa):
         pa = {PLACEHOLDER}
         keyid = {PLACEHOLDER}
         return (pa, keyid)
     """),
    ("a return of an expression is not kept: the function returns None",
     """
     def keyid_of(hpa):
         ### BEGIN SOLUTION
         shift = 40
         return hpa >> shift
         ### END SOLUTION
     """,
     f"""
     def keyid_of(hpa):
         shift = {PLACEHOLDER}
     """),
    ("nested indentation: only the region's own level counts",
     """
     def flush_all(lines):
         for line in lines:
             ### BEGIN SOLUTION
             if line.dirty:
                 written = line.writeback()
             line.valid = False
             ### END SOLUTION
     """,
     f"""
     def flush_all(lines):
         for line in lines:
             {PLACEHOLDER}
     """),
    ("no assignment",
     """
     def program_all(machine, keyid, key):
         ### BEGIN SOLUTION
         for package in machine.packages:
             package.pconfig(keyid, key)
         ### END SOLUTION
     """,
     f"""
     def program_all(machine, keyid, key):
         {PLACEHOLDER}
     """),
    ("several regions in one cell, comments and magics inside",
     """
     ### BEGIN SOLUTION
     # the KeyID goes in the top bits
     first = 1
     ### END SOLUTION
     middle = 2
         ### BEGIN SOLUTION
     %time second = 3
     last = first + second
     ### END SOLUTION
     """,
     f"""
     first = {PLACEHOLDER}
     middle = 2
     last = {PLACEHOLDER}
     """),
    ("markers with trailing spaces",
     "### BEGIN SOLUTION   \nx = 1\n### END SOLUTION  ",
     f"x = {PLACEHOLDER}"),
    ("no region: unchanged",
     "print('hello')\n# ### not a marker",
     "print('hello')\n# ### not a marker"),
])
def test_transform(name, solution, exercise):
    assert transform_source(src(solution)) == src(exercise)


def test_generated_placeholders_still_execute():
    code = transform_source(src("""
        def keyid_of(hpa):
            ### BEGIN SOLUTION
            return hpa >> 40
            ### END SOLUTION
        ### BEGIN SOLUTION
        answer = keyid_of(3 << 40)
        ### END SOLUTION
        """))
    scope: dict = {}
    exec(code, scope)
    assert scope["keyid_of"](1 << 40) is None and scope["answer"] is Ellipsis


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
    ("x = 1\n### END SOLUTION\n", "without"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", "cannot nest"),
    ("### BEGIN SOLUTION\nx = (\n### END SOLUTION\n", "does not parse"),
])
def test_malformed_regions_give_a_clear_error(source, message):
    with pytest.raises(MarkerError, match=message) as info:
        transform_source(source, "solutions/01_x.ipynb, cell 4")
    assert "solutions/01_x.ipynb, cell 4, line" in str(info.value)


def solution_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    md = nbformat.v4.new_markdown_cell("# Exercise")
    setup = nbformat.v4.new_code_cell("from mktme_lite.checks import is_placeholder")
    answer = nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 42\n### END SOLUTION\nx",
                                       execution_count=3,
                                       outputs=[nbformat.v4.new_output(
                                           "execute_result", {"text/plain": "42"},
                                           execution_count=3)])
    hidden = nbformat.v4.new_code_cell("assert x == 42")
    hidden.metadata["tags"] = ["solution"]
    nb.cells = [md, setup, answer, hidden]
    nb.metadata["mktme"] = {"lesson": "01"}
    return nb


def test_make_exercise_drops_solution_cells_and_outputs():
    nb = mx.make_exercise(solution_notebook(), "solutions/01_x.ipynb")
    sources = [c.source for c in nb.cells]
    # The learner reads where to work; where the notebook came from is for authors (metadata).
    assert "my-work/01_x.ipynb" in sources[0] and "solutions/01_x.ipynb" not in sources[0]
    assert "do not edit" not in sources[0] and "make exercises" not in sources[0]
    assert "solutions/01_x.ipynb" in nb.cells[0].metadata[mx.AUTHORING_KEY]
    assert f"x = {PLACEHOLDER}\nx" in sources
    assert not any("assert x == 42" in s for s in sources)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert [c["id"] for c in nb.cells] == [str(i) for i in range(len(nb.cells))]
    assert nb.metadata["mktme"] == {"lesson": "01"}


def test_notes_tagged_solution_stay_in_the_solutions():
    sol = solution_notebook()
    notes = nbformat.v4.new_markdown_cell("<details><summary>Our notes on exercise 1</summary>\n\nFlush first.\n</details>")
    notes.metadata["tags"] = [mx.SOLUTION_TAG]
    sol.cells.append(notes)
    nb = mx.make_exercise(sol, "solutions/01_x.ipynb")
    assert not any("Our notes on exercise 1" in c.source for c in nb.cells)


def test_no_exercise_carries_our_notes_on_an_exercise():
    """The worked notes under an exercise's check are tagged "solution", so no exercise shows them."""
    for path in sorted((mx.ROOT / "exercises").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        assert not any(c.cell_type == "markdown" and "Our notes on exercise" in c.source for c in nb.cells), path.name


def test_source_notebook_is_not_modified():
    nb = solution_notebook()
    before = nbformat.writes(nb)
    mx.make_exercise(nb, "solutions/01_x.ipynb")
    assert nbformat.writes(nb) == before


def make_tree(tmp_path: Path) -> Path:
    (tmp_path / "solutions").mkdir()
    nbformat.write(solution_notebook(), tmp_path / "solutions" / "01_x.ipynb")
    return tmp_path


def test_write_then_check_round_trip(tmp_path, capsys):
    root = make_tree(tmp_path)
    assert mx.main(["--root", str(root), "--check"]) == 1
    assert "exercises/01_x.ipynb is out of date" in capsys.readouterr().err
    assert mx.main(["--root", str(root)]) == 0
    assert mx.main(["--root", str(root), "--check"]) == 0
    text = (root / "exercises" / "01_x.ipynb").read_text()
    assert text.endswith("}\n") and json.loads(text)["nbformat"] == 4
    assert mx.main(["--root", str(root)]) == 0  # idempotent: nothing rewritten
    assert (root / "exercises" / "01_x.ipynb").read_text() == text


def test_check_names_hand_edited_and_stale_exercises(tmp_path, capsys):
    root = make_tree(tmp_path)
    mx.main(["--root", str(root)])
    edited = root / "exercises" / "01_x.ipynb"
    edited.write_text(edited.read_text().replace("YOUR CODE HERE", "my answer"))
    (root / "exercises" / "09_orphan.ipynb").write_text(edited.read_text())
    capsys.readouterr()
    assert mx.main(["--root", str(root), "--check"]) == 1
    err = capsys.readouterr().err
    assert "exercises/01_x.ipynb is out of date" in err
    assert "exercises/09_orphan.ipynb has no solutions/09_orphan.ipynb" in err
    mx.main(["--root", str(root)])
    assert not (root / "exercises" / "09_orphan.ipynb").exists()
    assert mx.main(["--root", str(root), "--check"]) == 0


def test_malformed_solution_fails_the_tool(tmp_path, capsys):
    root = make_tree(tmp_path)
    nb = solution_notebook()
    nb.cells[2].source = "### BEGIN SOLUTION\nx = 1"
    nbformat.write(nb, root / "solutions" / "01_x.ipynb")
    assert mx.main(["--root", str(root), "--check"]) != 0
    assert "solutions/01_x.ipynb, cell 2, line 1" in capsys.readouterr().err
