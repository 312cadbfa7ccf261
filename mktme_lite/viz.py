"""Pictures the lessons share, each one a pure function from data to a figure with alt text.

Every function here returns a :class:`LessonFigure` (a matplotlib ``Figure``) whose
``mktme_alt`` attribute is a sentence describing *what the data shows*, computed from the
data itself ("the second grid differs from the first in block 2 only"), not a generic
caption. Nothing here displays anything or touches pyplot's global figure list, so a
figure never appears twice and a failed render never leaves a stray picture behind.

To put a picture in a notebook, hand it to :func:`show` (``mktme_lite.lesson.show`` is the
same function): it encodes a PNG, attaches the alt text as display metadata
(``{"image/png": {"alt": ...}}``) and as the ``text/plain`` fallback, and frees the figure.

The pictures:

``bytes_figure``      bytes as a heat map + hex grid, several panels (plaintext vs DRAM ...)
``line_changes``      which 64-byte lines differ between two DRAM dumps
``memory_map``        frames and the KeyID each one is used with
``alias_map``         which full addresses (KeyID included) reach which frame
``trace_timeline``    ``Machine.trace`` as a timeline
``claim_matrix``      which lesson runs which claim of the 2018 thread
``tme_boundary``      where plaintext ends and ciphertext begins (the TME threat model)

Text helpers: :func:`hexdump`, :func:`printable`, :func:`describe_bytes`,
:func:`differing_blocks`.
"""

from __future__ import annotations

import base64
import html as _html
import io
import os
import re
import textwrap
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import FancyArrowPatch, PathPatch, Rectangle
from matplotlib.path import Path
from matplotlib.textpath import TextPath
from matplotlib.transforms import Affine2D

from . import style
from .dump import BLOCK, LINE, changed_lines, describe_bytes, differing_blocks, hexdump, printable

__all__ = [
    "LessonFigure",
    "HTMLCard",
    "is_static",
    "show",
    "to_bundle",
    "hexdump",
    "printable",
    "describe_bytes",
    "differing_blocks",
    "changed_lines",
    "bytes_figure",
    "line_changes",
    "memory_map",
    "alias_map",
    "trace_timeline",
    "claim_matrix",
    "tme_boundary",
    "card",
]



# ----------------------------------------------------------------------------------------------
# Figures that carry their alt text, and how they reach the notebook
# ----------------------------------------------------------------------------------------------
class LessonFigure(Figure):
    """A matplotlib Figure with alt text.

    ``mktme_alt`` holds the alt text. If a learner leaves one as the last expression of a
    cell, Jupyter shows the PNG with its alt text instead of ``<Figure size ...>``.
    """

    mktme_alt: str = ""

    def _repr_mimebundle_(self, include=None, exclude=None):
        data, metadata = to_bundle(self)
        return data, metadata


def _new_figure(width: float, height: float, **kwargs) -> LessonFigure:
    style.apply()
    return LessonFigure(figsize=(width, height), layout="constrained", **kwargs)


@dataclass(frozen=True)
class HTMLCard:
    """A small block of HTML with a plain-text twin, for widgets that show text not pictures."""

    html: str
    text: str

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": self.html, "text/plain": self.text}


def is_static() -> bool:
    """True when no live front end is expected (``MKTME_STATIC=1``: CI, nbconvert, book builds)."""
    return os.environ.get("MKTME_STATIC", "").strip().lower() not in ("", "0", "false", "no")


def figure_png(fig: Figure) -> bytes:
    """Encode ``fig`` as PNG bytes (the only image format the course stores)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", pil_kwargs={"compress_level": 1})  # fast: 1/6 of the default cost
    return buf.getvalue()


def to_bundle(obj, alt: str | None = None) -> tuple[dict, dict]:
    """The (data, metadata) mime bundle for a figure, an :class:`HTMLCard` or a string.

    Figures become ``image/png`` with the alt text in the metadata and as ``text/plain``;
    a figure without alt text is refused, so a lesson cannot ship one by accident.
    """
    if isinstance(obj, Figure):
        alt = alt if alt is not None else getattr(obj, "mktme_alt", "")
        if not alt or not alt.strip():
            raise ValueError("every figure needs alt text: pass alt=... or set fig.mktme_alt")
        b64 = base64.b64encode(figure_png(obj)).decode("ascii")
        # Three forms of one picture. image/png carries the alt text in its metadata (what the
        # course convention asks for), but JupyterLab's nbconvert template ignores that metadata;
        # the text/html twin is an <img> with the alt attribute, which JupyterLab and nbconvert
        # both prefer to the PNG. text/plain is what a screen reader gets with no images at all.
        data = {
            "image/png": b64,
            "text/html": f'<img src="data:image/png;base64,{b64}" alt="{_html.escape(alt)}">',
            "text/plain": f"[Figure: {alt}]",
        }
        return data, {"image/png": {"alt": alt}}
    if isinstance(obj, HTMLCard):
        return {"text/html": obj.html, "text/plain": obj.text}, {}
    if isinstance(obj, str):
        return {"text/plain": obj}, {}
    raise TypeError(f"cannot show a {type(obj).__name__}; give a Figure, an HTMLCard or a str")


def show(obj, alt: str | None = None) -> None:
    """Display a figure (PNG + alt text), an :class:`HTMLCard` or text, and free the figure.

    Outside IPython (a plain script, the test suite) the bundle is built and discarded, so
    the same lesson code runs everywhere.
    """
    data, metadata = to_bundle(obj, alt)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython ships with every course environment
        return
    if get_ipython() is not None:
        display(data, raw=True, metadata=metadata)


def _block_phrase(blocks: Sequence[int]) -> str:
    if not blocks:
        return "no block"
    if len(blocks) == 1:
        return f"block {blocks[0]} only"
    return "blocks " + ", ".join(str(b) for b in blocks)


# ----------------------------------------------------------------------------------------------
# Bytes as a heat map + hex grid
# ----------------------------------------------------------------------------------------------
# Speed matters here: the DRAM probe redraws this figure on every widget update (budget 100 ms).
# A matplotlib Text costs about 0.5 ms to lay out and rasterise, and a grid needs ~90 of them
# (hex bytes, ASCII, addresses). So all monospace text is drawn as glyph outlines (TextPath,
# cached per character) merged into a few compound paths, everything sits on ONE axes whose
# data units are inches, and only titles and notes are real Text objects.
_MONO_PT = {"hex": 7.2, "ascii": 8.0, "label": 8.0}


@lru_cache(maxsize=None)
def _mono_glyph(ch: str, points: float) -> Path:
    """One character of the mono font, ``points`` tall, in inches, y pointing down."""
    path = TextPath((0, 0), ch, size=points / 72, prop=FontProperties(family=style.MONO))
    return path.transformed(Affine2D().scale(1, -1))


@lru_cache(maxsize=None)
def _mono_metrics(points: float) -> tuple[float, float]:
    """(advance of one character, height of a digit) in inches for the mono font."""
    prop = FontProperties(family=style.MONO)
    one = TextPath((0, 0), "0", size=points / 72, prop=prop)
    two = TextPath((0, 0), "00", size=points / 72, prop=prop)
    ext = one.get_extents()
    return two.get_extents().x1 - ext.x1, ext.y1


def _mono_text(paths: list, text: str, x: float, y: float, points: float, ha: str = "left") -> None:
    """Append the glyphs of ``text`` to ``paths``; (x, y) is the left/centre/right end, y the middle."""
    advance, height = _mono_metrics(points)
    if ha == "center":
        x -= advance * len(text) / 2
    elif ha == "right":
        x -= advance * len(text)
    y += height / 2
    for i, ch in enumerate(text):
        if ch != " ":
            g = _mono_glyph(ch, points)
            if len(g.vertices):
                paths.append(Path(g.vertices + (x + i * advance, y), g.codes))


@lru_cache(maxsize=512)
def _prose_path(text: str, points: float, weight: str = "normal", slant: str = "normal") -> Path:
    """A whole line of proportional text as one outline (cached: widget titles repeat)."""
    prop = FontProperties(family="DejaVu Sans", weight=weight, style=slant)
    path = TextPath((0, 0), text, size=points / 72, prop=prop)
    return path.transformed(Affine2D().scale(1, -1))


def _prose_text(paths: list, text: str, x: float, y_top: float, points: float, **font) -> None:
    """Append a line of text whose top is at ``y_top`` (inches, y down) and left end at ``x``."""
    if text.strip():
        p = _prose_path(text, points, **font)
        paths.append(Path(p.vertices + (x, y_top + 0.8 * points / 72), p.codes))


def _draw_paths(ax, paths: list, colour: str) -> None:
    if paths:
        # add_artist, not add_patch: no Bezier extents computed for autoscaling.
        ax.add_artist(PathPatch(Path.make_compound_path(*paths), facecolor=colour, edgecolor="none", lw=0))


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
    if not panels:
        raise ValueError("bytes_figure needs at least one (label, data) panel")
    if not isinstance(width, int) or width < 1:
        raise ValueError("width must be a positive int")
    if isinstance(mark_changed, bool):
        compared = set(range(1, len(panels))) if mark_changed else set()
    else:
        compared = {int(i) for i in mark_changed} - {0}
    bases = [int(p[2]) if len(p) > 2 else base for p in panels]
    panels = [(str(p[0]), bytes(p[1])) for p in panels]
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
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    dark: list = []  # glyph paths drawn in black
    light: list = []  # ... and in white (on dark cells)
    if title:
        _prose_text(dark, title, 0.08, 0.1, 11, weight="bold")
    y = head
    alt_parts = []
    for k, ((label, data), nrows, pbase) in enumerate(zip(panels, rows, bases)):
        _prose_text(dark, label, 0.08, y + 0.05, 9.5, weight="bold")
        y += label_h
        if k == 0:
            for c in range(width):
                _mono_text(dark, f"{c:x}", left + (c + 0.5) * cell_w, y + 0.07, _MONO_PT["label"], "center")
            y += heads_h
        n = len(data)
        grid = np.full(nrows * width, np.nan)
        grid[:n] = np.frombuffer(data, dtype=np.uint8)
        x1, y1 = left + width * cell_w, y + nrows * cell_h
        ax.imshow(grid.reshape(nrows, width), cmap=style.BYTE_CMAP, vmin=0, vmax=255, aspect="auto",
                  interpolation="nearest", extent=(left, x1, y1, y))
        marked: list[int] = []
        if k in compared and len(data) == len(first) and width == BLOCK:
            marked = differing_blocks(first, data)
        for r in range(nrows):
            cy = y + (r + 0.5) * cell_h
            _mono_text(dark, f"0x{pbase + r * width:0{digits}x}", left - 0.08, cy, _MONO_PT["label"], "right")
            if ascii_column:
                chunk = data[r * width : (r + 1) * width]
                tail = "  <- differs" if r in marked else ""
                _mono_text(dark, f"|{printable(chunk).ljust(width)}|{tail}", x1 + 0.15, cy, _MONO_PT["ascii"])
        if hex_labels:
            for i, b in enumerate(data):
                r, c = divmod(i, width)
                target = dark if style.text_color_for(b / 255) == "black" else light
                _mono_text(target, f"{b:02x}", left + (c + 0.5) * cell_w, y + (r + 0.5) * cell_h,
                           _MONO_PT["hex"], "center")
        if width == BLOCK:
            for r in range(LINE // BLOCK, nrows, LINE // BLOCK):  # a white rule between cache lines
                ax.plot([left, x1], [y + r * cell_h] * 2, color="white", linewidth=2.5)
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
        _prose_text(dark, line, 0.08, y + 0.04 + 0.18 * i, 8, weight="bold" if i == 0 else "normal",
                    slant="normal" if i == 0 else "italic")
    _draw_paths(ax, dark, "black")
    _draw_paths(ax, light, "white")
    ax.set_xlim(0, fig_w)
    ax.set_ylim(fig_h, 0)
    fig.mktme_alt = (
        (f"{title}. " if title else "")
        + f"{len(panels)} byte grid(s), {width} bytes per row, starting at address "
        + ", ".join(dict.fromkeys(f"{b:#x}" for b in bases)) + "; colour shows each "
        "byte's value. " + ". ".join(alt_parts) + "."
    )
    return fig


# ----------------------------------------------------------------------------------------------
# Which lines changed between two dumps
# ----------------------------------------------------------------------------------------------
def line_changes(before: bytes, after: bytes, *, base: int = 0, title: str | None = None,
                 per_row: int = 8) -> LessonFigure:
    """One box per 64-byte line: hatched and labelled "changed" where the dumps differ."""
    before, after = bytes(before), bytes(after)
    if len(before) != len(after) or len(before) % LINE or not before:
        raise ValueError("line_changes needs two dumps of the same length, a non-zero multiple of 64 bytes")
    n = len(before) // LINE
    changed = set(differing_blocks(before, after, LINE))
    rows = -(-n // per_row)
    fig = _new_figure(1.05 * per_row + 0.6, 0.62 * rows + (0.5 if title else 0.2))
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


# ----------------------------------------------------------------------------------------------
# Memory map: frames and their KeyIDs
# ----------------------------------------------------------------------------------------------
def memory_map(frames: Mapping[int, int | None], n_frames: int, *, frame_bytes: int = 4096, base_pa: int = 0,
               labels: Mapping[int, str] | None = None, title: str | None = None,
               per_row: int = 8) -> LessonFigure:
    """Frames as boxes; a frame in use is filled with its KeyID's colour *and* hatch and says "K1".

    ``frames`` maps a frame number (0 = the frame at ``base_pa``) to the KeyID it is used with,
    or None for a frame that is allocated without a KeyID of interest. Frames not in the
    mapping are drawn as free (white, dashed).
    """
    if not isinstance(n_frames, int) or n_frames < 1:
        raise ValueError("n_frames must be a positive int")
    labels = dict(labels or {})
    rows = -(-n_frames // per_row)
    fig = _new_figure(1.1 * per_row + 0.8, 0.75 * rows + (0.9 if title else 0.6))
    ax = fig.subplots()
    used: dict[int | None, int] = {}
    for f in range(n_frames):
        r, c = divmod(f, per_row)
        keyid = frames.get(f, "free") if f in frames else "free"
        if keyid == "free":
            ax.add_patch(Rectangle((c, -r), 0.92, 0.8, facecolor="white", edgecolor=style.OKABE_ITO["grey"],
                                   linestyle="--", linewidth=0.8))
            text = "free"
        else:
            used[keyid] = used.get(keyid, 0) + 1
            ax.add_patch(Rectangle((c, -r), 0.92, 0.8, facecolor=style.keyid_color(keyid),
                                   hatch=style.keyid_hatch(keyid), edgecolor="black", linewidth=0.8, alpha=0.85))
            text = style.keyid_label(keyid)
        ax.text(c + 0.46, -r + 0.58, f"{base_pa + f * frame_bytes:#x}", ha="center", va="center", fontsize=7,
                family=style.MONO, bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
        ax.text(c + 0.46, -r + 0.24, labels.get(f, text), ha="center", va="center", fontsize=8, fontweight="bold",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
    ax.set_xlim(-0.05, per_row)
    ax.set_ylim(-rows + 0.9, 0.85)
    ax.set_axis_off()
    if title:
        ax.set_title(title, loc="left")
    handles = [Rectangle((0, 0), 1, 1, facecolor=style.keyid_color(k), hatch=style.keyid_hatch(k), edgecolor="black",
                         label=style.keyid_label(k)) for k in sorted(used, key=lambda k: -1 if k is None else k)]
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="KeyID")
    summary = "; ".join(f"{n} frame(s) with {style.keyid_label(k)}" for k, n in
                        sorted(used.items(), key=lambda kv: -1 if kv[0] is None else kv[0]))
    free = n_frames - sum(used.values())
    fig.mktme_alt = ((f"{title}. " if title else "") + f"Memory map of {n_frames} frames of {frame_bytes} bytes "
                     f"from {base_pa:#x}: {summary or 'no frame in use'}; {free} free.")
    return fig


# ----------------------------------------------------------------------------------------------
# Alias map: which full addresses reach which frame
# ----------------------------------------------------------------------------------------------
_LINESTYLES = ["-", "--", ":", "-."]


def alias_map(aliases: Sequence[Mapping], *, title: str | None = None) -> LessonFigure:
    """Left: the names a CPU uses (a mapping, a full address with its KeyID). Right: DRAM frames.

    Each alias is a mapping with keys ``label`` (e.g. "user VA 0x7f00…"), ``keyid``, ``frame``
    (the physical address of the frame it reaches) and optionally ``note`` (e.g. "reads
    garbage"). Arrows take the KeyID's colour, a line style and a "K1" label, so they can be
    told apart without colour.
    """
    if not aliases:
        raise ValueError("alias_map needs at least one alias")
    frames = sorted({int(a["frame"]) for a in aliases})
    n_left, n_right = len(aliases), len(frames)
    height = max(n_left, n_right) * 0.75 + (0.8 if title else 0.4)
    fig = _new_figure(8.2, max(1.6, height))
    ax = fig.subplots()
    top = max(n_left, n_right)

    def y_of(i: int, n: int) -> float:
        return top - (i + 0.5) * top / n

    frame_y = {f: y_of(i, n_right) for i, f in enumerate(frames)}
    for f, y in frame_y.items():
        ax.add_patch(Rectangle((6.0, y - 0.28), 1.9, 0.56, facecolor="white", edgecolor="black", linewidth=1))
        ax.text(6.95, y, f"DRAM frame\n{f:#x}", ha="center", va="center", fontsize=8, family=style.MONO)
    parts = []
    for i, a in enumerate(aliases):
        y = y_of(i, n_left)
        keyid = a.get("keyid")
        ax.add_patch(Rectangle((0.0, y - 0.28), 2.9, 0.56, facecolor=style.keyid_color(keyid), alpha=0.35,
                               hatch=style.keyid_hatch(keyid), edgecolor="black", linewidth=1))
        ax.text(1.45, y, f"{a['label']}\n{style.keyid_label(keyid)}", ha="center", va="center", fontsize=8,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.8, "alpha": 0.85})
        fy = frame_y[int(a["frame"])]
        ls = _LINESTYLES[(keyid or 0) % len(_LINESTYLES)]
        ax.add_patch(FancyArrowPatch((2.95, y), (5.95, fy), arrowstyle="-|>", mutation_scale=12, linewidth=1.6,
                                     linestyle=ls, color=style.keyid_color(keyid)))
        note = a.get("note")
        mid = (4.45, (y + fy) / 2)
        label = style.keyid_label(keyid) + (f": {note}" if note else "")
        ax.text(*mid, label, ha="center", va="center", fontsize=7.5,
                bbox={"facecolor": "white", "edgecolor": style.keyid_color(keyid), "pad": 1.2})
        parts.append(f"{' '.join(str(a['label']).split())} with {style.keyid_label(keyid)} reaches frame "
                     f"{int(a['frame']):#x}"
                     + (f" ({note})" if note else ""))
    ax.set_xlim(-0.1, 8.0)
    ax.set_ylim(-0.05, top + 0.05)
    ax.set_axis_off()
    if title:
        ax.set_title(title, loc="left")
    fig.mktme_alt = (f"{title}. " if title else "") + f"Alias map: {n_left} alias(es), {n_right} frame(s). " + \
        "; ".join(parts) + "."
    return fig


# ----------------------------------------------------------------------------------------------
# The event trace as a timeline
# ----------------------------------------------------------------------------------------------
_KIND_ORDER = ["store", "load", "hit", "miss", "fill", "speculative_fill", "writeback", "evict", "invalidate",
               "clflush", "flush", "wbinvd", "dram_write", "pconfig"]


def trace_timeline(trace: Sequence, *, last: int | None = None, kinds: Iterable[str] | None = None,
                   hide: Iterable[str] = (), title: str | None = None) -> LessonFigure:
    """``Machine.trace`` drawn as time (event number) against event kind.

    One lane per event kind (named on the y axis), one marker per event (shape = kind, fill =
    KeyID colour), and the KeyID and address written next to each marker when there are few
    enough events to read them. ``last`` keeps the last N events; ``kinds`` keeps only those
    kinds; ``hide`` drops some (e.g. ``hide=("hit", "miss")``).
    """
    events = list(trace)
    if kinds is not None:
        keep = set(kinds)
        events = [e for e in events if e.kind in keep]
    hidden = set(hide)
    events = [e for e in events if e.kind not in hidden]
    if last is not None:
        events = events[-last:] if last > 0 else []
    present = [k for k in _KIND_ORDER if any(e.kind == k for e in events)]
    present += sorted({e.kind for e in events} - set(present))
    lane = {k: i for i, k in enumerate(reversed(present))}
    n = len(events)
    fig = _new_figure(min(11.0, max(5.5, 0.42 * n + 2.2)), 0.42 * max(1, len(present)) + 1.1)
    ax = fig.subplots()
    label_each = n <= 24
    # Write a KeyID / address / package next to each marker only where they vary; what every
    # event shares goes into the subtitle once.
    keyid_set = {e.keyid for e in events if e.keyid is not None}
    pa_set = {e.pa for e in events if e.pa is not None}
    pkg_set = {e.package for e in events if e.package is not None}
    common = []
    if len(keyid_set) == 1:
        common.append(f"KeyID {next(iter(keyid_set))}")
    if len(pa_set) == 1:
        common.append(f"address {next(iter(pa_set)):#x}")
    engine_word = {"fill": "decrypt", "writeback": "encrypt", "speculative_fill": "decrypt"}
    for x, e in enumerate(events):
        color, marker = style.event_style(e.kind)
        face = style.keyid_color(e.keyid) if e.keyid is not None else "white"
        ax.scatter([x], [lane[e.kind]], marker=marker, s=70, facecolor=face, edgecolor="black", linewidth=0.8,
                   zorder=3)
        if label_each:
            parts = []
            if e.package is not None and len(pkg_set) > 1:
                parts.append(f"P{e.package}")
            if e.keyid is not None and len(keyid_set) > 1:
                parts.append(style.keyid_label(e.keyid))
            if e.pa is not None and len(pa_set) > 1:
                parts.append(f"{e.pa:#x}")
            if parts:
                ax.text(x, lane[e.kind] + 0.25, " ".join(parts), ha="center", va="bottom", fontsize=6.5,
                        family=style.MONO, rotation=30 if len(parts) > 1 else 0)
            if e.kind in engine_word:
                ax.text(x, lane[e.kind] - 0.27, engine_word[e.kind], ha="center", va="top", fontsize=7,
                        style="italic")
    ax.set_yticks(list(lane.values()), list(lane.keys()), family=style.MONO)
    ax.set_xlim(-0.7, max(n, 1) - 0.3)
    ax.set_ylim(-0.75, max(len(present), 1) - 0.1 + (0.55 if label_each else 0))
    ax.set_xticks(range(n), [str(e.seq) for e in events] if n <= 40 else [""] * n, fontsize=7)
    ax.set_xlabel("event number (time →)")
    ax.grid(axis="y", color="#dddddd", linewidth=0.6, zorder=0)
    keyids = sorted({e.keyid for e in events if e.keyid is not None})
    if keyids:
        handles = [ax.scatter([], [], marker="o", s=50, facecolor=style.keyid_color(k), edgecolor="black",
                              label=style.keyid_label(k)) for k in keyids]
        ax.legend(handles=handles, title="marker colour = KeyID", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if title or common:
        sub = f"every event: {', '.join(common)}" if common else ""
        ax.set_title((title or "") + ("\n" if title and sub else "") + sub, loc="left")
    order = ", ".join(e.kind for e in events[:30]) + (", …" if n > 30 else "")
    counts = {k: sum(e.kind == k for e in events) for k in present}
    fig.mktme_alt = ((f"{title}. " if title else "") + f"Timeline of {n} events"
                     + (f" (every event: {', '.join(common)})" if common else "") + f". In order: {order or 'none'}. "
                     "Counts: " + (", ".join(f"{v} {k}" for k, v in counts.items()) or "none") + ".")
    return fig


# ----------------------------------------------------------------------------------------------
# Which lesson runs which claim
# ----------------------------------------------------------------------------------------------
def claim_matrix(claims: Sequence[tuple[str, str]], lessons: Sequence[tuple[str, str]],
                 covers: Mapping[str, Sequence[str]], *, highlight: str | None = None,
                 title: str | None = None) -> LessonFigure:
    """Rows = claims (id, short text), columns = lessons (number, short title), ● where covered.

    ``covers`` maps a claim id to the lesson numbers that run it. ``highlight`` frames one
    claim's row and writes "◀ selected" next to it.
    """
    ids = [c for c, _ in claims]
    if highlight is not None and highlight not in ids:
        raise ValueError(f"unknown claim {highlight!r}; claims are {', '.join(ids)}")
    cols = [l for l, _ in lessons]
    fig = _new_figure(0.62 * len(cols) + 5.6, 0.36 * len(ids) + 1.5)
    ax = fig.subplots()
    nrows = len(ids)
    for r, (cid, text) in enumerate(claims):
        y = nrows - 1 - r
        strong = cid == highlight
        if strong:
            ax.add_patch(Rectangle((-0.5, y - 0.45), len(cols), 0.9, facecolor=style.OKABE_ITO["yellow"], alpha=0.45,
                                   edgecolor="black", linewidth=1.5, hatch="..", zorder=0))
        short = text if len(text) <= 52 else text[:51] + "…"
        ax.text(-0.7, y, f"{cid}  {short}", ha="right", va="center", fontsize=8,
                fontweight="bold" if strong else "normal")
        for lesson in covers.get(cid, ()):
            if lesson in cols:
                ax.scatter([cols.index(lesson)], [y], s=90, marker="o", color=style.OKABE_ITO["blue"],
                           edgecolor="black", zorder=3)
        if strong:
            ax.text(len(cols) - 0.3, y, "◀ selected", ha="left", va="center", fontsize=8, fontweight="bold")
    ax.set_xticks(range(len(cols)), [f"{l}\n{textwrap.fill(t, 12)}" for l, t in lessons], fontsize=7.5, va="bottom")
    ax.xaxis.tick_top()
    ax.set_yticks([])
    ax.set_xlim(-0.5, len(cols) - 0.5)
    ax.set_ylim(-0.6, nrows - 0.4)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.tick_params(length=0)
    if title:
        ax.set_title(title, loc="left")
    parts = [f"{cid} in lesson(s) {', '.join(covers.get(cid, ())) or 'none'}" for cid in ids]
    fig.mktme_alt = ((f"{title}. " if title else "") + "Matrix of claims (rows) against lessons (columns); a dot "
                     "marks the lesson that runs the claim: " + "; ".join(parts) + "."
                     + (f" Claim {highlight} is highlighted." if highlight else ""))
    return fig


# ----------------------------------------------------------------------------------------------
# The TME threat model as a picture
# ----------------------------------------------------------------------------------------------
def tme_boundary(*, title: str | None = "Where TME encrypts") -> LessonFigure:
    """The SoC package (plaintext inside) and the memory bus and DIMMs (ciphertext outside)."""
    fig = _new_figure(9.0, 3.5)
    ax = fig.subplots()
    ok = style.OKABE_ITO
    # Package boundary.
    ax.add_patch(Rectangle((0.1, 0.5), 5.9, 2.6, fill=False, edgecolor="black", linewidth=1.6, linestyle="--"))
    ax.text(0.25, 2.95, "CPU package (SoC): data is PLAINTEXT here", fontsize=9, fontweight="bold", va="top")

    def box(x, y, w, h, text, face, hatch=""):
        ax.add_patch(Rectangle((x, y), w, h, facecolor=face, hatch=hatch, edgecolor="black", linewidth=1, alpha=0.9))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=8.5,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0, "alpha": 0.85})

    box(0.35, 1.35, 1.3, 0.9, "cores,\nregisters", ok["yellow"])
    box(1.95, 1.35, 1.3, 0.9, "caches\n(plaintext)", ok["yellow"])
    box(3.55, 1.35, 2.2, 0.9, "memory controller\nAES-XTS engine\n(key: CPU-made)", ok["sky_blue"])
    box(7.0, 1.35, 1.8, 0.9, "DIMMs\n(CIPHERTEXT)", ok["blue"], hatch="//")
    for x0, x1 in ((1.65, 1.95), (3.25, 3.55), (5.75, 7.0)):
        ax.add_patch(FancyArrowPatch((x0, 1.8), (x1, 1.8), arrowstyle="<|-|>", mutation_scale=10, linewidth=1.2))
    ax.text(6.38, 2.0, "memory bus", ha="center", fontsize=8)
    # Attackers.
    ax.text(7.9, 0.85, "✔ defended: cold boot (DIMM removed),\n   bus probe / interposer", ha="center", va="top",
            fontsize=8)
    ax.text(3.0, 0.95, "✘ not defended: the kernel and any code that runs here,\n"
            "   cache side channels, replay or tampering (no integrity)", ha="center", va="top", fontsize=8)
    ax.set_xlim(0, 9.0)
    ax.set_ylim(0, 3.2)
    ax.set_axis_off()
    if title:
        ax.set_title(title, loc="left")
    fig.mktme_alt = ("Diagram of the TME threat model. Inside the dashed CPU package boundary, cores, registers and "
                     "caches hold plaintext; the memory controller's AES-XTS engine, with a key the CPU generated, "
                     "encrypts every line on its way to the DIMMs, which hold only ciphertext. Defended: cold boot and "
                     "bus probes outside the package. Not defended: the kernel and code running inside the package, "
                     "cache side channels, replay or tampering, because there is no integrity.")
    return fig


def card(title: str, rows: Sequence[tuple[str, str]], *, footer: str | None = None) -> HTMLCard:
    """An :class:`HTMLCard` with a heading and label/value rows (values may contain inline HTML links)."""
    esc = _html.escape
    body = "".join(f"<tr><th style='text-align:left;vertical-align:top;padding-right:1em'>{esc(k)}</th>"
                   f"<td style='text-align:left'>{v}</td></tr>" for k, v in rows)
    foot = f"<p style='margin:0.4em 0 0 0'><em>{footer}</em></p>" if footer else ""
    html = (f"<div class='mktme-card' style='border:1px solid #999;border-left:6px solid {style.OKABE_ITO['blue']};"
            f"padding:0.5em 0.8em;max-width:48em'><p style='margin:0 0 0.3em 0'><strong>{esc(title)}</strong></p>"
            f"<table>{body}</table>{foot}</div>")
    def plain(s: str) -> str:
        s = re.sub(r"<a href='([^']*)'>([^<]*)</a>", r"\2 [\1]", s)
        return _html.unescape(re.sub(r"<[^>]+>", "", s))

    text = "\n".join([title] + [f"  {k}: {plain(v)}" for k, v in rows] + ([plain(footer)] if footer else []))
    return HTMLCard(html, text)
