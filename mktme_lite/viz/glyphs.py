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
  advance, from a cache of single glyphs: any string is cheap, and a column of hex lines up
  because every string's width is ``len(text)`` advances.
* ``family="sans"`` (titles, labels, notes) is one outline per whole line, cached per string,
  so kerning is kept; its width is measured from the outline.

Anchors: ``ha`` is ``left``, ``center`` or ``right``; ``va`` is ``top``, ``center`` (the middle
of a digit is at ``y``), ``bottom`` or ``baseline``.
"""

from __future__ import annotations

from functools import lru_cache

from matplotlib.font_manager import FontProperties
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


@lru_cache(maxsize=1024)
def _line(text: str, points: float, weight: str, slant: str) -> Path:
    """A whole line of sans text as one outline, in inches, y down (cached: widget titles repeat)."""
    return TextPath((0, 0), text, size=points / 72, prop=_font("sans", weight, slant)).transformed(_FLIP)


@lru_cache(maxsize=1024)
def _sans_width(text: str, points: float, weight: str, slant: str) -> float:
    # Spaces count as wide as an "n": the budget figure's labels were laid out with this width.
    # The rightmost vertex, not Path.get_extents(): that walks every Bezier segment in Python (5-50 ms
    # for one line, paid by every new string a widget draws); a glyph's rightmost point is an on-curve
    # vertex in DejaVu Sans, so both give the same width (benchmarks/bench_browser.py, widget speed).
    return float(TextPath((0, 0), text.replace(" ", "n"), size=points / 72,
                          prop=_font("sans", weight, slant)).vertices[:, 0].max())


def _check(family: str, ha: str, va: str, text: object) -> None:
    if family not in FAMILIES:
        raise ParameterError(f"unknown font family {family!r}; choose one of {', '.join(FAMILIES)}")
    if ha not in _HA:
        raise ParameterError(f"unknown horizontal anchor ha={ha!r}; choose one of {', '.join(_HA)}")
    if va not in _VA:
        raise ParameterError(f"unknown vertical anchor va={va!r}; choose one of {', '.join(_VA)}")
    if not isinstance(text, str) or "\n" in text:
        raise ParameterError(f"figure text must be one line of str; got {text!r:.40}: draw each line on its own")


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
        advance = mono_advance(points)
        for i, ch in enumerate(text):
            if ch != " ":
                g = _glyph(ch, points, weight, slant)
                if len(g.vertices):  # a control character has no outline
                    paths.append(Path(g.vertices + (x0 + i * advance, base), g.codes))
        return width

    def draw(self, ax, zorder: float = 5) -> None:
        """Add the collected text to ``ax``, above the figure's shapes, and forget it."""
        for colour, paths in self.paths.items():
            if paths:
                # add_artist, not add_patch: no Bezier extents computed for autoscaling.
                ax.add_artist(PathPatch(Path.make_compound_path(*paths), facecolor=colour, edgecolor="none",
                                        lw=0, zorder=zorder))
        self.paths = {}
