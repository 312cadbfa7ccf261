"""Text drawn as cached glyph outlines, merged into one path per colour: fast figure text.

A picture that redraws on every widget update collects its text on a :class:`Glyphs` and draws
it in one go, on an axes whose data units are inches with y growing downwards::

    g = Glyphs()
    g.text(0.1, 0.1, "A 46-bit physical address", 11, weight="bold", va="top")
    w = g.text(4.5, 3.2, "given up: 98.4 %", 8.5, ha="center")   # returns the width in inches
    g.text(1.0, 2.0, "3f", 7.2, family="mono", ha="center", colour="white")
    g.draw(ax)                                                   # one PathPatch per colour

Why: a matplotlib ``Text`` costs 0.5-3 ms to lay out and rasterise, and a byte grid needs about
ninety of them; as outlines (``TextPath``, cached) a whole figure's text costs a few milliseconds.

Two kinds of text, laid out the way each reads best:

* ``family="mono"`` (hex, addresses, bit numbers) is placed character by character on a fixed
  advance, from a cache of single glyphs, into one outline per string: any string is cheap, and a column of hex lines up
  because every string's width is ``len(text)`` advances.
* ``family="sans"`` (titles, labels, notes) is one outline per whole line, cached per string,
  so kerning is kept; its width is measured from the outline.

Anchors: ``ha`` is ``left``, ``center`` or ``right``; ``va`` is ``top``, ``center`` (the middle
of a digit is at ``y``), ``bottom`` or ``baseline``.
"""

from __future__ import annotations

import unicodedata

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from matplotlib.font_manager import FontProperties, findfont, get_font
from matplotlib.ft2font import Kerning, LoadFlags
from matplotlib.patches import PathPatch
from matplotlib.path import Path
from matplotlib.textpath import TextPath
from matplotlib.transforms import Affine2D

from .. import style
from ..errors import ParameterError

__all__ = ["Glyphs", "FAMILIES", "text_width", "mono_advance"]

#: The two families figure text is drawn in.
FAMILIES = {"sans": "DejaVu Sans", "mono": style.MONO}
_HA = {"left": 0.0, "center": 0.5, "right": 1.0}
# Baseline below the anchor, in ems; "center" is measured from the font (half a digit's height).
_VA_EM = {"top": 0.76, "bottom": -0.22, "baseline": 0.0}
_VA = (*_VA_EM, "center")
_FLIP = Affine2D().scale(1, -1)  # y grows downwards on the axes these outlines are drawn on


def _font(family: str, weight: str, slant: str) -> FontProperties:
    return FontProperties(family=FAMILIES[family], weight=weight, style=slant)


@lru_cache(maxsize=None)
def _glyph(ch: str, points: float, weight: str, slant: str) -> Path:
    """One mono character, ``points`` tall, in inches, y down (a few hundred distinct ones at most)."""
    return TextPath((0, 0), ch, size=points / 72, prop=_font("mono", weight, slant)).transformed(_FLIP)


@lru_cache(maxsize=None)
def mono_advance(points: float) -> float:
    """The advance of one mono character at ``points``, in inches (measured: ``00`` minus ``0``)."""
    prop = _font("mono", "normal", "normal")
    one = TextPath((0, 0), "0", size=points / 72, prop=prop)
    two = TextPath((0, 0), "00", size=points / 72, prop=prop)
    return two.get_extents().x1 - one.get_extents().x1


@lru_cache(maxsize=None)
def _digit_middle(family: str, points: float) -> float:
    """Half the height of a digit at ``points``, in inches: where ``va="center"`` puts ``y``."""
    return TextPath((0, 0), "0", size=points / 72, prop=_font(family, "normal", "normal")).get_extents().y1 / 2


@lru_cache(maxsize=None)
def _hex_table(points: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The outlines of all 256 two-digit labels ``00`` .. ``ff`` in mono at ``points``, each from its
    left baseline, inches, y down: (vertices, codes, start, count), one ragged table for a gather."""
    advance = mono_advance(points)
    verts, codes, start, count, n = [], [], [], [], 0
    for value in range(256):
        pair = [_glyph(ch, points, "normal", "normal") for ch in f"{value:02x}"]
        v = np.concatenate([pair[0].vertices, pair[1].vertices + (advance, 0.0)])
        verts.append(v)
        codes.append(np.concatenate([pair[0].codes, pair[1].codes]))
        start.append(n)
        count.append(len(v))
        n += len(v)
    return np.concatenate(verts), np.concatenate(codes), np.asarray(start), np.asarray(count)


#: Sans outlines are laid out at this size (points at 72 dpi, as matplotlib's TextPath does) and scaled.
_SCALE = 100.0


def _sans_font(weight: str, slant: str):
    font = get_font(findfont(_font("sans", weight, slant)))
    font.set_size(_SCALE, 72)  # the font object is shared with the renderer: set the size every time
    return font


@lru_cache(maxsize=None)
def _sans_glyph(ch: str, weight: str, slant: str):
    """One sans character at :data:`_SCALE` points, y up: (glyph index, advance, vertices, codes, rightmost x)."""
    font = _sans_font(weight, slant)
    glyph = font.load_char(ord(ch), flags=LoadFlags.NO_HINTING)
    try:
        verts, codes = font.get_path()
    except RuntimeError:  # a format character (U+200B, ...) loads no outline: it draws as nothing
        verts, codes = np.empty((0, 2)), np.empty(0, dtype=np.uint8)
    verts = np.asarray(verts, dtype=float).reshape(-1, 2)
    right = float(verts[:, 0].max()) if len(verts) else 0.0
    return font.get_char_index(ord(ch)), glyph.linearHoriAdvance / 65536, verts, np.asarray(codes), right


@lru_cache(maxsize=None)
def _kerning(left: int, right: int, weight: str, slant: str) -> float:
    return _sans_font(weight, slant).get_kerning(left, right, Kerning.DEFAULT) / 64


def _sans_layout(text: str, weight: str, slant: str):
    """``text`` laid out from cached single glyphs with the font's kerning, at :data:`_SCALE` points:
    (vertices, codes, rightmost x). The same outline as ``TextPath`` (within 0.01 pt), in a
    twentieth of the time: a new string costs no outline layout (benchmarks/README.md, issue 10)."""
    x, prev, verts, codes, right = 0.0, None, [], [], 0.0
    for ch in text:
        index, advance, v, c, rx = _sans_glyph(ch, weight, slant)
        if prev is not None:
            x += _kerning(prev, index, weight, slant)
        if len(v):
            verts.append(v + (x, 0.0))
            codes.append(c)
            right = max(right, x + rx)
        x, prev = x + advance, index
    if not verts:
        return np.empty((0, 2)), np.empty(0, dtype=np.uint8), 0.0
    return np.concatenate(verts), np.concatenate(codes), right


@lru_cache(maxsize=1024)
def _line(text: str, points: float, weight: str, slant: str) -> Path:
    """A whole line of sans text as one outline, in inches, y down (cached: widget titles repeat)."""
    verts, codes, _ = _sans_layout(text, weight, slant)
    return Path(verts * (points / 72 / _SCALE, -points / 72 / _SCALE), codes)


@lru_cache(maxsize=1024)
def _sans_width(text: str, points: float, weight: str, slant: str) -> float:
    # Spaces count as wide as an "n": the budget figure's labels were laid out with this width.
    # The rightmost vertex, not Path.get_extents() (that walks every Bezier segment in Python); a
    # glyph's rightmost point is an on-curve vertex in DejaVu Sans, so both give the same width.
    return _sans_layout(text.replace(" ", "n"), weight, slant)[2] * points / 72 / _SCALE


def _check(family: str, ha: str, va: str, text: object) -> None:
    if family not in FAMILIES:
        raise ParameterError(f"unknown font family {family!r}; choose one of {', '.join(FAMILIES)}")
    if ha not in _HA:
        raise ParameterError(f"unknown horizontal anchor ha={ha!r}; choose one of {', '.join(_HA)}")
    if va not in _VA:
        raise ParameterError(f"unknown vertical anchor va={va!r}; choose one of {', '.join(_VA)}")
    if not isinstance(text, str) or "\n" in text:
        raise ParameterError(f"figure text must be one line of str; got {text!r:.40}: draw each line on its own")
    for i, ch in enumerate(text):
        if unicodedata.category(ch) == "Cc":
            raise ParameterError(f"character {i + 1} of the figure text ({ascii(ch)}) is a control character, "
                                 "which no font draws; delete it (printable text, one line, is allowed)")


def text_width(text: str, points: float, *, family: str = "sans", weight: str = "normal",
               slant: str = "normal") -> float:
    """Width of ``text`` in inches, as :meth:`Glyphs.text` lays it out (0 for blank text)."""
    _check(family, "left", "baseline", text)
    return _width(text, points, family, weight, slant)


def _width(text: str, points: float, family: str, weight: str, slant: str) -> float:
    if not text.strip():
        return 0.0
    if family == "mono":
        return mono_advance(points) * len(text)
    return _sans_width(text, points, weight, slant)


class Glyphs:
    """Collects text as outlines, one list per colour; :meth:`draw` adds one patch per colour."""

    def __init__(self) -> None:
        self.paths: dict[str, list[Path]] = {}

    def text(self, x: float, y: float, text: str, points: float = 9.0, *, family: str = "sans",
             weight: str = "normal", slant: str = "normal", ha: str = "left", va: str = "center",
             colour: str = "black") -> float:
        """Add one line of ``text`` anchored at (x, y) (inches, y down); returns its width in inches."""
        _check(family, ha, va, text)
        width = _width(text, points, family, weight, slant)
        if not width:
            return 0.0
        x0 = x - _HA[ha] * width
        base = y + (_digit_middle(family, points) if va == "center" else _VA_EM[va] * points / 72)
        paths = self.paths.setdefault(colour, [])
        if family == "sans":
            p = _line(text, points, weight, slant)
            paths.append(Path(p.vertices + (x0, base), p.codes))
            return width
        # One outline per string, not per character: a byte grid has a thousand characters, and every
        # Path object costs more than placing its vertices.
        advance = mono_advance(points)
        verts, codes = [], []
        for i, ch in enumerate(text):
            if ch != " ":
                g = _glyph(ch, points, weight, slant)
                if len(g.vertices):  # a control character has no outline
                    verts.append(g.vertices + (x0 + i * advance, base))
                    codes.append(g.codes)
        if verts:
            paths.append(Path(np.concatenate(verts), np.concatenate(codes)))
        return width

    def hex_bytes(self, x: np.ndarray, y: np.ndarray, values: np.ndarray, points: float,
                  colours: Sequence[str]) -> None:
        """Byte ``values[i]`` as two mono hex digits centred at (``x[i]``, ``y[i]``) (inches, y down), in
        ``colours[value]``: a byte grid's labels in one numpy gather, not a :meth:`text` call per byte
        (a 384-byte figure spent two thirds of its build in those calls; benchmarks/README.md, issue 10).
        The outlines are the ones :meth:`text` would place, vertex for vertex."""
        values = np.asarray(values, dtype=np.intp)
        if not len(values):
            return
        if len(colours) != 256:
            raise ParameterError(f"hex_bytes needs one colour per byte value (256); got {len(colours)}")
        table, table_codes, start, count = _hex_table(points)
        left = np.asarray(x, dtype=float) - mono_advance(points)  # two characters, centred
        base = np.asarray(y, dtype=float) + _digit_middle("mono", points)
        shade = np.asarray(colours, dtype=object)[values]
        for colour in dict.fromkeys(shade):
            pick = shade == colour
            v, n = values[pick], count[values[pick]]
            first = np.repeat(np.cumsum(n) - n, n)
            rows = np.arange(n.sum()) - first + np.repeat(start[v], n)
            offsets = np.repeat(np.stack([left[pick], base[pick]], 1), n, axis=0)
            self.paths.setdefault(colour, []).append(Path(table[rows] + offsets, table_codes[rows]))

    def draw(self, ax, zorder: float = 5) -> None:
        """Add the collected text to ``ax``, above the figure's shapes, and forget it."""
        for colour, paths in self.paths.items():
            if paths:
                # add_artist, not add_patch: no Bezier extents computed for autoscaling.
                ax.add_artist(PathPatch(Path.make_compound_path(*paths), facecolor=colour, edgecolor="none",
                                        lw=0, zorder=zorder))
        self.paths = {}
