"""The course's glossary, listed once in ``glossary.toml`` beside ``lessons.toml``.

    from mktme_lite import glossary

    glossary.terms()              # every Term, in the file's order
    glossary.term("pconfig")      # by anchor: Term(name="PCONFIG", anchor="pconfig", lesson="00", text=...)

A lesson marks where it defines a term with a link to ``../GLOSSARY.md#<anchor>``; ``GLOSSARY.md`` is
written from this file by ``tools/sync_lessons.py``. The file is found like lessons.toml
(:func:`mktme_lite.course.source`): ``glossary.toml`` in the same folder. A missing or malformed file
raises :class:`GlossaryError` listing every problem; an unknown anchor passed to :func:`term` raises
:class:`~mktme_lite.errors.ParameterError`.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import course
from .errors import MKTMEError, ParameterError
from .params import shown

__all__ = ["GlossaryError", "Term", "source", "load", "terms", "term", "ANCHOR_RE", "KEYS"]

ANCHOR_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
KEYS = ("name", "anchor", "lesson", "text")


class GlossaryError(MKTMEError, ValueError):
    """glossary.toml is missing or malformed; the message lists every problem and what is allowed."""


@dataclass(frozen=True)
class Term:
    """One glossary entry."""

    name: str  # as the lessons write it: "PCONFIG", "get_user_pages()"
    anchor: str  # "pconfig": GLOSSARY.md#pconfig
    lesson: str  # "00": the lesson that defines it at first use
    text: str


def source() -> Path:
    """The glossary.toml beside the lessons.toml in use."""
    return course.source().parent / "glossary.toml"


def _parse(path: Path, data: Any) -> tuple[Term, ...]:
    problems: list[str] = []
    entries = data.get("term") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise GlossaryError(f"{path} lists no [[term]]; each needs {', '.join(KEYS)}")
    extra_tables = sorted(set(data) - {"term"})
    if extra_tables:
        problems.append(f"{path}: unknown tables {extra_tables}; it holds only [[term]]")
    found: list[Term] = []
    for i, entry in enumerate(entries, start=1):
        where = f"{path.name} term #{i}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a [[term]] table")
            continue
        bad = [k for k in KEYS if not isinstance(entry.get(k), str) or not entry[k].strip()]
        if bad:
            problems.append(f"{where}: {', '.join(bad)} must be non-empty text")
            continue
        extra = sorted(set(entry) - set(KEYS))
        if extra:
            problems.append(f"{where}: unknown keys {extra}; allowed: {', '.join(KEYS)}")
        if not ANCHOR_RE.match(entry["anchor"]):
            problems.append(f"{where}: anchor {entry['anchor']!r} must be lower-case letters, digits and dashes")
        if not re.fullmatch(r"\d\d", entry["lesson"]):
            problems.append(f"{where}: lesson {entry['lesson']!r} must be a two-digit lesson number like '02'")
        if any(t.anchor == entry["anchor"] for t in found):
            problems.append(f"{where}: anchor {entry['anchor']!r} is used twice")
        found.append(Term(entry["name"], entry["anchor"], entry["lesson"], entry["text"]))
    if problems:
        raise GlossaryError("\n".join(problems))
    return tuple(found)


def load(path: str | os.PathLike | None = None) -> tuple[Term, ...]:
    """Every term in ``path`` (default: :func:`source`), checked."""
    path = Path(path) if path is not None else source()
    if not path.is_file():
        raise GlossaryError(f"{path} does not exist; the course's glossary lives beside lessons.toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise GlossaryError(f"{path} is not valid TOML ({exc})") from None
    return _parse(path, data)


def terms() -> tuple[Term, ...]:
    """Every term of the course's glossary, in the file's order."""
    return load()


def term(anchor: Any) -> Term:
    """The term with this anchor ("pconfig")."""
    for entry in load():
        if isinstance(anchor, str) and entry.anchor == anchor:
            return entry
    raise ParameterError(f"unknown glossary term {shown(anchor)}; anchors are "
                         f"{', '.join(t.anchor for t in load())}")
