"""The machine's event trace as a timeline: what happened, in which order, under which KeyID.

How a lesson calls it::

    from mktme_lite import viz
    viz.show(viz.trace_timeline(m.trace, hide=("hit", "miss"), title="What the machine did"))
    viz.trace_timeline(m.trace, last=12, kinds=["store", "writeback", "fill"])

One lane per event kind (named on the y axis), one marker per event whose shape says the kind
and whose fill says the KeyID; what every event shares is said once in the subtitle.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from .. import style
from ..errors import ParameterError
from ..params import items, shown, whole
from ..params import text as _text
from .figure import LessonFigure, new_figure

__all__ = ["trace_timeline", "MAX_EVENTS"]

#: Most events one timeline draws: 2000 take about 0.2 s to draw and 0.5 s to encode as PNG.
MAX_EVENTS = 2000

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
    from ..machine import Event, Trace

    if not isinstance(trace, (list, tuple, Trace)):
        raise ParameterError(f"trace must be a machine's trace (m.trace) or a list of its events; got {shown(trace)}")
    events = list(trace)
    for e in events:
        if not isinstance(e, Event):
            raise ParameterError(f"every event of the trace must be an Event (from m.trace); got {shown(e)}")
    if kinds is not None:
        keep = {_text(k, "an event kind in kinds") for k in (items(kinds, "kinds (event kinds to keep)")
                                                             if not isinstance(kinds, (set, frozenset)) else kinds)}
        events = [e for e in events if e.kind in keep]
    hide = list(hide) if isinstance(hide, (set, frozenset)) else items(hide, "hide (event kinds to leave out)")
    hidden = {_text(k, "an event kind in hide") for k in hide}
    title = None if title is None else _text(title, "title", 0, 500)
    events = [e for e in events if e.kind not in hidden]
    if last is not None:
        last = whole(last, "last (number of events kept)", 0)
        events = events[-last:] if last > 0 else []
    if len(events) > MAX_EVENTS:
        raise ParameterError(f"trace_timeline draws at most {MAX_EVENTS} events; {len(events)} are left after "
                             f"kinds/hide. Pass last={MAX_EVENTS} (the most recent ones) or fewer kinds")
    present = [k for k in _KIND_ORDER if any(e.kind == k for e in events)]
    present += sorted({e.kind for e in events} - set(present))
    lane = {k: i for i, k in enumerate(reversed(present))}
    n = len(events)
    fig = new_figure(min(11.0, max(5.5, 0.42 * n + 2.2)), 0.42 * max(1, len(present)) + 1.1)
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
    # One scatter per kind (its marker shape), each event's fill its KeyID colour: a scatter per
    # event cost about 8 ms, so 400 events took 3.4 s.
    for kind in present:
        xs = [x for x, e in enumerate(events) if e.kind == kind]
        faces = [style.keyid_color(events[x].keyid) if events[x].keyid is not None else "white" for x in xs]
        ax.scatter(xs, [lane[kind]] * len(xs), marker=style.event_style(kind)[1], s=70, facecolor=faces,
                   edgecolor="black", linewidth=0.8, zorder=3)
    for x, e in enumerate(events):
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
    if n <= 40:
        ax.set_xticks(range(n), [str(e.seq) for e in events], fontsize=7)
    else:  # a tick every tenth of the way, labelled with the event number there
        ticks = sorted({round(i * (n - 1) / 10) for i in range(11)})
        ax.set_xticks(ticks, [str(events[t].seq) for t in ticks], fontsize=7)
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
