#!/usr/bin/env python3
"""Write everything that is derived from lessons.toml and the lessons' metadata.

lessons.toml is the only list of the course (read through ``mktme_lite.course``): every lesson,
written or planned, with its title and claims, and the claims table. For every *written* lesson,
in order:
- notebooks/<stem>.ipynb: the generated metadata fields ``lesson``, ``title``, ``claims`` (copied
  from lessons.toml) and ``next`` (the following written lesson's stem, or null for the last one);
  the first cell (markdown, tag ``lesson-header``: title, objectives, prerequisites, minutes,
  claims with their text from lessons.toml, exercise pointer) and the last cell (markdown, tag
  ``lesson-footer``: key points and the link to the next lesson, or for the last lesson written
  so far a pointer to the README's lesson plan). Missing cells are inserted, existing ones replaced.
  The other metadata fields (objectives, prerequisites, minutes, keypoints) are the author's.
- solutions/<stem>.ipynb, when it exists: the same metadata and a header cell that differs only in
  its last line, which links to the lesson and the worked solutions (make_exercises copies this
  header into exercises/<stem>.ipynb, so it must not link to the exercise notebook itself).
- README.md: between ``<!-- lesson-map:start -->`` and ``<!-- lesson-map:end -->``, the map of the
  written lessons and the sentence naming the planned ones.

A planned lesson must have no notebook yet; writing one means setting its status in lessons.toml.

    python tools/sync_lessons.py            # rewrite what drifted
    python tools/sync_lessons.py --check    # change nothing; exit 1 naming drifted files

Notebooks are written like nbformat.write (sorted keys, indent 1, final newline) with cell
ids 0, 1, 2, ... like nbstripout, so syncing, stripping and regenerating never fight.
"""
from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

from mktme_lite import course as course_data

ROOT = Path(__file__).resolve().parent.parent
HEADER_TAG = "lesson-header"
FOOTER_TAG = "lesson-footer"
MAP_START = "<!-- lesson-map:start -->"
MAP_END = "<!-- lesson-map:end -->"

# field -> (type, may the list be empty?)
FIELDS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "lesson": (str, False),
    "title": (str, False),
    "objectives": (list, False),
    "prerequisites": (list, True),
    "teaching_min": (int, False),
    "exercise_min": (int, False),
    "claims": (list, True),
    "keypoints": (list, False),
    "next": ((str, type(None)), False),
}
#: The metadata fields `make sync` writes from lessons.toml (never edit them in the notebook);
#: every other field of FIELDS is written by the lesson's author.
GENERATED = ("lesson", "title", "claims", "next")

#: lessons.toml, a notebook's metadata or the README is incomplete or inconsistent (one error
#: family with mktme_lite.course, whose reading of lessons.toml raises it too).
LessonError = course_data.CourseError


def load_course(root: Path = ROOT) -> course_data.Course:
    """The course in root/lessons.toml, checked by mktme_lite.course (raises LessonError)."""
    return course_data.load(root / "lessons.toml")


def generated_fields(course: course_data.Course, lesson: course_data.Lesson) -> dict:
    """The metadata fields lessons.toml decides for one written lesson."""
    written = [entry.stem for entry in course.written()]
    i = written.index(lesson.stem)
    return {"lesson": lesson.number, "title": lesson.title, "claims": list(lesson.claims),
            "next": written[i + 1] if i + 1 < len(written) else None}


def disagreements(meta: object, course: course_data.Course, lesson: course_data.Lesson) -> list[str]:
    """Where a notebook's metadata["mktme"] contradicts lessons.toml (empty list: it agrees)."""
    if not isinstance(meta, dict):
        return []
    where = f"notebooks/{lesson.stem}.ipynb metadata.mktme"
    return [f"{where}: {field} is {meta.get(field)!r} but lessons.toml says {value!r} "
            "(lessons.toml is the source; run `make sync`)"
            for field, value in generated_fields(course, lesson).items() if meta.get(field) != value]


def validate_metadata(meta: object, stem: str, claims) -> list[str]:
    """Problems with one lesson's metadata["mktme"] (empty list: complete and typed).

    ``claims`` is the collection of claim ids lessons.toml knows."""
    where = f"notebooks/{stem}.ipynb metadata.mktme"
    if not isinstance(meta, dict):
        return [f"{where} is missing"]
    problems = []
    for field, (kind, may_be_empty) in FIELDS.items():
        if field not in meta:
            problems.append(f"{where}: field {field!r} is missing")
            continue
        value = meta[field]
        if isinstance(value, bool) or not isinstance(value, kind):
            problems.append(f"{where}: {field!r} has type {type(value).__name__}")
            continue
        if isinstance(value, list):
            if not all(isinstance(v, str) and v.strip() for v in value):
                problems.append(f"{where}: {field!r} must be a list of non-empty strings")
            if not value and not (may_be_empty and stem.startswith("00_")):
                problems.append(f"{where}: {field!r} must not be empty")
        if isinstance(value, int) and value < 0:
            problems.append(f"{where}: {field!r} must not be negative")
        if isinstance(value, str) and field != "next" and not value.strip():
            problems.append(f"{where}: {field!r} must not be empty")
    extra = set(meta) - set(FIELDS)
    if extra:
        problems.append(f"{where}: unknown fields {sorted(extra)}")
    if isinstance(meta.get("lesson"), str) and meta["lesson"] != stem[:2]:
        problems.append(f"{where}: lesson {meta['lesson']!r} does not match the file name")
    for cid in meta.get("claims", []) if isinstance(meta.get("claims"), list) else []:
        if cid not in claims:
            problems.append(f"{where}: claim {cid!r} is not in lessons.toml [claims]")
    return problems


def _bullets(items: list[str], empty: str) -> str:
    return "\n".join(f"- {item}" for item in items) if items else f"- {empty}"


def header_source(meta: dict, stem: str, exercises: bool, claims: dict[str, str], *,
                  exercise_copy: bool = False) -> str:
    """The lesson-header cell. ``exercise_copy`` is the variant for solutions/<stem>.ipynb, which
    make_exercises copies into exercises/<stem>.ipynb: it links to the lesson and to the worked
    solutions, never to the exercise notebook itself."""
    claim_lines = [f"**{cid}**: {claims[cid]}" for cid in meta["claims"]]
    parts = [
        f"# Lesson {meta['lesson']} — {meta['title']}",
        "*This cell is generated from the notebook's metadata by `tools/sync_lessons.py` "
        "(`make sync`); edit the metadata, not this cell.*",
        f"**Time:** {meta['teaching_min']} min teaching + {meta['exercise_min']} min exercises",
        "**After this lesson you can**\n" + _bullets(meta["objectives"], "—"),
        "**Prerequisites**\n" + _bullets(meta["prerequisites"], "none"),
        "**Claims from the thread covered here**\n" + _bullets(claim_lines, "none"),
    ]
    if exercise_copy:
        parts.append(f"**These exercises belong to** [Lesson {meta['lesson']} — {meta['title']}]"
                     f"(../notebooks/{stem}.ipynb). Work in `exercises/{stem}.ipynb`; worked solutions: "
                     f"[solutions/{stem}.ipynb](../solutions/{stem}.ipynb).")
    elif exercises:
        parts.append(f"**Exercises:** [exercises/{stem}.ipynb](../exercises/{stem}.ipynb) "
                     f"(worked solutions: [solutions/{stem}.ipynb](../solutions/{stem}.ipynb))")
    return "\n\n".join(parts)


#: Where the README lists the lessons, written and planned (its "## Lessons" section).
PLAN_LINK = "../README.md#lessons"


def footer_source(meta: dict, next_title: str | None) -> str:
    parts = ["## Key points", _bullets(meta["keypoints"], "—")]
    if meta["next"] is None:
        # The last lesson in lessons.toml is the last one written so far, not the end of the
        # course: the README's plan names the lessons still to come.
        parts.append("**Next:** this is the last lesson written so far; the "
                     f"[lesson plan in the README]({PLAN_LINK}) lists the lessons still to come.")
    else:
        label = next_title or meta["next"]
        parts.append(f"**Next:** [{label}]({meta['next']}.ipynb)")
    return "\n\n".join(parts)


SANITY_TAG = "sanity-check"


def _tagged(cell, tag: str) -> bool:
    return tag in cell.get("metadata", {}).get("tags", [])


def _markdown(source: str, tag: str):
    cell = nbformat.v4.new_markdown_cell(source)
    cell.metadata["tags"] = [tag]
    return cell


def with_generated_cells(nb, header: str, footer: str | None):
    """Copy of nb with exactly one header cell first and (if given) one footer cell last."""
    nb = copy.deepcopy(nb)
    cells = [c for c in nb.cells if not (_tagged(c, HEADER_TAG) or _tagged(c, FOOTER_TAG))]
    cells.insert(0, _markdown(header, HEADER_TAG))
    if footer is not None:
        cells.append(_markdown(footer, FOOTER_TAG))
    for number, cell in enumerate(cells):
        cell["id"] = str(number)
        if _tagged(cell, SANITY_TAG):
            # Collapsed in JupyterLab (click the bar to see it): the learner reads the lesson,
            # the asserts still run, and a book build drops them (tag remove-cell).
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
    nb.cells = cells
    return nb


def render(nb) -> str:
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def lesson_map(rows: list[dict]) -> str:
    lines = ["| Lesson | Title | Minutes (teaching + exercises) | Claims |",
             "|---|---|---|---|"]
    for r in rows:
        claims = ", ".join(r["claims"]) or "—"
        lines.append(f"| [{r['lesson']}](notebooks/{r['stem']}.ipynb) | {r['title']} "
                     f"| {r['teaching_min']} + {r['exercise_min']} | {claims} |")
    return "\n".join(lines)


def planned_sentence(course: course_data.Course) -> str:
    """The README's sentence about the lessons not written yet, from lessons.toml."""
    planned = [f"{entry.number} {entry.title} ({', '.join(entry.claims)})" for entry in course.planned()]
    if not planned:
        return "Every lesson of the plan is written; each header says what it covers."
    return (f"Planned: {', '.join(planned)}. The map lists the lessons written so far; each header says "
            "what it covers, and lesson 00's claim map marks the planned ones.")


def replace_map(readme: str, table: str) -> str:
    start, end = readme.find(MAP_START), readme.find(MAP_END)
    if start < 0 or end < start:
        raise LessonError(f"README.md needs {MAP_START} and {MAP_END} around the lesson map")
    return readme[: start + len(MAP_START)] + "\n" + table + "\n" + readme[end:]


def plan(root: Path = ROOT) -> dict[Path, str]:
    """{path: the text it should have} for every file this tool writes."""
    course = load_course(root)
    claims = {c.id: c.text for c in course.claims}
    problems: list[str] = []
    notebooks = {}
    for entry in course.lessons:
        path = root / "notebooks" / f"{entry.stem}.ipynb"
        solution = root / "solutions" / f"{entry.stem}.ipynb"
        if entry.is_planned:
            for there in (path, solution):
                if there.exists():
                    problems.append(f"{there.relative_to(root)} exists but lessons.toml says "
                                    f'{entry.stem} is planned; set status = "written"')
            continue
        if not path.exists():
            problems.append(f"lessons.toml lists {entry.stem} but {path.relative_to(root)} "
                            "does not exist")
            continue
        notebooks[entry.stem] = nbformat.read(path, as_version=4)
        if entry.exercises and not solution.exists():
            problems.append(f"lessons.toml {entry.stem}: exercises = true but "
                            f"solutions/{entry.stem}.ipynb does not exist")
        if not entry.exercises and solution.exists():
            problems.append(f"lessons.toml {entry.stem}: solutions/{entry.stem}.ipynb exists; "
                            "set exercises = true")
    if problems:
        raise LessonError("\n".join(problems))

    metas: dict[str, dict] = {}
    for entry in course.written():
        raw = notebooks[entry.stem].metadata.get("mktme")
        if not isinstance(raw, dict):
            problems += validate_metadata(raw, entry.stem, claims)
            continue
        meta = copy.deepcopy(dict(raw))
        meta.update(generated_fields(course, entry))  # lessons.toml decides these
        problems += validate_metadata(meta, entry.stem, claims)
        metas[entry.stem] = meta
    if problems:
        raise LessonError("\n".join(problems))

    out: dict[Path, str] = {}
    for entry in course.written():
        stem = entry.stem
        meta = metas[stem]
        next_title = None
        if meta["next"] is not None:
            nxt = course.lesson(meta["next"])
            next_title = f"Lesson {nxt.number} — {nxt.title}"
        header = header_source(meta, stem, entry.exercises, claims)
        nb = notebooks[stem]
        nb.metadata["mktme"] = meta
        out[root / "notebooks" / f"{stem}.ipynb"] = render(
            with_generated_cells(nb, header, footer_source(meta, next_title)))
        solution = root / "solutions" / f"{stem}.ipynb"
        if solution.exists():
            snb = nbformat.read(solution, as_version=4)
            snb.metadata["mktme"] = copy.deepcopy(meta)
            copy_header = header_source(meta, stem, entry.exercises, claims, exercise_copy=True)
            out[solution] = render(with_generated_cells(snb, copy_header, None))

    readme = root / "README.md"
    rows = [dict(metas[e.stem], stem=e.stem) for e in course.written()]
    region = lesson_map(rows) + "\n\n" + planned_sentence(course)
    out[readme] = replace_map(readme.read_text(encoding="utf-8"), region)
    return out


def drifted(root: Path = ROOT) -> dict[Path, str]:
    return {p: text for p, text in plan(root).items()
            if not p.exists() or p.read_text(encoding="utf-8") != text}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a file would change")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        changes = drifted(root)
    except LessonError as exc:
        print(f"sync_lessons: {exc}", file=sys.stderr)
        return 2
    if args.check:
        for p in changes:
            print(f"sync_lessons: {p.relative_to(root)} is out of date (run `make sync`)",
                  file=sys.stderr)
        if changes:
            return 1
        print("sync_lessons: lesson headers, footers and README map are up to date")
        return 0
    for p, text in changes.items():
        p.write_text(text, encoding="utf-8")
        print(f"sync_lessons: wrote {p.relative_to(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
