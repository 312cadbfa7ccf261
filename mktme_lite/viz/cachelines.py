"""Cache lines and the frame's DRAM as a table, and corruption rates as a plot.

How a lesson or a widget calls them::

    from mktme_lite.viz.cachelines import cache_state, corruption_plot

    card = cache_state(
        [[{"hpa": 0x40_0000_4000, "pa": 0x4000, "keyid": 1, "dirty": True, "speculative": False,
           "data": b"...", "who": "alice"}], []],                 # one list of lines per package
        [{"line": 0, "pa": 0x4000, "stored": b"...", "views": {"K1 (alice)": b"...", "K2 (bob)": b"..."}}],
        title="Step 1: alice writes line 0", events=["#1 P0 store pa=0x4000 keyid=1 64 B"])
    fig = corruption_plot([{"sweep": "cache", "x": 1024, "fraction": 0.5, "runs": 20}, ...])

:func:`cache_state` is an :class:`~mktme_lite.viz.HTMLCard`: every cache line of every package with its
full address, its KeyID written out, its state as a glyph *and* a word (``● dirty``, ``○ clean``,
``◌ clean, speculative``) and its 64 bytes as text, then the frame's lines in DRAM (the ciphertext
and what a fill through each KeyID would bring). Colour only repeats what the words say (a KeyID's
Okabe-Ito colour on the row's left edge). The plain-text twin says all of it, for a screen reader.

:func:`corruption_plot` draws the fraction of seeded runs that lost data along each sweep, one panel
per sweep, every point labelled with its value; its alt text lists every number.

Layer: pictures; imports the base layer, ``style`` and ``viz`` only (it draws plain data).
"""

from __future__ import annotations

import html as _html
from typing import Mapping, Sequence

from .. import style
from ..dump import LINE, describe_bytes, printable
from ..errors import ParameterError
from ..params import flag, shown, whole
from .figure import HTMLCard, LessonFigure, new_figure

__all__ = ["STATE_GLYPHS", "state_word", "line_text", "cache_state", "corruption_plot"]

#: A line's state as a glyph and a word; the glyph alone is never the only carrier.
STATE_GLYPHS = {
    "dirty": ("●", "dirty (Modified): will be written back"),
    "clean": ("○", "clean (Shared): dropped without a write-back"),
    "speculative": ("◌", "clean, filled speculatively: dropped without a write-back"),
}

_LINE_KEYS = ("hpa", "pa", "keyid", "dirty", "speculative", "data")


def state_word(line: Mapping) -> str:
    """``"dirty"``, ``"speculative"`` or ``"clean"`` for a cache line mapping."""
    if line["dirty"]:
        return "dirty"
    return "speculative" if line["speculative"] else "clean"


def line_text(data: bytes, wrap: bool = False) -> str:
    """64 bytes as four 16-character groups of text (``.`` for unprintable), or ``zeros``; ``wrap`` puts
    two groups on each of two lines (for narrow table cells)."""
    if not any(data):
        return "zeros (64 × 00)"
    text = printable(data)
    groups = [text[i:i + 16] for i in range(0, len(text), 16)]
    if wrap:
        return "\n".join(" ".join(groups[i:i + 2]) for i in range(0, len(groups), 2))
    return " ".join(groups)


def _check_line(line, where: str) -> None:
    if not isinstance(line, Mapping) or any(k not in line for k in _LINE_KEYS):
        raise ParameterError(f"{where} must be a mapping with {', '.join(_LINE_KEYS)}; got {shown(line)}")
    if line["data"] is None:  # hidden (a prediction is still open)
        return
    if not isinstance(line["data"], (bytes, bytearray)) or len(line["data"]) != LINE:
        raise ParameterError(f"{where}: data must be the line's 64 bytes (or None: hidden)")


#: What a hidden value (``None``) is drawn as.
HIDDEN = "hidden until you predict"


def _shown_text(data, wrap: bool = True) -> str:
    return HIDDEN if data is None else line_text(bytes(data), wrap=wrap)


def _described(data) -> str:
    return HIDDEN if data is None else describe_bytes(bytes(data))


def _keyid_cell(keyid: int, who: str) -> tuple[str, str]:
    label = f"K{keyid}" + (f" ({who})" if who else "")
    colour = style.keyid_color(keyid)
    return label, (f"<span style='border-left:6px solid {colour};padding-left:0.35em'>"
                   f"{_html.escape(label)}</span>")


_TD = "<td style='padding:0.1em 0.5em;vertical-align:top;text-align:left'>"
_TH = "<th style='padding:0.1em 0.5em;text-align:left;border-bottom:1px solid #999'>"


def _hex_two_rows(data: bytes) -> str:
    """Up to 16 bytes as hex, 8 to a row: the DRAM table then fits a notebook beside the file browser
    (one row of 16 made its last column, the one a learner reads, scroll out of sight)."""
    return "\n".join(data[i:i + 8].hex(" ") for i in range(0, len(data), 8)) or "(none)"


def _code(text: str) -> str:
    return f"<code style='white-space:pre'>{_html.escape(text)}</code>"


def cache_state(caches: Sequence[Sequence[Mapping]], dram: Sequence[Mapping], *, title: str,
                events: Sequence[str] = (), note: str = "", read: str = "", read_strong: bool = False,
                highlight: int | None = None) -> HTMLCard:
    """Every cache line of every package, then the frame's DRAM lines, as one card.

    ``caches``: per package, a list of line mappings (``hpa``, ``pa``, ``keyid``, ``dirty``,
    ``speculative``, ``data`` and optionally ``who``, the owner's name, and ``line``, the index in the
    frame). ``dram``: mappings with ``line``, ``pa``, ``stored`` (the ciphertext) and ``views`` (label
    -> the 64 bytes a fill through that KeyID would bring). ``events`` are the trace lines of the
    step; ``read`` a sentence about what a load returned; ``highlight`` the frame line the step is
    about (its rows are marked ``◀``). A line's ``data``, a row's ``stored`` or one of its views that
    is ``None`` is drawn as :data:`HIDDEN` (the stepper's predict mode hides what would give a read
    away)."""
    if not isinstance(title, str) or not title.strip():
        raise ParameterError(f"title must be a non-empty str; got {shown(title)}")
    for value, what in ((note, "note"), (read, "read")):
        if not isinstance(value, str):
            raise ParameterError(f"{what} must be a str (a sentence, or empty); got {shown(value)}")
    read_strong = flag(read_strong, "read_strong")
    if highlight is not None:
        highlight = whole(highlight, "highlight (a line of the frame, or None)", 0)
    if isinstance(events, (str, bytes)) or not isinstance(events, Sequence) or not all(
            isinstance(e, str) for e in events):
        raise ParameterError(f"events must be a list of trace lines (str); got {shown(events)}")
    if isinstance(caches, (str, bytes)) or not isinstance(caches, Sequence):
        raise ParameterError(f"caches must be a list with one list of lines per package; got {shown(caches)}")
    parts = [f"<div class='mktme-cache-state' role='group' aria-label='{_html.escape(title, quote=True)}' "
             "style='font-size:0.88em;max-width:72em'>",
             f"<p style='margin:0 0 0.3em 0'><strong>{_html.escape(title)}</strong></p>"]
    text = [title]
    if events:
        shown_events = list(events)[:12]
        more = len(events) - len(shown_events)
        parts.append("<p style='margin:0.2em 0'>Events of this step: "
                     + ", ".join(_code(e) for e in shown_events) + (f" … and {more} more" if more else "") + "</p>")
        text.append("Events of this step: " + "; ".join(shown_events) + (f"; and {more} more" if more else ""))
    if read:
        body = _html.escape(read)
        parts.append(f"<p style='margin:0.2em 0;border-left:5px solid {style.OKABE_ITO['vermillion']};"
                     f"padding-left:0.4em'>{'<strong>' + body + '</strong>' if read_strong else body}</p>")
        text.append(read)
    for p, lines in enumerate(caches):
        if isinstance(lines, (str, bytes)) or not isinstance(lines, Sequence):
            raise ParameterError(f"caches[{p}] must be a list of lines; got {shown(lines)}")
        for i, line in enumerate(lines):
            _check_line(line, f"caches[{p}][{i}]")
        heading = f"Package {p} cache: {len(lines)} line(s)"
        text.append(heading + (":" if lines else " (empty)."))
        parts.append(f"<p style='margin:0.5em 0 0.1em 0'><strong>{_html.escape(heading)}</strong></p>")
        if not lines:
            parts.append("<p style='margin:0 0 0 1em'><em>empty</em></p>")
            continue
        parts.append("<table style='border-collapse:collapse'><thead><tr>" + "".join(
            f"{_TH}{h}</th>" for h in ("full address (KeyID bits included)", "line", "KeyID", "state",
                                      "64 bytes as text")) + "</tr></thead><tbody>")
        for line in lines:
            word = state_word(line)
            glyph, meaning = STATE_GLYPHS[word]
            label, keyid_html = _keyid_cell(line["keyid"], line.get("who", ""))
            index = line.get("line", -1)
            where = f"{index}" if index is not None and index >= 0 else "other"
            mark = " ◀" if highlight is not None and index == highlight else ""
            data = _shown_text(line["data"])
            parts.append(f"<tr>{_TD}{_code(format(line['hpa'], '#x'))}{mark}</td>{_TD}{where}</td>{_TD}{keyid_html}"
                         f"</td>{_TD}{glyph} {word}</td>{_TD}{_code(data)}</td></tr>")
            text.append(f"  {line['hpa']:#x}{mark} line {where}, {label}, {glyph} {meaning}: "
                        f"{_described(line['data'])}")
        parts.append("</tbody></table>")
    text.append("The frame in DRAM:")
    parts.append("<p style='margin:0.5em 0 0.1em 0'><strong>The frame in DRAM</strong> (the DIMM holds "
                 "ciphertext; the columns to its right say what a fill through each KeyID would bring now)</p>")
    if isinstance(dram, (str, bytes)) or not isinstance(dram, Sequence):
        raise ParameterError(f"dram must be a list of DRAM rows; got {shown(dram)}")
    for row in dram:
        if not isinstance(row, Mapping) or not {"line", "pa", "stored", "views"} <= set(row):
            raise ParameterError(f"each DRAM row must have line, pa, stored and views; got {shown(row)}")
    labels = list(dram[0]["views"]) if dram else []
    parts.append("<table style='border-collapse:collapse'><thead><tr>" + "".join(
        f"{_TH}{_html.escape(h)}</th>" for h in ["line", "address", "stored (first 16 bytes, hex)"]
        + [f"a fill through {v}" for v in labels]) + "</tr></thead><tbody>")
    for row in dram:
        mark = " ◀" if highlight is not None and row["line"] == highlight else ""
        stored = row["stored"]
        cells = [str(row["line"]) + mark, _code(f"{row['pa']:#x}"),
                 _code(HIDDEN if stored is None else _hex_two_rows(bytes(stored)[:16]))]
        cells += [_code(_shown_text(v)) for v in row["views"].values()]
        parts.append("<tr>" + "".join(f"{_TD}{c}</td>" for c in cells) + "</tr>")
        views = "; ".join(f"through {k}: {_described(v)}" for k, v in row["views"].items())
        text.append(f"  line {row['line']}{mark} at {row['pa']:#x}: stored {_described(stored)}; {views}")
    parts.append("</tbody></table>")
    legend = " · ".join(f"{g} {w}" for w, (g, _) in STATE_GLYPHS.items())
    parts.append(f"<p style='margin:0.4em 0 0 0'><em>{_html.escape(legend)}. ◀ marks the line this step is about."
                 + (f" {_html.escape(note)}" if note else "") + "</em></p></div>")
    text.append(legend + ". ◀ marks the line this step is about." + (f" {note}" if note else ""))
    return HTMLCard("".join(parts), "\n".join(text))


#: sweep -> (axis label, marker); labels wrapped in two lines so a 3.6-inch panel holds them whole
_SWEEPS = {"cache": ("cache per package (bytes)", "o"), "dirty": ("fraction of the region\nleft dirty", "s"),
           "delay": ("background steps between\nremap and bob's writes", "^")}


def corruption_plot(points: Sequence[Mapping], *, title: str = "", reference: str = "") -> LessonFigure:
    """One panel per sweep (``cache``, ``dirty``, ``delay``): the fraction of runs that lost data
    against the swept value. ``points`` are mappings with ``sweep``, ``x``, ``fraction`` and ``runs``.
    ``reference`` is a sentence added to the alt text (e.g. what the base point was)."""
    if isinstance(points, (str, bytes)) or not isinstance(points, Sequence) or not points:
        raise ParameterError(f"points must be a non-empty list of mappings; got {shown(points)}")
    for value, what in ((title, "title"), (reference, "reference")):
        if not isinstance(value, str):
            raise ParameterError(f"{what} must be a str (or empty); got {shown(value)}")
    sweeps: dict[str, list] = {}
    for i, pt in enumerate(points):
        if not isinstance(pt, Mapping) or pt.get("sweep") not in _SWEEPS or not {"x", "fraction", "runs"} <= set(pt):
            raise ParameterError(f"point {i} needs sweep (one of {', '.join(_SWEEPS)}), x, fraction and runs; "
                                 f"got {shown(pt)}")
        frac = pt["fraction"]
        if isinstance(frac, bool) or not isinstance(frac, (int, float)) or not 0 <= frac <= 1:
            raise ParameterError(f"point {i}: fraction must be a number from 0 to 1; got {shown(frac)}")
        if isinstance(pt["x"], bool) or not isinstance(pt["x"], (int, float)) or pt["x"] != pt["x"]:
            raise ParameterError(f"point {i}: x must be a number; got {shown(pt['x'])}")
        whole(pt["runs"], f"point {i}: runs", 1)
        sweeps.setdefault(pt["sweep"], []).append(pt)
    names = [s for s in _SWEEPS if s in sweeps]
    fig = new_figure(3.6 * len(names) + 0.4, 3.2)
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    alt = [title + "." if title else "", "Fraction of seeded runs that lost data."]
    for ax, name in zip(axes, names):
        label, marker = _SWEEPS[name]
        pts = sorted(sweeps[name], key=lambda p: p["x"])
        xs = [p["x"] for p in pts]
        ys = [p["fraction"] for p in pts]
        ax.plot(range(len(xs)), ys, marker=marker, color=style.OKABE_ITO["vermillion"], linewidth=1.2,
                markerfacecolor="white", markersize=7)
        for j, (x, y) in enumerate(zip(xs, ys)):
            ax.annotate(f"{y:.0%}", (j, y), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=8)
        ax.set_xticks(range(len(xs)), [_fmt(name, x) for x in xs], fontsize=8)
        ax.set_ylim(-0.05, 1.15)
        ax.set_ylabel("runs that lost data")
        ax.set_xlabel(label)
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
        alt.append(f"Against {label.replace(chr(10), ' ')}: " + ", ".join(f"{_fmt(name, x)} → {y:.0%}" for x, y in zip(xs, ys))
                   + f" (of {pts[0]['runs']} runs each).")
    if title:
        fig.suptitle(title, x=0.02, ha="left", fontsize=10.5, fontweight="bold")
    if reference:
        alt.append(reference)
    fig.mktme_alt = " ".join(a for a in alt if a)
    return fig


def _fmt(sweep: str, x) -> str:
    if sweep == "cache":
        return f"{x // 1024} KiB" if x >= 1024 and x % 1024 == 0 else f"{x} B"
    if sweep == "dirty":
        return f"{x:.0%}"
    return str(x)
