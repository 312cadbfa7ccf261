"""Lesson 00 widget: the claim map.

Pick one of the eleven claims of Andy Lutomirski's reply (LKML, 4 Dec 2018); see its text,
the lesson(s) that run it, and a one-line preview of the experiment. The static pictures
are :func:`claim_table` (every claim at once) and :func:`claim_figure` (claims x lessons)::

    from mktme_lite.widgets import start_here

    lesson.show(start_here.claim_figure())
    start_here.claim_map()

Every claim, lesson title and status comes from lessons.toml through :mod:`mktme_lite.course`,
read at each call: writing a lesson means changing its status there, and the map follows. A
lesson not written yet is shown as *planned*, so the map never sends a learner to a notebook
that does not exist yet.
"""

from __future__ import annotations

import html

from .. import course
from ..course import Claim
from ..viz import HTMLCard, LessonFigure, card, claim_matrix
from ..viz.tables import Cell, table
from . import LessonWidget, Telling, WidgetInputError, toggle

__all__ = ["ANCHOR_URL", "PLANNED", "render_claim_card", "claim_table",
           "claim_figure", "claim_map"]

#: Andy Lutomirski's reply of 4 Dec 2018 (the course's anchor mail), as a lore link.
ANCHOR_URL = "https://lore.kernel.org/r/CALCETrUqqQiHR_LJoKB2JE6hCZ-e7LiFprEhmo-qoegDZJ9uYQ@mail.gmail.com"

PLANNED = course.PLANNED


def _lesson_names(claim: Claim) -> str:
    return ", ".join(course.lesson(n).label for n in claim.lessons)


def _check_claim(claim: object) -> Claim:
    ids = [c.id for c in course.claims()]
    if not isinstance(claim, str) or claim not in ids:
        raise WidgetInputError(f"unknown claim {claim!r}; the claims are {', '.join(ids)}")
    return course.claim(claim)


def _planned_note() -> str:
    ready = ", ".join(entry.number for entry in course.written())
    return f"Lessons marked ({PLANNED}) are not written yet; the course so far has lessons {ready}."


def _md_code_to_html(text: str) -> str:
    """Escape ``text`` and turn `back-ticked` spans into <code>."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def render_claim_card(claim: str = "C3") -> HTMLCard:
    """One claim: its text, who said it, where the course tests it, and what you will run."""
    c = _check_claim(claim)
    rows = [
        ("Claim", _md_code_to_html(c.text)),
        ("Said by", f"Andy Lutomirski, LKML, 4 Dec 2018 (<a href='{ANCHOR_URL}'>the message on lore</a>)"),
        ("Tested in", html.escape("Lesson " + _lesson_names(c))),
        ("You will", html.escape(c.experiment)),
    ]
    footer = html.escape(_planned_note()) if any(course.lesson(n).is_planned for n in c.lessons) else None
    return card(f"{c.id}: {c.short}", rows, footer=footer)


def claim_table() -> HTMLCard:
    """Every claim in one table (the static form of the claim map)."""
    def where(c: Claim) -> str:
        return ", ".join(f"{n} ({PLANNED})" if course.lesson(n).is_planned else n for n in c.lessons)

    rows = [[Cell(c.id, strong=True), Cell(c.text, html=_md_code_to_html(c.text)), where(c), c.experiment]
            for c in course.claims()]
    return table(["Claim", "What Andy said", "Lesson(s)", "What you will run"], rows, footer=_planned_note(),
                 ruled=True, css_class="mktme-claim-table",
                 text=lambda r: [f"{r[0].text} [{r[2].text}] {r[1].text} -> {r[3].text}"])


def claim_figure(highlight: str | None = None) -> LessonFigure:
    """Claims x lessons, a dot where a lesson runs a claim; lessons not written yet are grey and "planned"."""
    if highlight is not None:
        _check_claim(highlight)
    lessons = [entry for entry in course.lessons() if entry.number != "00"]
    columns = [entry.number for entry in lessons]
    claims = course.claims()
    fig = claim_matrix(
        [(c.id, c.short) for c in claims],
        [(e.number, f"{e.title} ({PLANNED})" if e.is_planned else e.title) for e in lessons],
        {c.id: c.lessons for c in claims},
        highlight=highlight,
        title="Which lesson runs which claim",
    )
    ax = fig.axes[0]
    for i, n in enumerate(columns):  # grey, hatched columns: a second channel besides the word "planned"
        if course.lesson(n).is_planned:
            ax.axvspan(i - 0.45, i + 0.45, facecolor="#f0f0f0", edgecolor="#c8c8c8", hatch="..", linewidth=0,
                       zorder=-1)
    planned = [n for n in columns if course.lesson(n).is_planned]
    if planned:
        fig.mktme_alt += (f" Columns of lessons not written yet are grey and labelled planned: "
                          f"{', '.join(planned)}.")
    return fig


def claim_map() -> LessonWidget:
    """The claim map widget (lesson 00)."""
    controls = {"claim": toggle("Claim", [(c.id, c.id) for c in course.claims()], "C3")}
    telling = [
        Telling("C3, the claim lesson 01 starts with: the CPU's own key is the best default.", {}),
        Telling("C5, the heart of the thread: caches do not keep KeyID aliases coherent.", {"claim": "C5"}),
        Telling("C8, the kernel's side of the problem: the direct map.", {"claim": "C8"}),
    ]
    return LessonWidget(render_claim_card, controls, title="Claim map", telling=telling, front=("claim",),
                        intro="pick a claim to see where the course tests it.")
