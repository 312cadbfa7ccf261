#!/usr/bin/env python3
"""Generate exercises/*.ipynb from solutions/*.ipynb (the only hand-written source).

Rules (docs/CONVENTIONS.md, "Exercises"):
- a code cell tagged ``solution`` is dropped;
- inside a code cell, the lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION``
  become placeholders that still execute: ``name = ...  # YOUR CODE HERE`` for every
  variable assigned at the region's own indentation (in order of first assignment), or a
  single ``...  # YOUR CODE HERE`` when the region assigns nothing; a final
  ``return name`` (or ``return a, b``) of assigned names is kept, so the learner fills in
  ``name = ...`` and the function already returns it;
- every output and execution count is removed, cell ids are numbered 0, 1, 2, ... (as
  nbstripout does), and a markdown note at the top tells the learner where to work; where the
  notebook came from is recorded for authors in that cell's metadata (``mktme_authoring``), not
  in what the learner reads.

A learner never works in exercises/ (this tool rewrites it): ``--learner-copies`` (run by
``make lab`` and ``make my-work``) copies every exercise notebook that is not yet in ``my-work/``
(git-ignored) there, and never overwrites a file that exists. No make target writes, tests or
deletes anything in ``my-work/`` (tests/course/test_pipeline_learner.py proves it).

    python tools/make_exercises.py                   # write exercises/
    python tools/make_exercises.py --check           # exit 1 and name every drifted/stale file
    python tools/make_exercises.py --learner-copies  # fill my-work/ with missing copies
"""
from __future__ import annotations

import argparse
import ast
import copy
import sys
from pathlib import Path

import nbformat

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
PLACEHOLDER = "...  # YOUR CODE HERE"
SOLUTION_TAG = "solution"
NOTE_TAG = "generated-exercise-note"
#: The learner's own folder (git-ignored): copies of the exercises that nothing overwrites.
LEARNER_DIR = "my-work"
#: Cell-metadata key holding notes for authors (never shown to a learner).
AUTHORING_KEY = "mktme_authoring"
ROOT = Path(__file__).resolve().parent.parent


class MarkerError(ValueError):
    """A solution region is malformed (unmatched or nested markers, unparsable code)."""


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _target_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for elt in target.elts for n in _target_names(elt)]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return []  # attributes and subscripts are not new variables


def assigned_names(region: list[str], indent: str, where: str = "") -> list[str]:
    """Names assigned by the region's statements at its own indentation."""
    return _analyse(region, indent, where)[0]


def _kept_return(tree: ast.Module, names: list[str]) -> str | None:
    """``return x`` / ``return x, y`` ending the region, if it only returns assigned names."""
    if not tree.body or not isinstance(tree.body[-1], ast.Return) or tree.body[-1].value is None:
        return None
    value = tree.body[-1].value
    elts = value.elts if isinstance(value, ast.Tuple) else [value]
    if elts and all(isinstance(e, ast.Name) and e.id in names for e in elts):
        return ast.unparse(tree.body[-1])
    return None


def _analyse(region: list[str], indent: str, where: str = "") -> tuple[list[str], str | None]:
    """Names assigned at the region's indentation, and the return statement to keep (if any)."""
    lines = []
    for line in region:
        if line.startswith(indent):
            line = line[len(indent):]
        elif not line.strip() or line.lstrip().startswith("#"):
            line = ""
        if line.lstrip().startswith(("%", "!")):  # IPython magics and shell escapes
            line = line[: len(line) - len(line.lstrip())] + "pass"
        lines.append(line)
    body = "\n".join(lines)
    try:
        tree = ast.parse(body)
    except SyntaxError as exc:
        raise MarkerError(f"{where}: the solution region does not parse as Python "
                          f"({exc.msg}, region line {exc.lineno})") from None
    names: list[str] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            targets = [n for t in stmt.targets for n in _target_names(t)]
        elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
            targets = _target_names(stmt.target)
        else:
            targets = []
        names.extend(n for n in targets if n not in names)
    return names, _kept_return(tree, names)


def transform_source(source: str, where: str = "cell") -> str:
    """Replace every solution region in one code cell's source by placeholders."""
    lines = source.split("\n")
    out: list[str] = []
    region: list[str] | None = None
    begin_line = 0
    marker_indent = ""
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped == BEGIN:
            if region is not None:
                raise MarkerError(f"{where}, line {number}: {BEGIN!r} inside the region "
                                  f"opened on line {begin_line} (regions cannot nest)")
            region, begin_line, marker_indent = [], number, _indent_of(line)
        elif stripped == END:
            if region is None:
                raise MarkerError(f"{where}, line {number}: {END!r} without a "
                                  f"{BEGIN!r} before it")
            code = [l for l in region if l.strip() and not l.strip().startswith("#")]
            indent = min((_indent_of(l) for l in code), key=len) if code else marker_indent
            names, kept = _analyse(region, indent, f"{where}, lines {begin_line}-{number}")
            if names:
                out.extend(f"{indent}{name} = {PLACEHOLDER}" for name in names)
            else:
                out.append(f"{indent}{PLACEHOLDER}")
            if kept:
                out.append(f"{indent}{kept}")
            region = None
        elif region is not None:
            region.append(line)
        else:
            out.append(line)
    if region is not None:
        raise MarkerError(f"{where}, line {begin_line}: {BEGIN!r} is never closed by {END!r}")
    return "\n".join(out)


def make_exercise(solution: nbformat.NotebookNode, source_name: str) -> nbformat.NotebookNode:
    """Build the exercise notebook for one solution notebook (which is left untouched)."""
    nb = copy.deepcopy(solution)
    cells = []
    stem = Path(source_name).stem
    note = nbformat.v4.new_markdown_cell(
        f"**Where to work:** in your own copy, `{LEARNER_DIR}/{stem}.ipynb`. `make lab` makes it "
        f"the first time (or `make my-work`), and no `make` target ever overwrites, tests or deletes "
        f"it. The copy in `exercises/` is rebuilt from the worked solutions, so answers typed "
        f"there are lost.")
    note.metadata["tags"] = [NOTE_TAG]
    # every cell carries slide metadata (tools/make_slides.py); the rest is copied from the solution
    note.metadata["slideshow"] = {"slide_type": "skip"}
    note.metadata[AUTHORING_KEY] = (
        f"Generated from {source_name} by tools/make_exercises.py: edit the solution and run "
        "`make exercises`, never this notebook.")
    cells.append(note)
    for index, cell in enumerate(nb.cells):
        # A cell tagged "solution" is the worked answer: a code cell, or our notes on an exercise
        # (a <details> block), which the learner must not find right under the check.
        if SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        if cell.cell_type == "code":
            cell.source = transform_source(cell.source, f"{source_name}, cell {index}")
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
    for number, cell in enumerate(cells):
        cell["id"] = str(number)
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    """The exact text nbformat.write (and nbstripout) would store."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def plan(root: Path = ROOT) -> tuple[dict[Path, str], list[Path]]:
    """Return ({exercise path: expected text}, [stale exercise paths])."""
    solutions = sorted((root / "solutions").glob("*.ipynb"))
    expected: dict[Path, str] = {}
    for path in solutions:
        nb = nbformat.read(path, as_version=4)
        name = f"solutions/{path.name}"
        expected[root / "exercises" / path.name] = render(make_exercise(nb, name))
    existing = sorted((root / "exercises").glob("*.ipynb"))
    stale = [p for p in existing if p not in expected]
    return expected, stale


def learner_copies(root: Path = ROOT) -> list[Path]:
    """Copy every exercises/*.ipynb that my-work/ lacks into my-work/; return the new files.

    A file already in my-work/ is never touched, whatever it holds (the learner's answers)."""
    target = root / LEARNER_DIR
    target.mkdir(exist_ok=True)
    made = []
    for source in sorted((root / "exercises").glob("*.ipynb")):
        copy_path = target / source.name
        if copy_path.exists():
            continue
        try:
            with open(copy_path, "x", encoding="utf-8") as fh:  # "x": never overwrite
                fh.write(source.read_text(encoding="utf-8"))
        except FileExistsError:
            continue
        made.append(copy_path)
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if exercises/ is out of date")
    parser.add_argument("--learner-copies", action="store_true",
                        help=f"copy exercises that {LEARNER_DIR}/ lacks into it (never overwrites)")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.learner_copies:
        made = learner_copies(root)
        for p in made:
            print(f"make_exercises: your copy {p.relative_to(root)} is ready; work there")
        if not made:
            print(f"make_exercises: {LEARNER_DIR}/ already holds every exercise (nothing changed)")
        return 0
    try:
        expected, stale = plan(root)
    except MarkerError as exc:
        print(f"make_exercises: {exc}", file=sys.stderr)
        return 2
    drifted = [p for p, text in expected.items()
               if not p.exists() or p.read_text(encoding="utf-8") != text]
    if args.check:
        for p in drifted:
            print(f"make_exercises: {p.relative_to(root)} is out of date "
                  "(run `make exercises`)", file=sys.stderr)
        for p in stale:
            print(f"make_exercises: {p.relative_to(root)} has no solutions/{p.name} "
                  "(delete it)", file=sys.stderr)
        if drifted or stale:
            return 1
        print(f"make_exercises: {len(expected)} exercise notebook(s) up to date")
        return 0
    (root / "exercises").mkdir(exist_ok=True)
    for p in drifted:
        p.write_text(expected[p], encoding="utf-8")
        print(f"make_exercises: wrote {p.relative_to(root)}")
    for p in stale:
        p.unlink()
        print(f"make_exercises: removed {p.relative_to(root)} (no solution)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
