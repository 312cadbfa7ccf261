"""Lesson 00 widget: the claim map.

Pick one of the eleven claims of Andy Lutomirski's reply (LKML, 4 Dec 2018); see its text,
the lesson(s) that run it, and a one-line preview of the experiment. The static pictures
are :func:`claim_table` (every claim at once) and :func:`claim_figure` (claims x lessons).

The claim texts must equal ``[claims]`` in lessons.toml, and :data:`AVAILABLE_LESSONS` must list
exactly the lessons in lessons.toml (tests/test_widgets.py compares both). Every other lesson
is shown as *planned*, so the map never sends a learner to a notebook that does not exist yet.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from ..viz import HTMLCard, LessonFigure, card, claim_matrix
from ..viz.tables import Cell, table
from . import LessonWidget, Telling, WidgetInputError, toggle

__all__ = ["ANCHOR_URL", "LESSONS", "AVAILABLE_LESSONS", "CLAIMS", "Claim", "is_planned", "lesson_label",
           "render_claim_card", "claim_table", "claim_figure", "claim_map"]

#: Andy Lutomirski's reply of 4 Dec 2018 (the course's anchor mail), as a lore link.
ANCHOR_URL = "https://lore.kernel.org/r/CALCETrUqqQiHR_LJoKB2JE6hCZ-e7LiFprEhmo-qoegDZJ9uYQ@mail.gmail.com"

#: lesson number -> title (DESIGN.md's lesson table)
LESSONS: dict[str, str] = {
    "00": "Start here",
    "01": "TME basics",
    "02": "Multi-key",
    "03": "Aliasing",
    "04": "Cache incoherence",
    "05": "Swap",
    "06": "PCONFIG races",
    "07": "XPO comparison",
    "08": "Use cases and verdict",
}

#: The lessons that exist today: exactly the stems' numbers in lessons.toml. When you add a lesson
#: to lessons.toml, add its number here too (tests/test_widgets.py fails until you do).
AVAILABLE_LESSONS: tuple[str, ...] = ("00", "01", "02", "03")

PLANNED = "planned"


def is_planned(number: str) -> bool:
    """True for a lesson of the design that has no notebook yet."""
    return number not in AVAILABLE_LESSONS


def lesson_label(number: str) -> str:
    """``01 — TME basics``, or ``04 — Cache incoherence (planned)`` for a lesson not written yet."""
    return f"{number} — {LESSONS[number]}" + (f" ({PLANNED})" if is_planned(number) else "")


@dataclass(frozen=True)
class Claim:
    id: str
    text: str  # exactly as in lessons.toml [claims]
    short: str  # a few words for the matrix picture
    lessons: tuple[str, ...]
    experiment: str  # one line: what you will run


CLAIMS: dict[str, Claim] = {c.id: c for c in [
    Claim("C1", "`encrypt_mprotect()` is an incomplete `mprotect()`: it has no protection-key support.",
          "encrypt_mprotect() lacks pkeys", ("02",),
          "Call the proposed encrypt_mprotect() next to pkey_mprotect() and find the argument that has no place "
          "to go."),
    Claim("C2", "On anonymous memory, `encrypt_mprotect()` is functionally `MADV_DONTNEED`: existing contents "
          "are discarded.", "encrypt_mprotect() = MADV_DONTNEED", ("02",),
          "Fill a page, change its KeyID with encrypt_mprotect(), read it back: the old contents are gone."),
    Claim("C3", "A CPU-generated key (plain TME, KeyID 0) is the most secure default for anonymous memory.",
          "the CPU's TME key is the best default", ("01", "02", "03", "08"),
          "Probe DRAM under the TME key, under bypass and under a KeyID of your own, and compare what an "
          "attacker reads."),
    Claim("C4", "Swap semantics are unclear: swapping can corrupt pages (no flushes, the direct-map alias uses "
          "KeyID 0).", "swap corrupts encrypted pages", ("05",),
          "Swap an encrypted page out through the KeyID-0 direct map and back into another frame; look at what "
          "landed on the swap device."),
    Claim("C5", "Caches are not coherent across KeyIDs: write through one key, read through another, and you get "
          "garbage unless you flush.", "caches ignore KeyID aliasing", ("04",),
          "Write a line through KeyID 1, read the same frame through KeyID 2, then repeat with a clflush in "
          "between."),
    Claim("C6", "Writing with one key and remapping with another without flushing corrupts data (a late dirty "
          "write-back).", "late dirty write-back corrupts", ("04",),
          "Leave a dirty line under the old KeyID, remap the page, and watch the eviction overwrite the new "
          "data."),
    Claim("C7", "PCONFIG while dirty lines exist: the result depends on whether the write-back happens before or "
          "after the writing package sees the new key.", "PCONFIG vs dirty lines: a race", ("06",),
          "Enumerate every interleaving of a write-back and a PCONFIG on two packages and count the outcomes."),
    Claim("C8", "The direct map leaves read-write aliases under other keys; fix it by dropping the alias (and "
          "failing `get_user_pages()`) or by re-keying the direct map.", "direct-map aliases under KeyID 0",
          ("03", "07"),
          "Write through a user mapping with KeyID 1 and read the same frame through the kernel's KeyID-0 "
          "direct map."),
    Claim("C9", "Keeping user pages out of the direct map is XPO/XPFO: \"nifty but expensive\", and it gives most "
          "of MKTME's benefit outside pmem.", "XPFO: nifty but expensive", ("07",),
          "Count the TLB shootdowns and flushes of a workload with XPFO on, and price them."),
    Claim("C10", "The real use cases are persistent memory (with a different API) and VM hardening.",
          "real uses: pmem and VMs", ("08",),
          "Move encrypted pmem data to another address and see why it needs a block-device API."),
    Claim("C11", "Why use anything but a CPU-managed key, except for pmem?", "why not a CPU key?", ("08",),
          "Weigh every experiment of the course and write your own answer."),
]}


def _lesson_names(claim: Claim) -> str:
    return ", ".join(lesson_label(n) for n in claim.lessons)


def _check_claim(claim: object) -> str:
    if not isinstance(claim, str) or claim not in CLAIMS:
        raise WidgetInputError(f"unknown claim {claim!r}; the claims are {', '.join(CLAIMS)}")
    return claim


def _planned_note() -> str:
    ready = ", ".join(AVAILABLE_LESSONS)
    return f"Lessons marked ({PLANNED}) are not written yet; the course so far has lessons {ready}."


def _md_code_to_html(text: str) -> str:
    """Escape ``text`` and turn `back-ticked` spans into <code>."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def render_claim_card(claim: str = "C3") -> HTMLCard:
    """One claim: its text, who said it, where the course tests it, and what you will run."""
    c = CLAIMS[_check_claim(claim)]
    rows = [
        ("Claim", _md_code_to_html(c.text)),
        ("Said by", f"Andy Lutomirski, LKML, 4 Dec 2018 (<a href='{ANCHOR_URL}'>the message on lore</a>)"),
        ("Tested in", html.escape("Lesson " + _lesson_names(c))),
        ("You will", html.escape(c.experiment)),
    ]
    footer = html.escape(_planned_note()) if any(is_planned(n) for n in c.lessons) else None
    return card(f"{c.id}: {c.short}", rows, footer=footer)


def claim_table() -> HTMLCard:
    """Every claim in one table (the static form of the claim map)."""
    def where(c: Claim) -> str:
        return ", ".join(f"{n} ({PLANNED})" if is_planned(n) else n for n in c.lessons)

    rows = [[Cell(c.id, strong=True), Cell(c.text, html=_md_code_to_html(c.text)), where(c), c.experiment]
            for c in CLAIMS.values()]
    return table(["Claim", "What Andy said", "Lesson(s)", "What you will run"], rows, footer=_planned_note(),
                 ruled=True, css_class="mktme-claim-table",
                 text=lambda r: [f"{r[0].text} [{r[2].text}] {r[1].text} -> {r[3].text}"])


def claim_figure(highlight: str | None = None) -> LessonFigure:
    """Claims x lessons, a dot where a lesson runs a claim; lessons not written yet are grey and "planned"."""
    if highlight is not None:
        _check_claim(highlight)
    columns = [n for n in LESSONS if n != "00"]
    fig = claim_matrix(
        [(c.id, c.short) for c in CLAIMS.values()],
        [(n, f"{LESSONS[n]} ({PLANNED})" if is_planned(n) else LESSONS[n]) for n in columns],
        {c.id: c.lessons for c in CLAIMS.values()},
        highlight=highlight,
        title="Which lesson runs which claim",
    )
    ax = fig.axes[0]
    for i, n in enumerate(columns):  # grey, hatched columns: a second channel besides the word "planned"
        if is_planned(n):
            ax.axvspan(i - 0.45, i + 0.45, facecolor="#f0f0f0", edgecolor="#c8c8c8", hatch="..", linewidth=0,
                       zorder=-1)
    planned = [n for n in columns if is_planned(n)]
    if planned:
        fig.mktme_alt += (f" Columns of lessons not written yet are grey and labelled planned: "
                          f"{', '.join(planned)}.")
    return fig


def claim_map() -> LessonWidget:
    """The claim map widget (lesson 00)."""
    controls = {"claim": toggle("Claim", [(cid, cid) for cid in CLAIMS], "C3")}
    telling = [
        Telling("C3, the claim lesson 01 starts with: the CPU's own key is the best default.", {}),
        Telling("C5, the heart of the thread: caches do not keep KeyID aliases coherent.", {"claim": "C5"}),
        Telling("C8, the kernel's side of the problem: the direct map.", {"claim": "C8"}),
    ]
    return LessonWidget(render_claim_card, controls, title="Claim map", telling=telling,
                        intro="pick a claim to see where the course tests it.")
