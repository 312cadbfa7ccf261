"""Pictures the page switches between by itself, with no round trip to the kernel.

A move of a slider, drop-down or toggle normally travels to the kernel, which draws and sends the new
picture back. On a laptop that is fine; on a 2-core machine shared by JupyterLab, the kernel and the
browser, the round trip alone measured 50-90 ms, however small the picture (benchmarks/README.md).

A :class:`PagePanel` removes it for the controls it is given. It keeps one output (an ``ipywidgets.HTML``,
a *leaf*) per combination of those controls' options, inside nested ``ipywidgets.Stack`` widgets, and
links each stack's ``selected_index`` to its control's ``index`` in the browser (``jslink``). Moving such
a control makes the page show the leaf for the new setting at once; the kernel still hears of the move
and draws the leaf if it is not drawn yet (it shows "Drawing this setting..." until then). While the
learner reads, :class:`~mktme_lite.widgets.LessonWidget` draws the leaves nearest the current setting
ahead, so most moves find their picture waiting.

A limit, measured in Chromium (3 Dec 2026): the page cannot tell that a text box or another kernel control
has changed until the kernel answers, so a front control moved within about 0.1 s of such a change can
show, for up to about 0.1 s, its output for the old value (then "Drawing this setting..." and the right
one). The kernel blanks the outputs one move away before anything else, which shortened this from about
0.25 s; at a learner's pace (0.15 s or more between the two moves) only the ordinary lag was seen.

Which controls a widget links is its own choice (``LessonWidget(front=...)``): controls whose options
another control refills are fine (the panel rebuilds when an option count changes); a control whose move
resets another one is described by ``LessonWidget(arrive=...)``, so each leaf is drawn for the setting a
move there really produces.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import ipywidgets as W

__all__ = ["PagePanel", "PENDING_CLASS", "MAX_LEAVES", "pending_html"]

#: At most this many leaves: the page and the kernel both hold every drawn leaf (at most ~130 KB each
#: in this course, so at most ~33 MB), and each is one widget model created when the widget is shown.
MAX_LEAVES = 256

#: The CSS class of a leaf not drawn yet (benchmarks/bench_browser.py does not count it as the new picture).
PENDING_CLASS = "mktme-pending"


def pending_html(size: tuple[int, int] | None = None) -> str:
    """What a leaf shows until the kernel has drawn it (a status, read out by screen readers).

    ``size``: the pixel size of the picture the leaf held (or its neighbours hold); the placeholder then
    takes the room that picture took (an ``<img>`` of that size, shrunk to the output's width as
    JupyterLab shrinks images), so the page below does not jump up and back down."""
    box = ""
    if size is not None:
        width, height = size
        box = f"width:100%;max-width:{int(width)}px;aspect-ratio:{int(width)}/{int(height)};box-sizing:border-box;"
    return (f'<div class="mktme-live {PENDING_CLASS}" role="status" style="{box}padding:0.6em 0;'
            'font-style:italic">Drawing this setting…</div>')


class PagePanel:
    """Nested stacks of outputs, one per combination of the ``names`` controls, switched in the browser.

    ``area`` is the box to put where the widget's output goes. ``leaf()`` is the output the page shows
    for the controls' current values; ``shows`` maps a leaf (its tuple of option indices) to the cache
    key of the setting its picture was drawn for, so the widget can tell a drawn leaf from a stale one.
    """

    def __init__(self, controls: Mapping[str, W.Widget], names: Sequence[str],
                 capacity: Mapping[str, int] | None = None):
        names = tuple(names)
        if not names:
            raise ValueError("a page panel needs at least one control to switch on")
        for name in names:
            control = controls.get(name)
            if control is None:
                raise ValueError(f"front control {name!r} is not one of the widget's controls: {sorted(controls)}")
            if not hasattr(control, "index") or not getattr(control, "options", None):
                raise ValueError(f"front control {name!r} must be a slider, drop-down or toggle with options; "
                                 f"got a {type(control).__name__}")
        self.controls = controls
        self.names = names
        # Leaves kept per control: at least its options now, more where another control refills it with
        # more options later (the stepper's steps per scenario), so a refill needs no new widgets.
        self.capacity = {name: max(1, int((capacity or {}).get(name, 0))) for name in names}
        self.area = W.Box(layout=W.Layout(width="100%", display="block"))
        self.leaves: dict[tuple[int, ...], W.HTML] = {}
        self.shows: dict[tuple[int, ...], Any] = {}
        self.shape: tuple[int, ...] = ()
        self.rebuilds = 0
        self._parts: list[W.Widget] = []
        self.rebuild()

    def wanted_shape(self) -> tuple[int, ...]:
        """How many options each front control has now."""
        return tuple(len(self.controls[name].options) for name in self.names)

    def in_shape(self, prefix: Sequence[int]) -> bool:
        """True if ``prefix`` is a setting the controls can reach now (a refill may leave spare leaves)."""
        return all(i < n for i, n in zip(prefix, self.wanted_shape()))

    def rebuild(self) -> bool:
        """Make sure there is a leaf for every combination of the controls' current options; False if the
        leaves there suffice.

        Called before every update, so a control whose options another control refilled with more than
        it had gets its leaves; fewer options leave spare leaves unused (no new widgets)."""
        wanted = self.wanted_shape()
        if self.leaves and all(w <= have for w, have in zip(wanted, self.shape)):
            return False
        shape = tuple(max(w, have, self.capacity[name])
                      for w, have, name in zip(wanted, self.shape or (0,) * len(wanted), self.names))
        if math.prod(shape) > MAX_LEAVES:
            raise ValueError(f"front controls {self.names} make {math.prod(shape)} combinations; at most "
                             f"{MAX_LEAVES} are kept in the page (link fewer controls)")
        old = self._parts
        self._parts, self.leaves, self.shows = [], {}, {}
        self._shape_now = shape
        root = self._build(0, ())
        self.shape = shape
        self.area.children = (root,)
        for part in reversed(old):  # links first, then the stacks and leaves they point at
            part.close()
        self.rebuilds += 1
        return True

    def _build(self, level: int, prefix: tuple[int, ...]) -> W.Widget:
        if level == len(self.names):
            leaf = W.HTML(pending_html(), layout=W.Layout(width="100%"))
            self.leaves[prefix] = leaf
            self._parts.append(leaf)
            return leaf
        control = self.controls[self.names[level]]
        children = [self._build(level + 1, prefix + (i,)) for i in range(self._shape_now[level])]
        stack = W.Stack(children, selected_index=control.index, layout=W.Layout(width="100%"))
        self._parts.append(stack)
        self._parts.append(W.jslink((control, "index"), (stack, "selected_index")))
        return stack

    def prefix(self) -> tuple[int, ...]:
        """The leaf of the controls' current values."""
        return tuple(self.controls[name].index for name in self.names)

    def prefix_of(self, params: Mapping[str, Any]) -> tuple[int, ...] | None:
        """The leaf that shows ``params`` (None if one of its values is not among the options)."""
        out = []
        for name in self.names:
            values = list(self.controls[name]._options_values)
            if params.get(name) not in values:
                return None
            out.append(values.index(params[name]))
        return tuple(out)

    def values_at(self, prefix: Sequence[int]) -> dict[str, Any]:
        """The front controls' values a leaf stands for."""
        return {name: self.controls[name]._options_values[i] for name, i in zip(self.names, prefix)}

    def leaf(self) -> W.HTML:
        self.rebuild()
        return self.leaves[self.prefix()]

    def nearest_first(self) -> list[tuple[int, ...]]:
        """Every leaf the controls can reach now, nearest the current one first (:meth:`distance`); among
        leaves as near, those a slider reaches first (a slider's next step is the commonest move), then
        forward before back (the next option before the previous one)."""
        here = self.prefix()
        sliders = [isinstance(self.controls[name], W.SelectionSlider) for name in self.names]

        def order(p):
            moved = [i for i, (a, b) in enumerate(zip(p, here)) if a != b]
            by_slider = not all(sliders[i] for i in moved)
            backward = sum(p[i] < here[i] for i in moved)
            return (self.distance(p, here), by_slider, backward, p)
        return sorted((p for p in self.leaves if self.in_shape(p)), key=order)

    def distance(self, a: Sequence[int], b: Sequence[int]) -> int:
        """Moves from leaf ``a`` to leaf ``b``: a slider's steps, or one pick of a drop-down or toggle."""
        return sum(abs(x - y) if isinstance(self.controls[name], W.SelectionSlider) else int(x != y)
                   for name, x, y in zip(self.names, a, b))

    def forget(self, prefix: tuple[int, ...], size: tuple[int, int] | None = None) -> None:
        """Show "drawing" in a leaf whose picture no longer fits the setting it stands for (in the room a
        picture of ``size`` pixels takes)."""
        self.shows.pop(prefix, None)
        leaf = self.leaves.get(prefix)
        if leaf is not None and PENDING_CLASS not in leaf.value:
            leaf.value = pending_html(size)

    def controls_apart(self, a: Sequence[int], b: Sequence[int]) -> int:
        """How many front controls differ between leaves ``a`` and ``b`` (1: one move of one control)."""
        return sum(x != y for x, y in zip(a, b))
