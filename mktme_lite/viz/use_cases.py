"""Lesson 08's pictures: the KeyID space split between MKTME and TDX, and the pmem outcome table.

How a lesson or a widget calls them::

    from mktme_lite import viz
    viz.show(viz.keyid_partition(6, 15, 48, facts=[("MSR 0x87", "0x300000000f")]))
    viz.show(viz.outcome_table(["setting", "reads back"], [["user key", "intact"], ["CPU key", "GARBAGE"]],
                               strong=("GARBAGE",), caption="..."))

Both take plain numbers and words, not scenario results, so they can draw any split or table; the
lesson's widgets (:mod:`mktme_lite.widgets.use_cases`) feed them what the engine computed.

Every region of the number line carries its name in words and its own hatch (KeyID 0 plain, MKTME
``//``, TDX private ``xx``), so the colours are only a second hint. The figure's text is drawn as
cached glyph outlines (:class:`~mktme_lite.viz.glyphs.Glyphs`), which keeps a redraw in milliseconds.
"""

from __future__ import annotations

from typing import Sequence

from matplotlib.patches import Rectangle

from .. import style
from ..errors import ParameterError
from ..params import shown, whole
from .figure import HTMLCard, Inches, LessonFigure
from .glyphs import Glyphs
from .tables import table

__all__ = ["keyid_partition", "outcome_table", "PARTITION_HATCH"]

#: region -> hatch: the channel that does not depend on colour.
PARTITION_HATCH = {"tme": "", "mktme": "//", "tdx": "xx"}
_FACE = {"tme": style.OKABE_ITO["blue"], "mktme": style.OKABE_ITO["sky_blue"], "tdx": style.OKABE_ITO["orange"]}
_MIN_W = 0.55  # inches: the narrowest a region is drawn, so KeyID 0 stays visible next to 32 767 others


def _widths(counts: Sequence[int], total_w: float) -> list[float]:
    """Widths proportional to ``counts``, none of the non-empty ones under :data:`_MIN_W`."""
    shown_ = [c for c in counts if c]
    fixed = [_MIN_W if c else 0.0 for c in counts]
    free = total_w - _MIN_W * len(shown_)
    total = sum(shown_)
    return [f + (free * c / total if c else 0.0) for f, c in zip(fixed, counts)]


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def _span(lo: int, hi: int) -> str:
    if hi < lo:
        return ""
    return f" (KeyID {lo})" if lo == hi else f", {lo} to {hi}"


def keyid_partition(keyid_bits: int, mktme_keyids: int, tdx_keyids: int, *,
                    facts: Sequence[tuple[str, str]] = (), title: str | None = None) -> LessonFigure:
    """The KeyIDs 0..2^bits-1 as one line: KeyID 0 (the TME key), the MKTME KeyIDs the host may use,
    and the TDX private KeyIDs only SEAM may use; ``facts`` (label, value) are listed under it, the
    values in the mono font (drawn from single cached glyphs, so a value never seen before costs
    nothing extra)."""
    keyid_bits = whole(keyid_bits, "keyid_bits", 0, 15)
    n = 1 << keyid_bits
    mktme_keyids = whole(mktme_keyids, "mktme_keyids", 0, n - 1)
    tdx_keyids = whole(tdx_keyids, "tdx_keyids", 0, n - 1)
    if mktme_keyids + tdx_keyids != n - 1:
        raise ParameterError(f"mktme_keyids + tdx_keyids must be {n - 1} (every KeyID but 0 once) for "
                             f"{keyid_bits} KeyID bits; got {mktme_keyids} + {tdx_keyids}")
    facts = list(facts)
    if not all(isinstance(f, tuple) and len(f) == 2 and all(isinstance(x, str) for x in f) for f in facts):
        raise ParameterError("facts must be (label, value) pairs of strings")
    style.apply()
    fig_w = 9.0
    fig_h = 2.55 + 0.27 * len(facts)
    fig = LessonFigure(figsize=(fig_w, fig_h))
    fig.patch.set_facecolor("white")
    ax = Inches(fig, fig_h)  # inches, y down
    g = Glyphs()
    left, right = 0.35, fig_w - 0.35
    # Mono: the title changes with every setting, and mono text is drawn from single cached glyphs.
    g.text(left, 0.12, title or f"KeyIDs 0-{n - 1}: {keyid_bits} KeyID bit{'s' if keyid_bits != 1 else ''}",
           10.5, family="mono", weight="bold", va="top")
    first_private = mktme_keyids + 1
    regions = [
        ("tme", 1, "KeyID 0: TME key", "0"),
        ("mktme", mktme_keyids, "MKTME: host may use", f"1-{mktme_keyids}" if mktme_keyids > 1 else "1"),
        ("tdx", tdx_keyids, "TDX private: SEAM only", f"{first_private}-{n - 1}" if tdx_keyids > 1
         else str(first_private)),
    ]
    widths = _widths([c for _, c, _, _ in regions], right - left)
    top, h = 0.95, 0.55
    x = left
    label_end = -1.0
    for (kind, count, label, span), w in zip(regions, widths):
        if not count:
            continue
        ax.add_patch(Rectangle((x, top), w, h, facecolor=_FACE[kind], alpha=0.55, hatch=PARTITION_HATCH[kind],
                               edgecolor="black", linewidth=1.2))
        if w > 2.2:
            tw = g.text(x + w / 2, top + h / 2, label, 9, weight="bold", ha="center")
            ax.add_patch(Rectangle((x + w / 2 - tw / 2 - 0.06, top + h / 2 - 0.11), tw + 0.12, 0.22,
                                   facecolor="white", edgecolor="none", zorder=4))
        else:  # too narrow to hold words: name it above the bar, one row higher if it would touch the last
            name = label if kind != "tme" else "KeyID 0"
            row = 1 if x < label_end + 0.1 else 0
            label_end = x + g.text(x + 0.04, top - 0.05 - 0.24 * row, name, 8, weight="bold", va="bottom")
        g.text(x + w / 2, top + h + 0.08, span if kind == "tme" else f"{span} ({count})", 8, family="mono",
               ha="center", va="top")
        x += w
    if not tdx_keyids:
        g.text(right, top - 0.05, "no TDX private KeyIDs", 8, slant="italic", ha="right", va="bottom")
    g.text(left, top + h + 0.42, "Bar widths are proportional to the number of KeyIDs, except that no region is "
           "drawn narrower than half an inch.", 7.5, slant="italic", va="top")
    for i, (name, value) in enumerate(facts):
        y = 2.3 + 0.27 * i
        g.text(left, y, name + ":", 9, weight="bold")
        g.text(left + 2.6, y, value, 8.5, family="mono")  # mono: any value is cheap to draw
    g.draw(ax)
    private = (f"{_count(tdx_keyids, 'TDX private KeyID')}{_span(first_private, n - 1)}, hatched with crosses, which only the "
               "TDX module in SEAM mode may use" if tdx_keyids else "no TDX private KeyIDs")
    fig.mktme_alt = (
        f"A number line of the {n} KeyIDs of {keyid_bits} KeyID bits, split in three labelled regions: KeyID 0, "
        f"the TME key (plain); "
        + (f"{_count(mktme_keyids, 'MKTME KeyID')}{_span(1, mktme_keyids)}, hatched with slashes, which the host "
           "may program and map" if mktme_keyids else "no MKTME KeyIDs, so the host may program none")
        + f"; and {private}."
        + ("".join(f" {name}: {value}." for name, value in facts))
    )
    return fig


def outcome_table(columns: Sequence[str], rows: Sequence[Sequence[str]], *, strong: Sequence[str] = (),
                  caption: str = "", footer: str = "") -> HTMLCard:
    """A ruled table of outcomes (lesson 08's pmem and VM tables): alarming words bold and written out."""
    for what, value in (("columns", columns), ("rows", rows), ("strong", strong)):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ParameterError(f"outcome_table() {what} must be a list or tuple; got {shown(value)}")
    if not all(isinstance(r, (list, tuple)) for r in rows):
        raise ParameterError("outcome_table() rows must be lists or tuples of cells")
    return table(list(columns), [list(r) for r in rows], strong=tuple(strong), caption=caption, footer=footer,
                 ruled=True, css_class="mktme-outcomes")
