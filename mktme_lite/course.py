"""The course, listed once: its lessons (written or planned) and claims, read from lessons.toml.

A lesson, a widget or a tool asks this module instead of keeping its own list::

    from mktme_lite import course

    course.lessons()              # all nine lessons, 00 to 08, in order
    course.lesson("03")           # by number or by stem ("03_aliasing"): a frozen Lesson
    course.lesson("04").status    # "planned": no notebook yet
    course.written()              # the lessons that have a notebook
    course.claims()               # C1 to C11, each with the lessons that cover it
    course.claim("C8").lessons    # ("03", "07")

lessons.toml sits at the top of the course repository (docs/CONVENTIONS.md describes it). It is
found by one rule: ``$MKTME_LESSONS_TOML`` when set (tests point it at a temporary file), else
``lessons.toml`` next to the package, in the working directory, or in its parent (a notebook runs
in ``notebooks/``). Every call sees the file as it is now. A missing or malformed file raises
:class:`CourseError`, listing every problem and what is allowed; an unknown lesson or claim
passed to :func:`lesson` or :func:`claim` raises :class:`~mktme_lite.errors.ParameterError`.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import MKTMEError, ParameterError
from .params import shown

__all__ = ["WRITTEN", "PLANNED", "STATUSES", "ENV", "CourseError", "Lesson", "Claim", "Course",
           "source", "load", "lessons", "lesson", "written", "planned", "claims", "claim"]

WRITTEN = "written"
PLANNED = "planned"
#: The status a lesson may have in lessons.toml.
STATUSES = (WRITTEN, PLANNED)
#: Environment variable naming the lessons.toml to use instead of the course's own.
ENV = "MKTME_LESSONS_TOML"

STEM_RE = re.compile(r"^(\d\d)_[a-z0-9_]+$")
CLAIM_RE = re.compile(r"^C[1-9]\d*$")
SHORT_MAX = 40  # a claim's `short` labels one row of the claim map
LESSON_KEYS = {"stem": "required", "status": "required", "title": "required", "claims": "required",
               "exercises": "required once written"}
CLAIM_KEYS = ("text", "short", "experiment")


class CourseError(MKTMEError, ValueError):
    """lessons.toml is missing or malformed; the message lists every problem and what is allowed."""


@dataclass(frozen=True)
class Lesson:
    """One lesson of the course, as lessons.toml lists it."""

    stem: str  # "03_aliasing": notebooks/<stem>.ipynb, solutions/<stem>.ipynb, quizzes/<stem>.json
    number: str  # "03"
    title: str
    status: str  # WRITTEN or PLANNED
    claims: tuple[str, ...]  # claim ids, in the order the lesson's header lists them
    exercises: bool  # solutions/<stem>.ipynb exists (never for a planned lesson)

    @property
    def is_written(self) -> bool:
        return self.status == WRITTEN

    @property
    def is_planned(self) -> bool:
        return self.status == PLANNED

    @property
    def label(self) -> str:
        """``01 — TME basics``, or ``04 — Cache incoherence (planned)`` for a lesson not written yet."""
        return f"{self.number} — {self.title}" + (f" ({PLANNED})" if self.is_planned else "")


@dataclass(frozen=True)
class Claim:
    """One claim of Andy Lutomirski's reply, with the lessons (numbers, in order) that cover it."""

    id: str  # "C5"
    text: str
    short: str  # at most 40 characters, for the claim map's rows
    experiment: str  # one sentence: what the learner runs for it
    lessons: tuple[str, ...]


@dataclass(frozen=True)
class Course:
    """Everything lessons.toml says, checked: ``load()`` returns one."""

    path: Path
    lessons: tuple[Lesson, ...]
    claims: tuple[Claim, ...]

    @property
    def root(self) -> Path:
        """The course repository: the folder that holds lessons.toml (and notebooks/, quizzes/)."""
        return self.path.parent

    def lesson(self, key: Any) -> Lesson:
        """The lesson with number ``key`` ("03") or stem ``key`` ("03_aliasing")."""
        for entry in self.lessons:
            if isinstance(key, str) and key in (entry.number, entry.stem):
                return entry
        numbers = ", ".join(entry.number for entry in self.lessons)
        raise ParameterError(f"unknown lesson {shown(key)}; the course has lessons {numbers}: give a "
                             f"number like {self.lessons[-1].number!r} or a stem like {self.lessons[-1].stem!r}")

    def claim(self, cid: Any) -> Claim:
        """The claim with id ``cid`` ("C5")."""
        for entry in self.claims:
            if isinstance(cid, str) and entry.id == cid:
                return entry
        raise ParameterError(f"unknown claim {shown(cid)}; the claims are "
                             f"{', '.join(entry.id for entry in self.claims)}")

    def written(self) -> tuple[Lesson, ...]:
        return tuple(entry for entry in self.lessons if entry.is_written)

    def planned(self) -> tuple[Lesson, ...]:
        return tuple(entry for entry in self.lessons if entry.is_planned)


# --------------------------------------------------------------------------- finding the file

#: The folder above the package: the course repository when the course is installed from it.
_HOME = Path(__file__).resolve().parent.parent


def source() -> Path:
    """The lessons.toml in use (see the module docstring for the rule)."""
    env = os.environ.get(ENV)
    if env:
        path = Path(os.path.abspath(env))
        if not path.is_file():
            raise CourseError(f"${ENV} is {env!r}, which is not a file; point it at a lessons.toml "
                              "or unset it to use the course's own")
        return path
    if (_HOME / "lessons.toml").is_file():
        return _HOME / "lessons.toml"
    here = Path.cwd()
    for folder in (here, here.parent):
        if (folder / "lessons.toml").is_file():
            return folder / "lessons.toml"
    raise CourseError(f"cannot find lessons.toml (looked in {_HOME}, {here}, {here.parent}); run from "
                      f"the course repository or set ${ENV} to its path")


# --------------------------------------------------------------------------- reading it

def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _claims_table(raw: Any, problems: list[str]) -> dict[str, dict[str, str]]:
    if not isinstance(raw, dict) or not raw:
        problems.append("lessons.toml needs a [claims.C1] table per claim, with text, short and experiment")
        return {}
    table = {}
    for cid, entry in raw.items():
        where = f"lessons.toml [claims.{cid}]"
        if not CLAIM_RE.match(cid):
            problems.append(f"{where}: a claim id is C followed by a number, like C3")
            continue
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a table with keys {', '.join(CLAIM_KEYS)}")
            continue
        for key in CLAIM_KEYS:
            if not _text(entry.get(key)):
                problems.append(f"{where}: {key!r} must be one line of non-empty text")
        if _text(entry.get("short")) and len(entry["short"]) > SHORT_MAX:
            problems.append(f"{where}: 'short' has {len(entry['short'])} characters; at most {SHORT_MAX} "
                            "fit a row of the claim map")
        extra = sorted(set(entry) - set(CLAIM_KEYS))
        if extra:
            problems.append(f"{where}: unknown keys {extra}; allowed: {', '.join(CLAIM_KEYS)}")
        table[cid] = entry
    return table


def _lesson_entry(i: int, entry: Any, claim_ids: dict, problems: list[str]) -> Lesson | None:
    if not isinstance(entry, dict):
        problems.append(f"lessons.toml lesson #{i}: must be a [[lesson]] table")
        return None
    stem = entry.get("stem")
    if not isinstance(stem, str) or not STEM_RE.match(stem):
        problems.append(f"lessons.toml lesson #{i}: stem {stem!r} is not like '01_tme_basics' "
                        "(two digits, an underscore, lower-case words)")
        return None
    where = f"lessons.toml {stem}"
    start = len(problems)
    extra = sorted(set(entry) - set(LESSON_KEYS))
    if extra:
        problems.append(f"{where}: unknown keys {extra}; allowed: {', '.join(LESSON_KEYS)}")
    status = entry.get("status")
    if status not in STATUSES:
        problems.append(f"{where}: status is {status!r}; it must be one of {', '.join(map(repr, STATUSES))}")
    title = entry.get("title")
    if not _text(title):
        problems.append(f"{where}: 'title' must be non-empty text")
    ids = entry.get("claims")
    if not isinstance(ids, list) or not all(isinstance(c, str) for c in ids):
        problems.append(f"{where}: 'claims' must be a list of claim ids like [\"C5\", \"C6\"]")
        ids = []
    else:
        for cid in ids:
            if cid not in claim_ids:
                problems.append(f"{where}: claim {cid!r} is not in lessons.toml [claims] "
                                f"(known: {', '.join(claim_ids)})")
        if len(set(ids)) != len(ids):
            problems.append(f"{where}: 'claims' names a claim twice")
        if not ids and not stem.startswith("00_"):
            problems.append(f"{where}: 'claims' must not be empty (only lesson 00 covers no claim)")
    exercises = entry.get("exercises", None if status == WRITTEN else False)
    if not isinstance(exercises, bool):
        problems.append(f"{where}: 'exercises' must be true or false")
    elif exercises and status == PLANNED:
        problems.append(f"{where}: a planned lesson has no exercises yet; drop 'exercises' or set "
                        "status = \"written\"")
    if len(problems) > start:
        return None
    return Lesson(stem, stem[:2], title, status, tuple(ids), exercises)


def _parse(path: Path, data: dict) -> Course:
    problems: list[str] = []
    extra = sorted(set(data) - {"claims", "lesson"})
    if extra:
        problems.append(f"lessons.toml: unknown tables {extra}; it holds only [claims.*] and [[lesson]]")
    table = _claims_table(data.get("claims"), problems)
    raw_lessons = data.get("lesson")
    if not isinstance(raw_lessons, list) or not raw_lessons:
        problems.append("lessons.toml lists no [[lesson]]")
        raw_lessons = []
    found: list[Lesson] = []
    for i, entry in enumerate(raw_lessons, start=1):
        parsed = _lesson_entry(i, entry, table, problems)
        if parsed is None:
            continue
        if any(other.stem == parsed.stem for other in found):
            problems.append(f"lessons.toml: {parsed.stem} is listed twice")
            continue
        if found and parsed.number <= found[-1].number:
            problems.append(f"lessons.toml: {parsed.stem} comes after {found[-1].stem}; lessons are not "
                            "in increasing order (list them by number, one lesson per number)")
        found.append(parsed)
    if problems:
        raise CourseError("\n".join(problems))
    claim_list = tuple(
        Claim(cid, entry["text"], entry["short"], entry["experiment"],
              tuple(lesson.number for lesson in found if cid in lesson.claims))
        for cid, entry in table.items())
    return Course(path, tuple(found), claim_list)


@lru_cache(maxsize=8)
def _parse_bytes(path: str, raw: bytes) -> Course:
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CourseError(f"{path} is not valid TOML ({exc})") from None
    return _parse(Path(path), data)


def load(path: str | os.PathLike | None = None) -> Course:
    """The course in ``path`` (default: :func:`source`), checked. The file is read on every call
    (a few kilobytes) and parsed again only when its bytes changed."""
    if path is None:
        path = source()
    if not isinstance(path, (str, os.PathLike)):
        raise CourseError(f"path must be the path of a lessons.toml (a str or a Path), or None; got {path!r:.60} "
                          f"(a {type(path).__name__})")
    try:
        path = Path(path)
        is_file = path.is_file()
    except (OSError, ValueError) as exc:  # a NUL byte, a lone surrogate, a name too long ...
        raise CourseError(f"no lessons.toml at {str(path)!r:.60}: {exc}") from None
    if not is_file:
        raise CourseError(f"{path} does not exist; a course needs a lessons.toml (docs/CONVENTIONS.md)")
    return _parse_bytes(os.path.abspath(path), path.read_bytes())


# --------------------------------------------------------------------------- the course in use

def lessons() -> tuple[Lesson, ...]:
    """Every lesson, written or planned, in order."""
    return load().lessons


def lesson(key: Any) -> Lesson:
    """One lesson, by number ("03") or stem ("03_aliasing")."""
    return load().lesson(key)


def written() -> tuple[Lesson, ...]:
    """The lessons that have a notebook, in order."""
    return load().written()


def planned() -> tuple[Lesson, ...]:
    """The lessons not written yet, in order."""
    return load().planned()


def claims() -> tuple[Claim, ...]:
    """Every claim, C1 first, each with the lessons that cover it."""
    return load().claims


def claim(cid: Any) -> Claim:
    """One claim, by id ("C5")."""
    return load().claim(cid)
