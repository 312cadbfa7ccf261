"""Lesson 03 widgets and pictures: one frame, two names.

    from mktme_lite.widgets.aliasing import alias_explorer, alias_picture, render_design_table
    alias_explorer()                                   # who writes x design x timing -> every alias
    render_design_table(aliasing.compare_designs())    # the designs side by side
    alias_picture(page, data)                          # which names reach the frame

The experiments are in :mod:`mktme_lite.scenarios.aliasing` (and the page set-up in
:mod:`mktme_lite.scenarios.pages`); this module only draws what they return. The explorer's figure
has four byte grids; what happened to the line in DRAM is one sentence under them, not a fifth
grid of ciphertext (ciphertext looks random whether or not it changed).
"""

from __future__ import annotations

import re

from ..dump import LINE
from ..errors import ParameterError
from ..params import choose, flag, shown, text_bytes
from ..scenarios.aliasing import COST_KINDS, DESIGNS, TABLE_PATHS, WRITERS, DesignRow, alias_experiment, alias_names
from ..scenarios.pages import Page
from ..viz import HTMLCard, LessonFigure, alias_map, bytes_figure
from ..viz.glyphs import text_width
from ..viz.tables import table
from . import LessonWidget, Telling, dropdown, text, toggle

__all__ = ["render_alias_explorer", "alias_explorer", "render_design_table", "alias_picture"]


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ------------------------------------------------------------------------------------------------
# The scenario: one encrypted page and a debugger
# ------------------------------------------------------------------------------------------------


# ------------------------------------------------------------------------------------------------
# The kernel paths that move a user page's bytes
# ------------------------------------------------------------------------------------------------


def render_alias_explorer(writer: str = "process", design: str = "keyid0", written_back: bool = True,
                          message: str = "new: balance 250 EUR") -> LessonFigure:
    """What the line should hold (top) and what each alias reads; a note says what DRAM got.

    Four byte grids. The line's ciphertext in DRAM is not drawn as a fifth grid: ciphertext
    looks random whether or not it changed, so the note says in words whether it did."""
    choose(writer, WRITERS, "writer")
    choose(design, DESIGNS, "direct-map design")
    flag(written_back, "written_back")
    data = text_bytes(message, "message", 1, LINE)  # the explorer writes one 64-byte cache line
    r = alias_experiment(data, writer, design, written_back)
    who = {"process": "the process", "debugger": "the debugger", "copy_to_user": "copy_to_user"}[writer]
    top = (f"What the line should hold: old bytes, {who}'s write refused ({r.write_error})" if r.write_error
           else f"What the line should hold: {who} wrote {len(data)} byte(s) over the old bytes")
    panels = [(top, r.expected)]
    for read in r.reads:
        label = read.label + (f": no data ({read.error})" if read.error else f": {read.verdict}")
        panels.append((label, read.data or b""))
    compared = [i for i, (_, d) in enumerate(panels[1:], start=1) if d]
    proc, dbg = r.read("process"), r.read("debugger")
    first = f"The process reads: {proc.verdict}. The debugger's process_vm_readv gets: {dbg.verdict}."
    summary = _fitting(first, proc.verdict, dbg.verdict)
    dram = ("the line's ciphertext in DRAM changed" if r.dram_changed
            else "the line's ciphertext in DRAM is unchanged")
    timing = (f"Then every cache was written back (time passed): {dram}." if written_back
              else f"Read at once, before any write-back: {dram}.")
    fig = bytes_figure(panels, base=r.pa, title=f"{DESIGNS[design]}; page KeyID {r.keyid}, frame {r.pa:#x}",
                       mark_changed=compared, note=f"{summary}\n{timing}\nThe word 'differs' at the right of a "
                       "row marks a 16-byte block that differs from the top grid.")
    fig.mktme_alt = f"{first} {timing} " + fig.mktme_alt
    return fig


#: How wide the explorer's summary line may be, in inches: its figure is 8.47 in wide (16 bytes a row)
#: and the note starts 0.08 in from the left edge.
SUMMARY_WIDTH = 8.2
_SUMMARY_POINTS = 8  # viz.bytes_figure draws a note's first line in 8 pt bold


def _fitting(first: str, proc: str, dbg: str) -> str:
    """The summary line, shortened when it would run past the figure's edge: the reads' parentheses
    go (each panel's own label keeps them), then "The debugger's" (the panel says whose read it is)."""
    def plain(verdict: str) -> str:
        return re.sub(r"\s*\([^)]*\)", "", verdict)

    for line in (first, f"The process reads: {plain(proc)}. The debugger's process_vm_readv gets: {plain(dbg)}.",
                 f"The process reads: {plain(proc)}. process_vm_readv gets: {plain(dbg)}."):
        if text_width(line, _SUMMARY_POINTS, weight="bold") <= SUMMARY_WIDTH:
            return line
    return line


def alias_explorer() -> LessonWidget:
    """The alias explorer widget (lesson 03)."""
    controls = {
        "writer": toggle("Who writes", [("process", "process"), ("debugger (gup)", "debugger"),
                                        ("copy_to_user", "copy_to_user")], "process"),
        "design": dropdown("Direct-map design", [(label, d) for d, label in DESIGNS.items()], "keyid0"),
        "written_back": toggle("Before the reads", [("caches written back", True), ("read at once", False)], True),
        "message": text("Message", "new: balance 250 EUR", placeholder="1 to 64 bytes"),
    }
    for control, tips in ((controls["writer"], [WRITERS[w] for w in WRITERS]),
                          (controls["written_back"], ["every dirty line reaches DRAM first (time passes)",
                                                      "the reads happen while the written line is still cached"])):
        control.tooltips = tips
        control.style.button_width = "auto"  # the labels are longer than the default button width
    # Wide enough for the longest design label (55 characters); 30em cut them at about 40.
    controls["design"].layout.width = "44em"
    telling = [
        Telling("One KeyID-0 direct map (the RFC v2 API alone), the process writes: the debugger's "
                "process_vm_readv reads GARBAGE through the KeyID-0 direct map.", {}),
        Telling("One KeyID-0 direct map, the debugger writes 20 bytes through it: once the line is written back, "
                "the process reads GARBAGE in blocks 0 and 1, the 16-byte blocks the write touched.",
                {"writer": "debugger"}),
        Telling("Per-KeyID direct maps: the debugger's write goes through the page's own KeyID; every alias "
                "the kernel uses agrees.", {"writer": "debugger", "design": "per_keyid"}),
        Telling("Encrypted pages dropped from the direct map: the debugger gets EFAULT and the kernel's own "
                "read oopses; the process's data is safe.", {"writer": "debugger", "design": "unmapped"}),
    ]
    return LessonWidget(render_alias_explorer, controls, title="Alias explorer", telling=telling, cache=64,
                        front=("writer", "design", "written_back"),
                        intro="write one line of an encrypted page through one path, read it back through every "
                              "alias, and pick the kernel's direct-map design.")


# ------------------------------------------------------------------------------------------------
# The designs side by side
# ------------------------------------------------------------------------------------------------


def _tib(n: int) -> str:
    return f"{n / (1 << 40):g} TiB"


def _base_sentence(rows: list[DesignRow]) -> str:
    bases = sorted({r.base for r in rows if r.base})
    if len(bases) == 1:
        return f"Every row: Policy.{bases[0]}() with only direct_map changed."
    if bases:
        return f"Rows come from different base policies ({', '.join(bases)}): compare them with care."
    return ""


def render_design_table(rows: list[DesignRow], view: str = "paths") -> HTMLCard:
    """The comparison as a table: ``view="paths"`` (what each kernel path returned) or
    ``view="costs"`` (what one page's life cost, and what a stray read of the direct map sees).

    ``rows`` is what :func:`compare_designs` returns: a non-empty list of :class:`DesignRow`."""
    if (not isinstance(rows, (list, tuple)) or not rows
            or not all(isinstance(r, DesignRow) for r in rows)):
        got = f"an empty {type(rows).__name__}" if isinstance(rows, (list, tuple)) and not rows else shown(rows)
        raise ParameterError("rows must be a non-empty list of design rows, as aliasing.compare_designs() "
                               f"returns; got {got}")
    choose(view, ("paths", "costs"), "view")
    base = _base_sentence(list(rows))
    if view == "paths":
        heads = ["direct-map design"] + list(TABLE_PATHS.values())
        body = [[r.design] + [r.outcomes[p] for p in TABLE_PATHS] for r in rows]
        return table(heads, body, strong=("GARBAGE", "EFAULT"), caption=base, ruled=True,
                     css_class="mktme-design-table")
    heads = (["direct-map design", "direct maps", "RAM per map"] + list(COST_KINDS)
             + ["a stray read of __va(pa) sees"])
    body = [[r.design, str(r.direct_maps), _tib(r.max_ram_bytes)] + [str(r.costs[k]) for k in COST_KINDS]
            + [r.stray_read] for r in rows]
    caption = (base + " Events of one encrypted page's life: fault it in, one process_vm_readv(), "
               "munmap().").strip()
    return table(heads, body, strong=("PLAINTEXT",), caption=caption, ruled=True, css_class="mktme-design-table")


# ------------------------------------------------------------------------------------------------
# The names of one frame, as a picture
# ------------------------------------------------------------------------------------------------
def alias_picture(page: Page, data: bytes, *, title: str | None = None) -> LessonFigure:
    """Every full address that reaches ``page``'s frame, each labelled with what it reads now.

    The names and their reads come from :func:`~mktme_lite.scenarios.aliasing.alias_names`, which
    reads on a clone, so drawing the picture changes nothing in ``page``."""
    aliases = [{"label": a.label, "keyid": a.keyid, "frame": a.frame,
                "note": "reads the data" if a.reads_data else "reads garbage"} for a in alias_names(page, data)]
    return alias_map(aliases, title=title)
