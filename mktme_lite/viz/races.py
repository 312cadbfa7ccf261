"""Lesson 06's pictures: how every interleaving of a race ends, and one of them step by step.

How a lesson calls them::

    from mktme_lite import viz
    from mktme_lite.scenarios import races

    s = races.SCENARIOS["rotate_unsafe"]
    viz.show(viz.outcome_histogram([races.explored(s, scope) for scope in ("home", "writer", "platform")]))
    g = races.explored(s, "home").first_bad()
    steps = races.replay(s, g.example, "home")
    viz.show(viz.replay_timeline(steps, [t.name for t in s.threads], at=8))

``outcome_histogram`` draws one bar per outcome group: its length is the share of interleavings
that end there, and each bar says OK or BAD three ways (the word, a hatch for BAD, a colour) and
its count. ``replay_timeline`` draws the threads as lanes (columns) and the steps in order (rows,
time going down), each row with the op it ran and, when the step wrote a line back to DRAM, which
package's key table sealed it and with which key; beside it, the state after the chosen step: the
events of that step, every cached line, what DRAM holds and the key tables. ``race_figure``
puts both in one picture for the race explorer widget.

The functions read the explorer's results by their attributes (``Exploration.groups``,
``Group.count`` / ``ok`` / ``summary``, ``Step.what`` / ``events`` / ``lines`` / ``dram`` /
``tables``), so this module imports nothing from the scenarios layer. All text is drawn as
cached outlines (:mod:`~mktme_lite.viz.glyphs`), which keeps a redraw in tens of milliseconds.
"""

from __future__ import annotations

import re
from typing import Sequence

from matplotlib.patches import Rectangle

from .. import style
from ..errors import ParameterError
from ..params import shown, text_bytes, whole
from .figure import Inches, LessonFigure
from .glyphs import Glyphs, text_width

__all__ = ["outcome_histogram", "replay_timeline", "race_figure", "OK_STYLE", "BAD_STYLE"]

#: How a correct and a wrong outcome are drawn: colour, hatch and the word, always all three.
OK_STYLE = {"color": style.OKABE_ITO["bluish_green"], "hatch": "", "word": "OK"}
BAD_STYLE = {"color": style.OKABE_ITO["vermillion"], "hatch": "xxx", "word": "BAD"}

_W = 10.4  # figure width, inches
_SPLIT = 7.35  # where the state panel starts
_PAD = 0.25
_ROW = 0.205  # one timeline step
_BAR_ROW = 0.27  # one histogram bar
_SMALL, _TEXT, _HEAD = 7.2, 8.0, 9.5
_GREY = "#777777"
_HIGHLIGHT = style.OKABE_ITO["yellow"]


def _fit(text: str, points: float, width: float, family: str = "sans", weight: str = "normal") -> str:
    """``text`` cut (with an ellipsis) to fit ``width`` inches, measured in the weight it is drawn in."""
    if text_width(text, points, family=family, weight=weight) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if text_width(text[:mid] + "…", points, family=family, weight=weight) <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "…"


def _wrap(text: str, points: float, width: float, max_lines: int = 3, weight: str = "normal") -> list[str]:
    words, lines, cur = text.split(), [], ""
    for word in words:
        trial = f"{cur} {word}".strip()
        if cur and text_width(trial, points, weight=weight) > width:
            lines.append(cur)
            cur = word
        else:
            cur = trial
    if cur:
        lines.append(cur)
    if len(lines) > max_lines:
        lines = lines[:max_lines - 1] + [_fit(" ".join(lines[max_lines - 1:]), points, width, weight=weight)]
    return lines


def _explorations(explorations) -> list:
    items = [explorations] if hasattr(explorations, "groups") else explorations
    try:
        items = list(items)
    except TypeError:
        items = None
    if not items or not all(hasattr(e, "groups") and hasattr(e, "interleavings") for e in items):
        raise ParameterError("give one races.Exploration (what races.explore() returns) or a non-empty list of "
                             f"them; got {shown(explorations)}")
    if len(items) > 4:
        raise ParameterError(f"at most 4 explorations fit in one histogram; got {len(items)}")
    return items


def _pct(n: int, total: int) -> str:
    share = 100 * n / total if total else 0.0
    return f"{share:.0f} %" if share >= 1 or share == 0 else "<1 %"


def _group_text(g) -> str:
    word = OK_STYLE["word"] if g.ok else BAD_STYLE["word"]
    return f"{word}: {getattr(g, 'summary', None) or g.label}"


# --------------------------------------------------------------------------- the histogram
_LABEL_W = 5.55  # the labels' column, inches; a label longer than one line wraps, and its row grows
_BAR_X = _PAD + 5.7
_LINE = 0.13  # one wrapped label line, inches (7.2 pt text)
_MAX_LABEL_LINES = 6


def _label_lines(i: int, gr) -> list[str]:
    """Group ``i``'s whole label, wrapped to the labels' column (measured with the figure's own glyphs)."""
    return _wrap(f"{i}. {_group_text(gr)}", _SMALL, _LABEL_W, max_lines=_MAX_LABEL_LINES, weight=_weight(gr))


def _weight(gr) -> str:
    return "normal" if gr.ok else "bold"


def _row_height(lines: list[str]) -> float:
    return max(_BAR_ROW, _BAR_ROW + _LINE * (len(lines) - 1))


def _histogram_height(ex) -> float:
    return 0.32 + sum(_row_height(_label_lines(i, gr)) for i, gr in enumerate(ex.groups)) + 0.12


def _count_text(gr, ex, replayed: bool) -> str:
    return f"{gr.count} ({_pct(gr.count, ex.interleavings)})" + ("  ◀ replayed" if replayed else "")


def _draw_histogram(ax, g: Glyphs, patches: list, y: float, ex, highlight: int | None) -> float:
    """One panel: a heading and one bar per group, from ``y`` down; returns the y below it.

    Every label is drawn whole (wrapped over as many lines as it needs, up to six), and the longest
    count text sets how long a full bar may be, so nothing runs past the figure's right edge."""
    bad_n = sum(gr.count for gr in ex.groups if not gr.ok)
    verdict = ("SAFE: every interleaving ends OK" if bad_n == 0 else
               f"{bad_n} of {ex.interleavings} interleavings BAD ({_pct(bad_n, ex.interleavings)})")
    heading = (f"{ex.scenario} under keytable_scope=\"{ex.scope}\": {ex.interleavings} interleavings, "
               f"{len(ex.groups)} outcome group{'s' if len(ex.groups) != 1 else ''}; {verdict}")
    g.text(_PAD, y, _fit(heading, _TEXT, _W - 2 * _PAD, weight="bold"), _TEXT, weight="bold", va="top")
    y += 0.3
    counts = [_count_text(gr, ex, highlight == i) for i, gr in enumerate(ex.groups)]
    count_w = max((text_width(c, _SMALL) for c in counts), default=0.0)
    bar_w = min(2.9, _W - _PAD - _BAR_X - 0.06 - count_w)
    for i, gr in enumerate(ex.groups):
        st = OK_STYLE if gr.ok else BAD_STYLE
        lines = _label_lines(i, gr)
        row = _row_height(lines)
        mid = y + _BAR_ROW / 2
        if highlight == i:
            patches.append(Rectangle((_PAD - 0.12, y), _W - 2 * _PAD + 0.2, row, facecolor=_HIGHLIGHT,
                                     alpha=0.45, edgecolor="black", linewidth=1.0, zorder=1))
        for n, line in enumerate(lines):
            g.text(_PAD, mid + n * _LINE, line, _SMALL, weight=_weight(gr))
        frac = gr.count / ex.interleavings if ex.interleavings else 0.0
        patches.append(Rectangle((_BAR_X, y + 0.04), max(bar_w * frac, 0.02), _BAR_ROW - 0.08, facecolor=st["color"],
                                 hatch=st["hatch"], edgecolor="black", linewidth=0.8, zorder=3))
        g.text(_BAR_X + max(bar_w * frac, 0.02) + 0.06, mid, counts[i], _SMALL, family="sans")
        y += row
    return y + 0.12


def _histogram_alt(ex) -> str:
    parts = [f"{i}. {_group_text(gr)}: {gr.count} interleavings ({_pct(gr.count, ex.interleavings)})"
             for i, gr in enumerate(ex.groups)]
    bad_n = sum(gr.count for gr in ex.groups if not gr.ok)
    return (f"{ex.scenario} under keytable_scope {ex.scope}: {ex.interleavings} interleavings, {bad_n} of them BAD. "
            + "; ".join(parts) + ".")


def outcome_histogram(explorations, *, highlight: int | None = None, title: str | None = None) -> LessonFigure:
    """One panel per exploration (up to 4, e.g. one scenario under each key-table scope), one bar
    per outcome group: length = share of the interleavings, label = OK/BAD and the outcome, count
    at the end of the bar. ``highlight`` frames that group (in every panel)."""
    items = _explorations(explorations)
    if highlight is not None:
        highlight = whole(highlight, "highlight (an outcome group's number)", 0)
    fig, ax, g, patches, y = _start(sum(_histogram_height(ex) for ex in items), title)
    for ex in items:
        y = _draw_histogram(ax, g, patches, y, ex, highlight)
    _finish(ax, g, patches)
    fig.mktme_alt = (f"{title}. " if title else "") + "Outcome histogram, one bar per outcome group (BAD bars " \
        "hatched). " + " ".join(_histogram_alt(ex) for ex in items)
    return fig


# --------------------------------------------------------------------------- the timeline
_WRITEBACK = re.compile(r"P(\d+) writeback\s+pa=\S+ keyid=(\d+)(?: engine P(\d+))?")


def _table_key(tables, package: int, keyid: int) -> str:
    for p, text in tables:
        if p == package:
            found = re.search(rf"KeyID {keyid}: (\S+)", text)
            if found:
                return found.group(1).rstrip(",")
    return "?"


def _writebacks(step) -> list[str]:
    """What each write-back of ``step`` did, in words: who wrote back, whose table sealed it, which key."""
    out = []
    for e in step.events:
        found = _WRITEBACK.search(e)
        if found:
            writer, keyid = int(found.group(1)), int(found.group(2))
            engine = int(found.group(3)) if found.group(3) is not None else writer
            out.append(f"P{writer} writes back KeyID {keyid}, sealed by P{engine}'s table: key "
                       f"{_table_key(step.tables, engine, keyid)}")
    return out


def _check_steps(steps, lanes, at):
    try:
        steps = list(steps)
    except TypeError:
        steps = None
    if not steps or not all(hasattr(s, "what") and hasattr(s, "events") for s in steps):
        raise ParameterError(f"steps must be what races.replay() returns (a tuple of Step); got {shown(steps)}")
    if isinstance(lanes, str) or not isinstance(lanes, (list, tuple)) or not lanes \
            or not all(isinstance(n, str) for n in lanes):
        raise ParameterError(f"lanes must be the threads' names in order ([t.name for t in scenario.threads]); "
                             f"got {shown(lanes)}")
    missing = sorted({s.thread for s in steps[1:]} - set(lanes))
    if missing:
        raise ParameterError(f"lanes {list(lanes)} do not name the thread(s) {missing} these steps ran")
    at = len(steps) - 1 if at is None else whole(at, f"at (a step number, 0..{len(steps) - 1})", 0, len(steps) - 1)
    return steps, list(lanes), at


def _timeline_height(steps) -> float:
    return 0.95 + _ROW * len(steps) + 0.1


def _draw_timeline(ax, g: Glyphs, patches: list, y: float, steps, lanes, at: int) -> float:
    lane_w = 0.42
    x0 = _PAD
    text_x = x0 + lane_w * len(lanes) + 0.12
    text_w = _SPLIT - 0.2 - text_x
    g.text(x0, y, "One interleaving, step by step (time runs down; the lanes are the threads)", _TEXT, weight="bold",
           va="top")
    y += 0.27
    key = " · ".join(f"T{i} = {name}" for i, name in enumerate(lanes))
    for line in _wrap(key, _SMALL, _SPLIT - 0.2 - x0, 2):
        g.text(x0, y, line, _SMALL, va="top")
        y += 0.17
    y = max(y, 0.0) + 0.04
    for i in range(len(lanes)):
        g.text(x0 + lane_w * (i + 0.5), y, f"T{i}", _SMALL, weight="bold", ha="center", va="top")
    g.text(text_x, y, "step: what ran  (⇒ DRAM via: a write-back, the table and key that sealed it)", _SMALL,
           weight="bold",
           va="top")
    y += 0.2
    top = y
    for s in steps:
        mid = y + _ROW / 2
        future = s.index > at
        colour = _GREY if future else "black"
        if s.index == at:
            patches.append(Rectangle((x0 - 0.1, y), _SPLIT - 0.2 - x0 + 0.1, _ROW, facecolor=_HIGHLIGHT, alpha=0.5,
                                     edgecolor="black", linewidth=0.9, zorder=1))
        lane = lanes.index(s.thread) if s.thread in lanes else None
        if lane is not None:
            cx = x0 + lane_w * (lane + 0.5)
            patches.append(Rectangle((cx - 0.09, mid - 0.065), 0.18, 0.13, facecolor="white" if future else "black",
                                     edgecolor=colour, linewidth=0.8, zorder=3))
        seals = [re.sub(r".*sealed by (P\d+)'s table: key (\S+)", r"\1's table, key \2", w) for w in _writebacks(s)]
        what = f"{s.index}. {s.what}" + (f"  ⇒ DRAM via {'; '.join(seals)}" if seals else "")
        weight = "bold" if s.index == at else "normal"
        g.text(text_x, mid, _fit(what, _SMALL, text_w, weight=weight), _SMALL, colour=colour, weight=weight)
        y += _ROW
    ax.vlines([x0 + lane_w * (i + 0.5) for i in range(len(lanes))], top, y, colors="#bbbbbb", linewidth=0.6,
              zorder=0)
    return y + 0.1


def _state_lines(step) -> list[tuple[str, str]]:
    """(kind, text) lines of the state after ``step``: heading, events, caches, DRAM, key tables."""
    out = [("head", f"After step {step.index} ({step.thread})"), ("text", step.what)]
    out.append(("head", "What the hardware did"))
    events = [re.sub(r"^#\d+\s+", "", e) for e in step.events]
    out += [("mono", e) for e in events] or [("text", "nothing (a software step)")]
    out += [("text", w) for w in _writebacks(step)]
    out.append(("head", "Cached lines"))
    out += [("mono", f"P{p} {line} KeyID {k} {'dirty' if dirty else 'clean'}: {value}")
            for p, line, k, dirty, value in step.lines] or [("text", "none")]
    out.append(("head", "DRAM"))
    out += [("text", f"{line}: {what}") for line, what in step.dram] or [("text", "no line used")]
    out.append(("head", "Key tables"))
    out += [("text", f"P{p}: {text}") for p, text in step.tables]
    return out


def _draw_state(g: Glyphs, x: float, y: float, width: float, step) -> float:
    for kind, text in _state_lines(step):
        if kind == "head":
            y += 0.06
            g.text(x, y, text, _TEXT, weight="bold", va="top")
            y += 0.2
        else:
            for line in _wrap(text, _SMALL, width, 3) if kind == "text" else [_fit(text, 6.4, width, "mono")]:
                g.text(x, y, line, 6.4 if kind == "mono" else _SMALL, family="mono" if kind == "mono" else "sans",
                       va="top")
                y += 0.16
    return y


def _state_height(step, width: float) -> float:
    h = 0.0
    for kind, text in _state_lines(step):
        h += 0.26 if kind == "head" else 0.16 * (len(_wrap(text, _SMALL, width, 3)) if kind == "text" else 1)
    return h + 0.1


def _timeline_alt(steps, lanes, at: int) -> str:
    step = steps[at]
    order = "; ".join(f"{s.index} {s.thread}: {s.what}" + (f" ({'; '.join(_writebacks(s))})" if _writebacks(s)
                                                            else "") for s in steps[1:])
    cached = "; ".join(f"P{p} {line} KeyID {k} {'dirty' if d else 'clean'} holding {v}"
                       for p, line, k, d, v in step.lines) or "none"
    return (f"Timeline of one interleaving: {len(steps) - 1} steps of {len(lanes)} threads ({', '.join(lanes)}). "
            f"Steps: {order}. Shown: the state after step {at}: cached lines {cached}; DRAM "
            + "; ".join(f"{line} {what}" for line, what in step.dram) + "; key tables "
            + "; ".join(f"P{p} {t}" for p, t in step.tables) + ".")


def _replay_height(steps, at: int) -> float:
    return max(_timeline_height(steps), _state_height(steps[at], _W - _SPLIT - _PAD) + 0.3)


def _draw_replay(ax, g: Glyphs, patches: list, y: float, steps, lanes, at: int) -> None:
    """The timeline on the left and the state after step ``at`` on the right, both from ``y`` down."""
    _draw_timeline(ax, g, patches, y, steps, lanes, at)
    _draw_state(g, _SPLIT, y, _W - _SPLIT - _PAD, steps[at])


def replay_timeline(steps, lanes: Sequence[str], *, at: int | None = None, title: str | None = None) -> LessonFigure:
    """A replayed interleaving (``races.replay()``) as a swim-lane timeline, and the state after step ``at``
    (default: the last step). ``lanes`` are the threads' names, in the scenario's order."""
    steps, lanes, at = _check_steps(steps, lanes, at)
    fig, ax, g, patches, y = _start(_replay_height(steps, at), title)
    _draw_replay(ax, g, patches, y, steps, lanes, at)
    _finish(ax, g, patches)
    fig.mktme_alt = (f"{title}. " if title else "") + _timeline_alt(steps, lanes, at)
    return fig


# --------------------------------------------------------------------------- both, for the widget
def race_figure(exploration, steps, lanes: Sequence[str], *, group: int, at: int | None = None,
                title: str | None = None) -> LessonFigure:
    """The race explorer's picture: the histogram of ``exploration`` with ``group`` framed, and
    ``steps`` (that group's example, replayed) as a timeline with the state after step ``at``."""
    (ex,) = _explorations([exploration])
    group = whole(group, f"group (an outcome group's number, 0..{len(ex.groups) - 1})", 0, len(ex.groups) - 1)
    steps, lanes, at = _check_steps(steps, lanes, at)
    fig, ax, g, patches, y = _start(_histogram_height(ex) + _replay_height(steps, at), title)
    y = _draw_histogram(ax, g, patches, y, ex, group)
    ax.hlines([y - 0.06], _PAD, _W - _PAD, colors="#999999", linewidth=0.7)
    _draw_replay(ax, g, patches, y, steps, lanes, at)
    _finish(ax, g, patches)
    gr = ex.groups[group]
    fig.mktme_alt = ((f"{title}. " if title else "") + _histogram_alt(ex)
                     + f" Group {group} ({_group_text(gr)}) is replayed below: " + _timeline_alt(steps, lanes, at))
    return fig


# --------------------------------------------------------------------------- canvas
def _start(body: float, title: str | None):
    """A figure tall enough for ``body`` inches (and the title, if any): (fig, canvas, glyphs, patches, y)."""
    if title is not None:
        text_bytes(title, "title", 0, 200)  # text, and drawable: a lone surrogate has no glyph
    style.apply()
    height = (0.4 if title else 0.15) + body + 0.1
    fig = LessonFigure(figsize=(_W, height))
    g, y = Glyphs(), 0.15
    if title:
        g.text(_PAD, y, title, _HEAD, weight="bold", va="top")
        y += 0.3
    return fig, Inches(fig, height), g, [], y


def _finish(ax: _Inches, g: Glyphs, patches: list) -> None:
    # One artist per patch, not a PatchCollection: a collection has one hatch, and BAD bars need theirs.
    for p in patches:
        ax.add_artist(p)
    g.draw(ax)
