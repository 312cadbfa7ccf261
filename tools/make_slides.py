#!/usr/bin/env python3
"""Slide metadata and speaker notes for the lessons (reveal.js via nbconvert, RISE in the lab).

Every cell of every notebook in notebooks/ and solutions/ carries
``metadata.slideshow.slide_type``, set by :func:`with_slides`, a rule-based pass that
``tools/sync_lessons.py`` (``make sync``) applies and ``--check`` (``make test-sync``) verifies.
exercises/ inherit it from solutions/ (tools/make_exercises.py copies cell metadata). The
rules, first match wins:

- the generated header (tag ``lesson-header``) and every heading of level 1 or 2: ``slide``;
- a heading of level 3 and below: ``subslide``;
- a cell tagged ``sanity-check``, the "Starting fresh?" note and the first code cell when it
  only imports and sets up (the setup cell): ``skip``;
- a "**Predict ...**" prompt stays on its slide; the code cell that answers it and the prose
  right after that code are ``fragment`` s: the lecturer asks, the room answers, then reveals;
- a self-check question (``quiz.ask(...)``), a widget or picture call (``lesson.show(...)``,
  a bare ``name()`` call, ``display(...)``), and any cell that would push its slide past the
  height budget (:data:`BUDGET`, an estimate in lines of the 960x700 reveal slide): ``subslide``;
- everything else: ``-`` (continues the slide).

The notebook metadata gets ``rise`` (:data:`RISE`): theme white, no transition, scrolling on.

Speaker notes live outside the notebooks, in ``slides/notes/<stem>.toml``, so learners never
read them in their lessons. Each table is keyed by an *anchor*, the text of a heading in the
lesson (``"2. C5: write through one KeyID, read through another"``) without its ``#``; its
fields are ``say`` (what to say, required), ``ask`` (what to ask the room before the reveal) and
``minutes`` (time on that section). :func:`with_notes` puts them into the slide build's copy as
cells of slide_type ``notes`` (reveal.js shows them in the speaker view, key ``S``).

    python tools/make_slides.py --check     # every notes file parses, every anchor exists
"""
from __future__ import annotations

import argparse
import copy
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTES_DIR = ROOT / "slides" / "notes"

SLIDE_TYPES = ("slide", "subslide", "fragment", "skip", "notes", "-")
#: RISE's options (notebook metadata ``rise``): jupyterlab-rise reads them for live slides.
RISE = {"theme": "white", "transition": "none", "scroll": True, "width": 960, "height": 700,
        "start_slideshow_at": "beginning", "enable_chalkboard": False}
#: How many estimated lines (of reveal's 960x700 slide at the template's 20 px text) one slide
#: may hold before the next cell starts a subslide. Estimates are coarse on purpose; the slide
#: test measures the real heights in Chromium, and the template scales what still overflows.
BUDGET = 22
#: Characters of prose per rendered line on a slide (960 px at the template's text size).
CHARS_PER_LINE = 80
#: Estimated lines of output for a cell that draws a picture, a table or a widget.
PICTURE_LINES = 16

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
PREDICT = re.compile(r"^\*\*[^\n]*?\bpredict", re.I)
PICTURE_CALL = re.compile(r"(^|\n)\s*(lesson\.show|display|quiz\.ask)\(|(^|\n)[a-z_][a-z0-9_]*\(\)\s*;?\s*$")
SETUP_LINE = re.compile(r"^\s*(from\s+\S+\s+import\b|import\s|#|$|\)|[A-Za-z_][\w, ()]*,?\s*$)")

NOTE_FIELDS = {"say": str, "ask": str, "minutes": (int, float)}


class SlideError(ValueError):
    """A notes file is malformed or names an anchor the lesson does not have."""


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def heading(cell) -> tuple[int, str] | None:
    """(level, text) of a markdown cell's first line when it is a heading, else None."""
    if cell.get("cell_type") != "markdown":
        return None
    first = cell.get("source", "").lstrip("\n").split("\n", 1)[0]
    m = HEADING.match(first)
    return (len(m.group(1)), m.group(2).strip()) if m else None


def anchors(nb) -> list[str]:
    """Every heading text of a notebook (the anchors speaker notes may use), in order."""
    out = []
    for cell in nb.cells:
        for line in cell.get("source", "").split("\n") if cell.get("cell_type") == "markdown" else []:
            m = HEADING.match(line)
            if m:
                out.append(m.group(2).strip())
    return out


def _is_setup(cell) -> bool:
    """The lesson's import/setup cell: imports, and names or settings, nothing it shows."""
    src = cell.get("source", "")
    return (cell.get("cell_type") == "code" and bool(re.search(r"^\s*(from|import)\s", src, re.M))
            and not PICTURE_CALL.search(src) and "print(" not in src)


def estimate_lines(cell) -> int:
    """Rough height of a cell on a slide, in lines of text (for the subslide budget)."""
    src = cell.get("source", "")
    if cell.get("cell_type") == "markdown":
        lines = 0
        for para in src.split("\n"):
            lines += max(1, -(-len(para) // CHARS_PER_LINE))
        return lines
    lines = len(src.split("\n")) + 1
    if PICTURE_CALL.search(src):
        lines += PICTURE_LINES
    elif "print(" in src or re.search(r"\n\S[^=\n]*$", src) or "\n" not in src:
        lines += max(3, src.count("print(") * 2)  # printed lines or a repr
    return lines


def slide_types(nb) -> list[str]:
    """The slide_type of every cell of nb, by the rules in the module docstring."""
    types: list[str] = []
    used = 0              # estimated lines on the current (sub)slide
    setup_done = False    # the first code cell has been seen
    reveal = False        # after a Predict prompt: its answer is still to come
    for cell in nb.cells:
        tags = _tags(cell)
        head = heading(cell)
        src = cell.get("source", "")
        kind = "-"
        if "lesson-header" in tags or (head and head[0] <= 2):
            kind, reveal = "slide", False
        elif head:
            kind, reveal = "subslide", False
        elif "sanity-check" in tags:
            kind = "skip"
        elif cell.get("cell_type") == "markdown" and src.lstrip().startswith("**Starting fresh?**"):
            kind = "skip"
        elif cell.get("cell_type") == "code" and not setup_done and _is_setup(cell):
            kind = "skip"
        elif reveal:
            kind = "fragment"            # the answer: code, then the prose that closes it
            reveal = cell.get("cell_type") != "markdown"
        elif cell.get("cell_type") == "markdown" and PREDICT.match(src.lstrip()):
            kind, reveal = ("subslide" if used else "-"), True
        elif cell.get("cell_type") == "code" and re.search(r"^\s*quiz\.ask\(", src, re.M):
            kind = "subslide"
        if cell.get("cell_type") == "code":
            setup_done = True
        if kind == "skip":
            types.append(kind)
            continue
        size = estimate_lines(cell)
        if kind == "-" and used and (used + size > BUDGET or
                                     (cell.get("cell_type") == "code" and PICTURE_CALL.search(src)
                                      and used + size > BUDGET // 2)):
            kind = "subslide"
        if kind in ("slide", "subslide"):
            used = size
        else:
            used += size
        types.append(kind)
    return types


def with_slides(nb):
    """Copy of nb with every cell's slide_type set by the rules and notebook metadata ``rise``."""
    nb = copy.deepcopy(nb)
    for cell, kind in zip(nb.cells, slide_types(nb)):
        cell.metadata["slideshow"] = {"slide_type": kind}
    nb.metadata["rise"] = dict(RISE)
    return nb


def missing_slides(nb) -> list[int]:
    """Indices of the cells without a valid slide_type (empty: nb carries its slide metadata)."""
    return [i for i, cell in enumerate(nb.cells)
            if cell.get("metadata", {}).get("slideshow", {}).get("slide_type") not in SLIDE_TYPES]


# --------------------------------------------------------------------------- speaker notes

def notes_path(stem: str, notes_dir: Path = NOTES_DIR) -> Path:
    return notes_dir / f"{stem}.toml"


def load_notes(stem: str, notes_dir: Path = NOTES_DIR) -> dict[str, dict]:
    """{anchor: {"say": ..., "ask": ..., "minutes": ...}} from slides/notes/<stem>.toml."""
    path = notes_path(stem, notes_dir)
    rel = path.relative_to(path.parents[2]) if len(path.parents) > 2 else path
    if not path.exists():
        raise SlideError(f"{rel}: missing; every lesson needs speaker notes (tables keyed by a "
                         "heading of the lesson, each with `say`, optional `ask` and `minutes`)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SlideError(f"{rel}: not valid TOML ({exc})") from None
    problems = []
    if not data:
        problems.append(f"{rel}: holds no note")
    for anchor, note in data.items():
        if not isinstance(note, dict):
            problems.append(f"{rel}: [{anchor!r}] must be a table with `say` (and optional `ask`, "
                            "`minutes`), not a {type(note).__name__}")
            continue
        unknown = sorted(set(note) - set(NOTE_FIELDS))
        if unknown:
            problems.append(f"{rel}: [{anchor!r}] has unknown fields {unknown}; allowed: "
                            f"{sorted(NOTE_FIELDS)}")
        if not isinstance(note.get("say"), str) or not note["say"].strip():
            problems.append(f"{rel}: [{anchor!r}] needs `say`, the text the lecturer says")
        for field, kind in NOTE_FIELDS.items():
            if field in note and (isinstance(note[field], bool) or not isinstance(note[field], kind)):
                problems.append(f"{rel}: [{anchor!r}] field {field!r} must be "
                                f"{'a string' if kind is str else 'a number of minutes'}")
    if problems:
        raise SlideError("\n".join(problems))
    return data


def note_problems(stem: str, nb, notes_dir: Path = NOTES_DIR) -> list[str]:
    """What is wrong with a lesson's speaker notes: a bad file, or an anchor the lesson lacks."""
    try:
        notes = load_notes(stem, notes_dir)
    except SlideError as exc:
        return str(exc).split("\n")
    have = set(anchors(nb))
    return [f"slides/notes/{stem}.toml: [{anchor!r}] points at no heading of notebooks/{stem}.ipynb "
            "(headings are anchors without their `#`; was it renamed?)"
            for anchor in notes if anchor not in have]


def note_markdown(note: dict) -> str:
    parts = []
    if "minutes" in note:
        parts.append(f"**Time:** about {note['minutes']:g} min")
    parts.append(note["say"].strip())
    if note.get("ask"):
        parts.append(f"**Ask the room first:** {note['ask'].strip()}")
    return "\n\n".join(parts)


def _blocks(source: str) -> list[str]:
    """A markdown source cut at blank lines, never inside a code fence or a <details> block."""
    blocks, current, fence, details = [], [], False, 0
    for line in source.split("\n"):
        if line.lstrip().startswith("```"):
            fence = not fence
        details += line.count("<details") - line.count("</details>")
        if not line.strip() and not fence and details <= 0 and current:
            blocks.append("\n".join(current))
            current = []
        elif line.strip() or current:
            current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


def split_tall(nb, budget: int = BUDGET):
    """Copy of nb for the slide build: a markdown cell taller than ``budget`` lines becomes
    several cells cut between paragraphs, each after the first on a subslide of its own. Nothing
    is dropped; the lesson notebooks keep their cells (RISE scrolls a tall one)."""
    import nbformat

    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        kind = cell.get("metadata", {}).get("slideshow", {}).get("slide_type")
        if cell.cell_type != "markdown" or kind in ("skip", "notes") or estimate_lines(cell) <= budget:
            cells.append(cell)
            continue
        chunks, current, used = [], [], 0
        for block in _blocks(cell.source):
            size = estimate_lines({"cell_type": "markdown", "source": block}) + 1
            if current and used + size > budget:
                chunks.append(current)
                current, used = [], 0
            current.append(block)
            used += size
        chunks.append(current)
        for n, chunk in enumerate(chunks):
            part = copy.deepcopy(cell)
            part.source = "\n\n".join(chunk)
            if n:
                part.metadata["slideshow"] = {"slide_type": "subslide"}
                part.metadata.pop("tags", None)
            cells.append(part)
    nb.cells = cells
    for number, cell in enumerate(nb.cells):
        cell["id"] = str(number)
    return nb


def with_notes(nb, notes: dict[str, dict]):
    """Copy of nb with a notes cell (slide_type ``notes``) after each anchored heading's cell."""
    import nbformat

    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        if cell.get("cell_type") != "markdown":
            continue
        texts = [m.group(2).strip() for m in map(HEADING.match, cell.source.split("\n")) if m]
        for text in texts:
            if text in notes:
                note = nbformat.v4.new_markdown_cell(note_markdown(notes[text]))
                note.metadata["slideshow"] = {"slide_type": "notes"}
                cells.append(note)
    nb.cells = cells
    for number, cell in enumerate(nb.cells):
        cell["id"] = str(number)
    return nb


def main(argv: list[str] | None = None) -> int:
    import nbformat

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="check every lesson's notes file and its anchors (the default)")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.root))
    from mktme_lite import course as course_data

    problems = []
    for les in course_data.load(args.root / "lessons.toml").written():
        nb = nbformat.read(args.root / "notebooks" / f"{les.stem}.ipynb", as_version=4)
        problems += note_problems(les.stem, nb, args.root / "slides" / "notes")
        if missing_slides(nb):
            problems.append(f"notebooks/{les.stem}.ipynb: cells {missing_slides(nb)} have no "
                            "slide metadata (run `make sync`)")
    for line in problems:
        print(f"make_slides: {line}", file=sys.stderr)
    if problems:
        return 1
    print("make_slides: every lesson has slide metadata and speaker notes whose anchors exist")
    return 0


if __name__ == "__main__":
    sys.exit(main())
