"""Bytes as pictures: a heat map + hex grid of byte panels, and which 64-byte lines changed.

How a lesson calls them::

    from mktme_lite import viz
    viz.show(viz.bytes_figure([("plaintext", secret), ("DRAM (ciphertext)", m.dram(pa))], base=pa,
                              title="What the DIMM holds", mark_changed=True))
    viz.show(viz.line_changes(before, after, base=0x2000, title="Lines that differ"))

One row of a grid is one 16-byte AES block, a white rule separates 64-byte cache lines, and a
block that differs from the first panel is framed *and* says "<- differs" (never colour alone).

Speed matters here: the DRAM probe redraws a grid on every widget update (budget 100 ms). All its
text is drawn by :class:`~mktme_lite.viz.glyphs.Glyphs` as cached outlines, everything is drawn straight
on the figure in inches (:class:`~mktme_lite.viz.figure.Inches`, no Axes), the bytes are one collection
of squares, and nothing is a matplotlib ``Text``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterable, Sequence

import matplotlib
import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.patches import Rectangle

from .. import style
from ..dump import BLOCK, LINE, describe_bytes, differing_blocks, printable
from ..errors import ParameterError
from ..params import byteslike, flag, items, shown, whole
from ..params import text as _text
from .figure import Inches, LessonFigure, new_figure
from .glyphs import Glyphs

__all__ = ["bytes_figure", "line_changes", "MAX_FIGURE_BYTES"]

#: Most bytes one byte grid draws, over all panels: 1 KiB is 64 rows of 16 (16 cache lines), about
#: 0.35 s to draw and 0.7 s to encode as PNG on a loaded 2-core machine, 30 MB.
#: A grid of 64 KiB took 3.7 s and 260 MB and could not be read anyway; hexdump() prints more.
MAX_FIGURE_BYTES = 1024

_MONO_PT = {"hex": 7.2, "ascii": 8.0, "label": 8.0}
_TOP_TO_BASELINE_EM = 0.8  # the grid's titles, labels and notes sit this far below their top line


def _line_at(g: Glyphs, text: str, x: float, y_top: float, points: float, **font) -> None:
    """One line of sans text whose top is at ``y_top`` and left end at ``x`` (inches, y down)."""
    g.text(x, y_top + _TOP_TO_BASELINE_EM * points / 72, text, points, va="baseline", **font)


@lru_cache(maxsize=1)
def _byte_colours() -> np.ndarray:
    """The 256 byte colours (cividis), RGBA rows indexed by byte value: looked up, not recomputed per grid."""
    return matplotlib.colormaps[style.BYTE_CMAP](np.arange(256) / 255)


@lru_cache(maxsize=1)
def _hex_colours() -> tuple[str, ...]:
    """Black or white hex text on the square of each byte value (style.text_color_for, once per value)."""
    return tuple(style.text_color_for(byte / 255) for byte in range(256))


def _cells(ax: Inches, values: np.ndarray, width: int, left: float, top: float, cell_w: float,
           cell_h: float) -> None:
    """One filled square per byte, coloured by its value (cividis): what ``imshow`` drew, without an Axes."""
    if not len(values):
        return
    r, c = np.divmod(np.arange(len(values)), width)
    x0, y0 = left + c * cell_w, top + r * cell_h
    x1, y1 = x0 + cell_w, y0 + cell_h
    squares = np.stack([np.stack([x0, y0], 1), np.stack([x1, y0], 1), np.stack([x1, y1], 1),
                        np.stack([x0, y1], 1)], 1)
    colours = _byte_colours()[values]
    # No anti-aliasing and no edges, so neighbouring squares meet without a seam, as imshow's pixels do.
    ax.add_artist(PolyCollection(squares, facecolors=colours, edgecolors="none", linewidths=0, antialiaseds=False,
                                 zorder=1))


def _block_phrase(blocks: Sequence[int]) -> str:
    if not blocks:
        return "no block"
    if len(blocks) == 1:
        return f"block {blocks[0]} only"
    return "blocks " + ", ".join(str(b) for b in blocks)


def bytes_figure(panels: Sequence[tuple[str, bytes]], *, base: int = 0, title: str | None = None,
                 mark_changed: bool | Iterable[int] = False, width: int = BLOCK, hex_labels: bool = True,
                 ascii_column: bool = True, note: str | None = None) -> LessonFigure:
    """Byte panels stacked top to bottom: colour = byte value (cividis), text = hex and ASCII.

    ``panels`` is a sequence of ``(label, data)`` or ``(label, data, base)`` (a panel's own start
    address for the row labels; ``base`` otherwise). One row of the grid is one 16-byte AES block,
    and a white rule separates 64-byte cache lines. With ``mark_changed``, every block in which a
    panel differs from the *first* panel gets a dashed frame and the words "<- differs".
    ``mark_changed`` may also be a collection of panel indices: only those panels are compared
    (e.g. to leave out a panel of ciphertext, which always differs).
    """
    if not isinstance(panels, (list, tuple)) or not panels:
        raise ParameterError("bytes_figure needs a list of at least one (label, data) or (label, data, base) "
                             f"panel; got {shown(panels)}")
    panels = items(panels, "panels", 1, 16)
    base = whole(base, "base (the address of the first byte)", 0, (1 << 64) - 1, hex_=True)
    checked = []
    for p in panels:
        if not isinstance(p, (list, tuple)) or len(p) not in (2, 3):
            raise ParameterError(f"a panel is (label, data) or (label, data, base); got {shown(p)}")
        label = _text(p[0], "a panel's label", 0, 300)
        data = byteslike(p[1], f"the data of panel {label!r}")
        pbase = whole(p[2], f"the base of panel {label!r}", 0, (1 << 64) - 1, hex_=True) if len(p) > 2 else base
        checked.append((label, data, pbase))
    total = sum(len(d) for _, d, _ in checked)
    if total > MAX_FIGURE_BYTES:
        raise ParameterError(f"bytes_figure draws at most {MAX_FIGURE_BYTES} bytes in all; the panels hold {total}. "
                             f"Show a slice (e.g. data[:{MAX_FIGURE_BYTES // len(checked)}]) or print "
                             "hexdump(data) for the whole run")
    width = whole(width, "width (bytes per row)", 1, 64)
    if isinstance(mark_changed, (bool, np.bool_)):
        compared = set(range(1, len(panels))) if mark_changed else set()
    else:
        marks = items(mark_changed, "mark_changed (True, False or a list of panel indices)")
        compared = {whole(i, "a panel index in mark_changed", 0, len(panels) - 1) for i in marks} - {0}
    hex_labels = flag(hex_labels, "hex_labels")
    ascii_column = flag(ascii_column, "ascii_column")
    title = None if title is None else _text(title, "title", 0, 500)
    note = None if note is None else _text(note, "note", 0, 2000)
    bases = [b for _, _, b in checked]
    panels = [(label, data) for label, data, _ in checked]
    first = panels[0][1]
    rows = [max(1, -(-len(d) // width)) for _, d in panels]
    # Geometry in inches; the one axes uses inches as data units, y growing downwards.
    cell_w, cell_h = 0.34, 0.27
    digits = max(4, max(len(f"{b + 16 * r:x}") for b, r in zip(bases, rows)))
    left = 0.25 + 0.07 * (digits + 2)
    right = (0.35 + 0.067 * (width + 2) + 0.8) if ascii_column else 0.2
    head = 0.34 if title else 0.08
    label_h, heads_h, gap = 0.27, 0.2, 0.12
    note_lines = note.splitlines() if note else []
    foot = 0.12 + 0.18 * len(note_lines)
    fig_w = left + width * cell_w + right
    fig_h = head + sum(label_h + r * cell_h + gap for r in rows) + heads_h + foot
    style.apply()
    fig = LessonFigure(figsize=(fig_w, fig_h))
    ax = Inches(fig, fig_h)  # no Axes: building one costs more than the whole grid (issue 10)
    g = Glyphs()
    if title:
        _line_at(g, title, 0.08, 0.1, 11, weight="bold")
    y = head
    alt_parts = []
    for k, ((label, data), nrows, pbase) in enumerate(zip(panels, rows, bases)):
        _line_at(g, label, 0.08, y + 0.05, 9.5, weight="bold")
        y += label_h
        if k == 0:
            for c in range(width):
                g.text(left + (c + 0.5) * cell_w, y + 0.07, f"{c:x}", _MONO_PT["label"], family="mono", ha="center")
            y += heads_h
        n = len(data)
        x1, y1 = left + width * cell_w, y + nrows * cell_h
        _cells(ax, np.frombuffer(data, dtype=np.uint8), width, left, y, cell_w, cell_h)
        marked: list[int] = []
        if k in compared and len(data) == len(first) and width == BLOCK:
            marked = differing_blocks(first, data)
        for r in range(nrows):
            cy = y + (r + 0.5) * cell_h
            g.text(left - 0.08, cy, f"0x{pbase + r * width:0{digits}x}", _MONO_PT["label"], family="mono", ha="right")
            if ascii_column:
                chunk = data[r * width : (r + 1) * width]
                tail = "  <- differs" if r in marked else ""
                g.text(x1 + 0.15, cy, f"|{printable(chunk).ljust(width)}|{tail}", _MONO_PT["ascii"], family="mono")
        if hex_labels and n:
            r, c = np.divmod(np.arange(n), width)
            g.hex_bytes(left + (c + 0.5) * cell_w, y + (r + 0.5) * cell_h, np.frombuffer(data, dtype=np.uint8),
                        _MONO_PT["hex"], _hex_colours())
        if width == BLOCK:
            for r in range(LINE // BLOCK, nrows, LINE // BLOCK):  # a white rule between cache lines
                ax.hlines([y + r * cell_h], left, x1, colors="white", linewidth=2.5)
            for blk in marked:  # a dashed frame + words, never colour alone
                ax.add_artist(Rectangle((left - 0.02, y + blk * cell_h + 0.015), width * cell_w + 0.04,
                                        cell_h - 0.03, fill=False, edgecolor=style.OKABE_ITO["vermillion"],
                                        linewidth=2.2, linestyle="--"))
        y = y1 + gap
        phrase = f"{label}: {describe_bytes(data)}"
        if k in compared:
            phrase += f"; differs from the first panel in {_block_phrase(marked)}"
        alt_parts.append(phrase)
    for i, line in enumerate(note_lines):  # first line bold (the verdict), the rest italic
        _line_at(g, line, 0.08, y + 0.04 + 0.18 * i, 8, weight="bold" if i == 0 else "normal",
                 slant="normal" if i == 0 else "italic")
    g.draw(ax)
    fig.mktme_alt = (
        (f"{title}. " if title else "")
        + f"{len(panels)} byte grid(s), {width} bytes per row, starting at address "
        + ", ".join(dict.fromkeys(f"{b:#x}" for b in bases)) + "; colour shows each "
        "byte's value. " + ". ".join(alt_parts) + "."
    )
    return fig


def line_changes(before: bytes, after: bytes, *, base: int = 0, title: str | None = None,
                 per_row: int = 8) -> LessonFigure:
    """One box per 64-byte line: hatched and labelled "changed" where the dumps differ."""
    before, after = byteslike(before, "before", 0, 64 * LINE), byteslike(after, "after", 0, 64 * LINE)
    base = whole(base, "base (the address of the first byte)", 0, (1 << 64) - 1, hex_=True)
    title = None if title is None else _text(title, "title", 0, 500)
    if len(before) != len(after) or len(before) % LINE or not before:
        raise ParameterError("line_changes needs two dumps of the same length, a non-zero multiple of 64 bytes; "
                             f"got {len(before)} and {len(after)} bytes")
    per_row = whole(per_row, "per_row (lines per row)", 1, 32)
    n = len(before) // LINE
    changed = set(differing_blocks(before, after, LINE))
    rows = -(-n // per_row)
    fig = new_figure(1.05 * per_row + 0.6, 0.62 * rows + (0.5 if title else 0.2))
    ax = fig.subplots()
    changed_style = style.STATE_STYLE["ciphertext"]
    for i in range(n):
        r, c = divmod(i, per_row)
        hit = i in changed
        ax.add_patch(Rectangle((c, -r), 0.92, 0.8, facecolor=changed_style["color"] if hit else "white",
                               hatch="//" if hit else "", edgecolor="black", linewidth=0.8,
                               alpha=0.9 if hit else 1.0))
        ax.text(c + 0.46, -r + 0.55, f"{base + i * LINE:#x}", ha="center", va="center", fontsize=7.5,
                family=style.MONO, color="black",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.6} if hit else None)
        ax.text(c + 0.46, -r + 0.2, "changed" if hit else "same", ha="center", va="center", fontsize=7.5,
                fontweight="bold" if hit else "normal", color="black",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.6} if hit else None)
    ax.set_xlim(-0.05, per_row)
    ax.set_ylim(-rows + 0.9, 0.85)
    ax.set_axis_off()
    if title:
        ax.set_title(title, loc="left")
    addrs = ", ".join(f"{base + i * LINE:#x}" for i in sorted(changed)) or "none"
    fig.mktme_alt = ((f"{title}. " if title else "") + f"{n} cache lines of 64 bytes from {base:#x}; "
                     f"{len(changed)} changed between the two dumps: {addrs}.")
    return fig
