"""Lesson 07's pictures: what each design costs (bars) and what it stops (a grid of words).

How a lesson or a widget calls them (the numbers come from mktme_lite.scenarios.costs and
.ret2dir; these functions only draw plain data)::

    from mktme_lite import viz
    viz.overhead_bars([("none", 1.0, "", "none"), ("xpfo", 2.28, "", "XPO")],
                      title="Kernel-build mix, 96 CPUs", references=[("MKTME PATCHv4, measured (elapsed)", 1.205)])
    viz.security_grid(["none", "xpfo"], ["ret2dir", "stray read"],
                      [[("PAYLOAD USED", False), ("PLAINTEXT", False)], [("oops", True), ("oops", True)]])

No meaning by colour alone: every bar carries its value in words ("x2.28") and a hatch per family;
every grid cell starts with a mark, "✓" (the defence held, or the kernel path still works) or
"✗", before its word, and the failing cells are hatched as well as tinted.

Both draw their text as glyph outlines (:mod:`~mktme_lite.viz.glyphs`) on one axes whose data units
are inches, y down, so a redraw costs a few milliseconds.
"""

from __future__ import annotations

import math
from typing import Sequence

from matplotlib.patches import Rectangle
from matplotlib.transforms import Affine2D

from .. import style
from ..errors import ParameterError
from ..params import items, shown, text
from .figure import LessonFigure
from .glyphs import Glyphs, text_width

__all__ = ["overhead_bars", "security_grid", "cost_and_security", "FAMILY_HATCH"]

#: family -> (hatch, face colour) of a bar
FAMILY_HATCH = {"none": ("", "#dddddd"), "MKTME": ("//", style.OKABE_ITO["sky_blue"]),
                "XPO": ("..", style.OKABE_ITO["orange"])}
#: family -> the words of the bars' key
_FAMILY_WORDS = {"none": "no defence (plain grey)", "MKTME": "MKTME designs (blue, hatched //)",
                 "XPO": "XPO designs (orange, dotted)"}
_OK = ("#d9efe6", "")  # tint, hatch
_BAD = ("#f7d9c9", "///")


class _Canvas:
    """Collects the figure's artists in inches, y down; :func:`_finish` places them on the figure.

    No Axes at all: building one (its axis, ticks and grid) cost more than the whole picture, and
    these figures have no data axes to show."""

    def __init__(self) -> None:
        self.artists = []

    def add_artist(self, artist):
        self.artists.append(artist)
        return artist


def _figure():
    style.apply()
    return LessonFigure(figsize=(8, 4)), _Canvas()


def _finish(fig, ax: _Canvas, g: Glyphs, w: float, h: float) -> None:
    g.draw(ax)
    fig.set_size_inches(w, h)
    inches = Affine2D().scale(1, -1).translate(0, h) + fig.dpi_scale_trans
    for artist in ax.artists:
        artist.set_transform(inches)
        fig.add_artist(artist)


def _times(x: float) -> str:
    return f"x{x:.3g}" if x < 100 else f"x{x:,.0f}"


def _words(title, note, highlight):
    """The figure's own text, checked: a title, a note under it, the label of a row to frame."""
    text(title, "title", 0, 120)
    text(note, "note", 0, 200)
    if highlight is not None:
        text(highlight, "highlight (a row label, or None)", 1, 80)


def _bar_rows(bars, references):
    if not isinstance(bars, (list, tuple)) or not bars:
        raise ParameterError(f"overhead_bars needs a non-empty list of (label, slowdown, note, family); got {shown(bars)}")
    if len(bars) > 32:
        raise ParameterError(f"overhead_bars draws at most 32 bars; got {len(bars)}")
    rows = []
    for b in bars:
        if (not isinstance(b, (list, tuple)) or len(b) != 4 or isinstance(b[1], bool)
                or not isinstance(b[1], (int, float)) or not b[1] >= 1 or not math.isfinite(b[1])
                or b[3] not in FAMILY_HATCH):
            raise ParameterError(f"a bar is (label, slowdown >= 1, note, family in {', '.join(FAMILY_HATCH)}); "
                                 f"got {shown(b)}")
        rows.append((text(b[0], "a bar's label", 1, 80), float(b[1]), text(b[2], "a bar's note", 0, 120), b[3]))
    refs = []
    for r in items(references, "references (a list of (label, measured slowdown))", 0, 8):
        if (not isinstance(r, (list, tuple)) or len(r) != 2 or isinstance(r[1], bool)
                or not isinstance(r[1], (int, float)) or not math.isfinite(r[1]) or not 1 <= r[1] <= 1e4):
            raise ParameterError(f"a reference is (label, slowdown from 1 to 10000); got {shown(r)}")
        refs.append((text(r[0], "a reference's label", 1, 120), float(r[1])))
    return rows, refs


def _draw_bars(ax, g: Glyphs, top: float, rows, refs, highlight) -> tuple[float, float, list[str]]:
    """Draw the bars from ``top`` down; returns (bottom, width, alt parts)."""
    peak = max([r[1] for r in rows] + [v for _, v in refs] + [2.0])
    decades = max(1.0, math.log10(peak) * 1.05)
    label_w = max(text_width(r[0], 9) for r in rows) + 0.3
    plot_w = 5.2
    bar_h, gap = 0.3, 0.12

    def x_of(v: float) -> float:
        return label_w + plot_w * math.log10(v) / decades

    y0 = top + 0.2 * len(refs)
    bottom = y0 + len(rows) * (bar_h + gap)
    for tick in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000):
        if tick > 10 ** decades:
            break
        x = x_of(tick)
        ax.add_artist(Rectangle((x, y0 - 0.05), 0.004, bottom - y0 + 0.05, facecolor="#cccccc", lw=0))
        g.text(x, bottom + 0.12, f"x{tick}", 8, ha="center", va="top", colour="#444444")
    g.text(label_w, bottom + 0.38, "estimated slowdown (log scale)", 8, va="top", colour="#444444")
    for i, (label, value) in enumerate(refs):
        x = x_of(value)
        ax.add_artist(Rectangle((x, top + 0.2 * i + 0.12), 0.012, bottom - top - 0.2 * i - 0.12,
                                facecolor="black", lw=0, zorder=4))
        g.text(x + 0.05, top + 0.2 * i + 0.1, f"{label}: {_times(value)}", 7.5, slant="italic")
    alt = []
    for i, (label, value, text, family) in enumerate(rows):
        y = y0 + i * (bar_h + gap)
        hatch, face = FAMILY_HATCH[family]
        width = max(x_of(value) - label_w, 0.02)
        ax.add_artist(Rectangle((label_w, y), width, bar_h, facecolor=face, edgecolor="black", hatch=hatch,
                                lw=1.6 if label == highlight else 0.6))
        strong = "bold" if label == highlight else "normal"
        g.text(label_w - 0.1, y + bar_h / 2, label, 9, ha="right", weight=strong)
        g.text(label_w + width + 0.08, y + bar_h / 2, _times(value) + (f"  {text}" if text else ""), 8.5,
               weight=strong)
        alt.append(f"{label} {_times(value)}" + (f" ({text})" if text else ""))
    # The key: which family a fill stands for, in words beside a swatch (not by colour alone).
    x = label_w
    for family in dict.fromkeys(r[3] for r in rows):
        hatch, face = FAMILY_HATCH[family]
        ax.add_artist(Rectangle((x, bottom + 0.6), 0.3, 0.16, facecolor=face, edgecolor="black", hatch=hatch, lw=0.6))
        words = _FAMILY_WORDS[family]
        g.text(x + 0.38, bottom + 0.68, words, 8, colour="#333333")
        x += 0.38 + text_width(words, 8) + 0.3
    alt.append("key: " + ", ".join(_FAMILY_WORDS[f] for f in dict.fromkeys(r[3] for r in rows)))
    return bottom + 0.95, max(label_w + plot_w + 2.6, x), alt


def _bars_alt(rows_alt, refs) -> str:
    return ("Bars of estimated slowdown per design, log scale: " + "; ".join(rows_alt) + "."
            + (" Measured reference lines: " + "; ".join(f"{l} {_times(v)}" for l, v in refs) + "." if refs else ""))


def overhead_bars(bars: Sequence[tuple[str, float, str, str]], *, title: str = "",
                  references: Sequence[tuple[str, float]] = (), highlight: str | None = None,
                  note: str = "") -> LessonFigure:
    """One horizontal bar per design: its estimated slowdown on a log scale from x1.

    ``bars`` are ``(label, slowdown >= 1, note, family)`` with family one of :data:`FAMILY_HATCH`;
    ``references`` are measured slowdowns drawn as dashed lines with their label; ``highlight`` is
    the label of a bar to frame; ``note`` a line under the picture."""
    rows, refs = _bar_rows(bars, references)
    _words(title, note, highlight)
    fig, ax = _figure()
    g = Glyphs()
    top = 0.45 if title else 0.15
    if title:
        g.text(0.1, 0.2, title, 11, weight="bold")
    bottom, w, alt = _draw_bars(ax, g, top, rows, refs, highlight)
    if note:
        g.text(0.1, bottom + 0.1, note, 8, colour="#333333")
        bottom += 0.25
    _finish(fig, ax, g, w, bottom)
    fig.mktme_alt = (f"{title}. " if title else "") + _bars_alt(alt, refs)
    return fig


def _wrap(text: str, width: float, points: float) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        trial = f"{line} {word}".strip()
        if line and text_width(trial, points) > width:
            lines.append(line)
            line = word
        else:
            line = trial
    return lines + ([line] if line else [])


def _grid_checks(rows, columns, cells, highlight):
    for label in items(rows, "rows (the row labels)", 1, 32):
        text(label, "a row label", 1, 80)
    for label in items(columns, "columns (the column labels)", 1, 12):
        text(label, "a column label", 1, 120)
    cells = items(cells, "cells (one list of (word, ok) pairs per row)", 1, 32)
    if len(cells) != len(rows) or any(not isinstance(r, (list, tuple)) or len(r) != len(columns) for r in cells):
        raise ParameterError(f"cells must have {len(rows)} rows of {len(columns)} (word, ok) pairs")
    for r in cells:
        for c in r:
            if not (isinstance(c, (list, tuple)) and len(c) == 2 and isinstance(c[0], str) and isinstance(c[1], bool)):
                raise ParameterError(f"a cell is (word, ok) with ok True or False; got {shown(c)}")
            text(c[0], "a cell's word", 1, 40)
    if highlight is not None and highlight not in rows:
        raise ParameterError(f"highlight {shown(highlight)} is not one of the rows: {', '.join(rows)}")


def _draw_grid(ax, g: Glyphs, top: float, rows, columns, cells, highlight) -> tuple[float, float, list[str]]:
    """Draw the grid from ``top`` down; returns (bottom, width, alt parts)."""
    label_w = max(text_width(r, 9) for r in rows) + 0.25
    col_w = max(1.25, max(text_width("✗ " + c[0], 8.5) for r in cells for c in r) + 0.2)
    heads = [_wrap(c, col_w - 0.1, 8) for c in columns]
    head_h = 0.17 * max(len(h) for h in heads) + 0.15
    row_h = 0.32
    w = label_w + len(columns) * col_w + 0.2
    for j, lines in enumerate(heads):
        for k, line in enumerate(lines):
            g.text(label_w + j * col_w + 0.06, top + 0.1 + 0.17 * k, line, 8, weight="bold", va="top")
    y0 = top + head_h
    alt = []
    for i, (label, row) in enumerate(zip(rows, cells)):
        y = y0 + i * row_h
        strong = "bold" if label == highlight else "normal"
        g.text(label_w - 0.1, y + row_h / 2, label, 9, ha="right", weight=strong)
        parts = []
        for j, (word, ok) in enumerate(row):
            tint, hatch = _OK if ok else _BAD
            ax.add_artist(Rectangle((label_w + j * col_w, y), col_w, row_h, facecolor=tint, edgecolor="#888888",
                                    hatch=hatch, lw=0.5))
            g.text(label_w + j * col_w + 0.08, y + row_h / 2, ("✓ " if ok else "✗ ") + word, 8.5,
                   weight="bold" if not ok else "normal")
            parts.append(f"{columns[j]}: {'held' if ok else 'FAILED'} ({word})")
        if label == highlight and len(rows) > 1:
            ax.add_artist(Rectangle((0.04, y + 0.02), w - 0.12, row_h - 0.04, facecolor="none", edgecolor="black",
                                    lw=2.0, zorder=6))
        alt.append(f"{label}: " + ", ".join(parts))
    return y0 + len(rows) * row_h + 0.2, w, alt


_GRID_ALT = ("Grid of designs (rows) against threats and kernel functions (columns); a tick means the defence "
             "held or the function works, a cross that it failed. ")


def security_grid(rows: Sequence[str], columns: Sequence[str], cells: Sequence[Sequence[tuple[str, bool]]], *,
                  title: str = "", highlight: str | None = None, note: str = "") -> LessonFigure:
    """A grid: one row per design, one column per threat or kernel function, a word per cell.

    ``cells[i][j]`` is ``(word, ok)``: ok means the defence held (or the function still works).
    Each cell reads "✓ word" or "✗ word"; failing cells are tinted and hatched too. ``highlight``
    frames one row."""
    _grid_checks(rows, columns, cells, highlight)
    _words(title, note, None)
    fig, ax = _figure()
    g = Glyphs()
    top = 0.45 if title else 0.12
    if title:
        g.text(0.1, 0.2, title, 11, weight="bold")
    bottom, w, alt = _draw_grid(ax, g, top, rows, columns, cells, highlight)
    if note:
        g.text(0.1, bottom + 0.05, note, 8, colour="#333333")
        bottom += 0.25
    _finish(fig, ax, g, w, bottom)
    fig.mktme_alt = ((f"{title}. " if title else "") + _GRID_ALT + "; ".join(alt) + "."
                     + (f" Row {highlight} is framed." if highlight else ""))
    return fig


def cost_and_security(bars: Sequence[tuple[str, float, str, str]], row: str, columns: Sequence[str],
                      cells: Sequence[tuple[str, bool]], *, title: str = "",
                      references: Sequence[tuple[str, float]] = (), note: str = "") -> LessonFigure:
    """The explorer's picture: the slowdown bars (``row``'s bar framed) over ``row``'s line of the
    security grid, in one figure (one PNG per redraw)."""
    rows, refs = _bar_rows(bars, references)
    _words(title, note, row)
    _grid_checks([row], columns, [cells], None)
    fig, ax = _figure()
    g = Glyphs()
    top = 0.45 if title else 0.15
    if title:
        g.text(0.1, 0.2, title, 11, weight="bold")
    bottom, w1, alt_bars = _draw_bars(ax, g, top, rows, refs, row)
    g.text(0.1, bottom + 0.1, f"What {row} stops, and what still works:", 9.5, weight="bold")
    bottom, w2, alt_grid = _draw_grid(ax, g, bottom + 0.25, [row], columns, [cells], None)
    if note:
        g.text(0.1, bottom + 0.05, note, 8, colour="#333333")
        bottom += 0.25
    _finish(fig, ax, g, max(w1, w2), bottom)
    fig.mktme_alt = ((f"{title}. " if title else "") + _bars_alt(alt_bars, refs) + f" Bar {row} is framed. "
                     + _GRID_ALT + alt_grid[0] + ".")
    return fig
