"""The widget pattern: a tested pure function plus a thin ipywidgets shell.

Every lesson widget has two parts:

1. ``render_<name>(**params)`` in ``mktme_lite.widgets.<lesson>``: a pure function of its
   parameters that runs the lesson's experiment (a function of ``mktme_lite.scenarios.<lesson>``
   returning a frozen dataclass) and draws what it returns as a figure
   (:class:`mktme_lite.viz.LessonFigure`, with alt text) or an :class:`mktme_lite.viz.HTMLCard`.
   Bad input raises :class:`~mktme_lite.errors.ParameterError` (``WidgetInputError`` here) with a
   sentence the learner can act on. It is unit-tested and benchmarked on its own. A widget
   module holds only ``render_*`` functions, their private drawing helpers and the shells.
2. a :class:`LessonWidget` that wires labelled controls to that function::

       LessonWidget(
           render_dram_probe,
           {"address": slider("Address", ...), "key_mode": dropdown("Key", ...)},
           title="DRAM probe",
           telling=[Telling("Default: ...", {...}), Telling("TME bypass: ...", {...})],
       )

   Leaving the widget as the last expression of a cell displays it. In a live notebook
   that is the controls and an output area that redraws on every change; with
   ``MKTME_STATIC=1`` (CI, ``nbconvert``, book builds) it is the *static twin*: the same
   function drawn at each telling setting with its caption, so a reader without a kernel
   sees every picture the widget would show.

Guarantees the shell gives every widget (tests/test_widgets.py checks them):

* The container has the CSS class ``mktme-widget`` and the output area
  ``mktme-widget-output``; the browser test finds widgets by these classes.
* Every control has a visible ``description`` (its label).
* No input crashes a widget: :class:`WidgetInputError` and :class:`~mktme_lite.MKTMEError`
  messages are shown in the output; any other exception becomes a short "this is a bug"
  note, never a traceback.
* The output is an HTML widget whose value is replaced in place (``output.value``): one message
  with one copy of the picture (a palette PNG in an ``<img>`` with its alt text, see
  :func:`mktme_lite.viz.live_html`), no clearing and re-displaying, so it never flickers and works
  the same from a callback, a test or a script. ``LessonWidget(..., cache=n)`` keeps the last
  ``n`` settings' HTML, for render functions that are pure; in a live kernel such a widget also
  draws, while the learner reads, the settings one move away from the current one
  (:meth:`LessonWidget.prefetch_step`), so the next move is usually a cache hit.
* ``LessonWidget(..., front=("step", ...))`` names controls the *page* switches on, with no round trip
  to the kernel (:class:`~mktme_lite.widgets._panel.PagePanel`): one output per combination of their
  options, shown by the browser the moment the control moves, drawn by the kernel ahead of time (or on
  the move, showing "Drawing this setting..." meanwhile). ``arrive`` says what such a move does to the
  other controls (the stepper's step move resets the prediction), so each output is drawn for the setting
  the move really produces. :attr:`LessonWidget.output` is always the output the page shows now.
* Every update's timings (render, encoding, sending, bytes) go to :data:`TIMINGS`, which
  benchmarks/bench_browser.py reads from the kernel.
"""

from __future__ import annotations

import html
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import ipywidgets as W
from IPython.display import display

from ..errors import MKTMEError, ParameterError
from matplotlib.figure import Figure

from ..viz import is_static, live_html, to_bundle
from ._panel import PENDING_CLASS, PagePanel

__all__ = [
    "WidgetInputError",
    "Telling",
    "LessonWidget",
    "slider",
    "dropdown",
    "text",
    "toggle",
    "error_bundle",
]

#: The last updates of every widget in this kernel, newest last: ``{"widget", "render_ms", "bundle_ms",
#: "send_ms", "cpu_ms", "bytes", "status", "cached"}`` (wall-clock times, and the kernel's CPU time for
#: the whole update, which other jobs on the machine do not inflate). benchmarks/bench_browser.py reads it to split a browser round trip
#: into Python rendering, encoding, sending and what the front end adds.
TIMINGS: deque = deque(maxlen=2000)

#: Every setting drawn ahead in this kernel, newest last: ``{"widget", "t_wall", "t_end_wall"}`` (epoch
#: seconds), so a benchmark can tell a move that waited for a prefetch render from one that did not.
PREFETCHES: deque = deque(maxlen=2000)

#: Drawing ahead (cached widgets, live kernel only): wait this long after an update before the first
#: neighbour setting, then this long between settings, and reach this many slider steps either way.
PREFETCH_DELAY_S = 0.3
PREFETCH_GAP_S = 0.02
PREFETCH_REACH = 2
#: A widget with a page panel (``front=``) starts drawing its leaves sooner: a move of a front control needs
#: no kernel, so a leaf being drawn delays only the moves that do (text boxes, the other controls).
PANEL_DELAY_S = 0.05
#: ... and after a move that needed the kernel, a little later (the learner may be typing or picking again).
PANEL_AFTER_KERNEL_S = 0.1
#: Those first drawings are the leaves one front move away and the other controls' neighbours; the rest of
#: the panel (up to 255 outputs, each tens of KB to send) waits until no move came for this long, so that
#: a learner moving controls quickly does not find the kernel and the page busy with far settings.
PANEL_REST_S = 0.5


def draw_ahead_enabled() -> bool:
    """False when ``MKTME_DRAW_AHEAD=0``: a switch for measuring what drawing ahead costs or saves
    (``benchmarks/bench_browser.py --no-draw-ahead``) and for a machine too slow to spare the time. It
    also stops the filling of page-panel leaves: each is then drawn when the learner first moves there."""
    import os

    return os.environ.get("MKTME_DRAW_AHEAD", "1").strip() != "0"

WIDGET_CLASS = "mktme-widget"
OUTPUT_CLASS = "mktme-widget-output"
_STYLE = {"description_width": "initial"}


#: Input a learner can fix (too long, not hex, ...): the one ParameterError of the whole engine, under
#: the name the widget code has always used. Its message says what is allowed.
WidgetInputError = ParameterError


@dataclass(frozen=True)
class Telling:
    """One parameter setting worth seeing, and the sentence that says what it shows."""

    caption: str
    params: Mapping[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------
# Labelled controls. They all redraw on release / Enter, not on every pixel or keystroke.
# ------------------------------------------------------------------------------------------
def slider(description: str, options: Sequence[tuple[str, Any]], value: Any) -> W.SelectionSlider:
    """A slider over labelled values, e.g. ``[("0x1000", 0x1000), ...]``; the readout shows the label."""
    return W.SelectionSlider(description=description, options=list(options), value=value,
                             continuous_update=False, style=_STYLE, layout=W.Layout(width="30em"))


def dropdown(description: str, options: Sequence[tuple[str, Any]], value: Any) -> W.Dropdown:
    return W.Dropdown(description=description, options=list(options), value=value, style=_STYLE,
                      layout=W.Layout(width="30em"))


def toggle(description: str, options: Sequence[tuple[str, Any]], value: Any) -> W.ToggleButtons:
    return W.ToggleButtons(description=description, options=list(options), value=value, style=_STYLE)


def text(description: str, value: str, placeholder: str = "") -> W.Text:
    """A text box that redraws when the learner presses Enter or leaves the box."""
    return W.Text(description=description, value=value, placeholder=placeholder, continuous_update=False,
                  style=_STYLE, layout=W.Layout(width="30em"))


def _label_of(control: W.Widget, value: Any) -> str:
    """What the control shows for ``value`` (the option label for selections)."""
    options = getattr(control, "options", None)
    if options:
        for opt in options:
            if isinstance(opt, tuple) and len(opt) == 2 and opt[1] == value:
                return str(opt[0])
            if not isinstance(opt, tuple) and opt == value:
                return str(opt)
    return repr(value) if isinstance(value, str) else str(value)


def error_bundle(message: str, *, bug: bool = False) -> tuple[dict, dict]:
    """The mime bundle for a message shown instead of a picture."""
    head = "This is a bug in the widget, please report it:" if bug else "Cannot draw this:"
    body = html.escape(message)
    html_text = (f"<div class='mktme-widget-error' role='alert' style='border-left:5px solid #D55E00;"
                 f"padding:0.4em 0.8em;background:#fff8f0;color:#222'><strong>⚠ {head}</strong> {body}</div>")
    return {"text/html": html_text, "text/plain": f"⚠ {head} {message}"}, {}


def _live_error(message: str, *, bug: bool = False) -> str:
    """The live output's HTML for a message shown instead of a picture."""
    return f'<div class="mktme-live">{error_bundle(message, bug=bug)[0]["text/html"]}</div>'


def _cache_key(params: Mapping[str, Any]):
    """A hashable key for one setting, or None when a value cannot be hashed (then nothing is kept)."""
    key = tuple(sorted((name, type(value).__name__, value) for name, value in params.items()))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _markdown(text: str) -> dict:
    """A markdown bundle whose plain-text twin is the text itself (not an object repr)."""
    return {"text/markdown": text, "text/plain": text.replace("**", "").replace("*", "")}


class _Container(W.VBox):
    """A VBox whose text fallback says what it is, instead of ``VBox(children=(...))``."""

    def __init__(self, children, plain: str, **kwargs):
        super().__init__(children, **kwargs)
        self._plain = plain

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)
        if data is not None:
            data["text/plain"] = self._plain
        return data


class LessonWidget:
    """Labelled controls + one output, around a pure ``render(**params)`` function."""

    def __init__(self, render: Callable[..., Any], controls: Mapping[str, W.ValueWidget], *, title: str,
                 telling: Sequence[Telling] = (), intro: str = "", cache: int = 0, png_level: int = 1, draw_ahead: bool = True,
                 constrain: Callable[[dict[str, Any]], Mapping[str, tuple[Sequence, Any]]] | None = None,
                 front: Sequence[str] = (), front_capacity: Mapping[str, int] | None = None, lead: Callable[..., str] | None = None,
                 arrive: Callable[[dict[str, Any], frozenset], Mapping[str, Any]] | None = None):
        if not controls:
            raise ValueError("a widget needs at least one control")
        for name, control in controls.items():
            if not getattr(control, "description", ""):
                raise ValueError(f"control {name!r} has no description (label)")
        self.render = render
        self.controls = dict(controls)
        self.title = title
        self.telling = list(telling)
        self.intro = intro
        if not isinstance(cache, int) or isinstance(cache, bool) or cache < 0:
            raise ValueError(f"cache is how many settings to keep: a whole number >= 0; got {cache!r}")
        self.cache = cache
        if png_level not in range(1, 10) or isinstance(png_level, bool):
            raise ValueError(f"png_level is a zlib level, a whole number 1-9; got {png_level!r}")
        self.png_level = png_level  # higher: smaller pictures to send, more CPU per render (pays when drawn ahead)
        if not isinstance(draw_ahead, bool):
            raise ValueError(f"draw_ahead is True or False; got {draw_ahead!r}")
        # False where a neighbour being drawn when the learner's move arrives costs more than the cache
        # hits save (measured: the cost/security explorer, the partition explorer; benchmarks/README.md)
        self.draw_ahead = draw_ahead
        self._cache: OrderedDict = OrderedDict()
        self._leaf_status: dict = {}  # a drawn leaf's (last_status, last_message)
        self._last_front = False  # the last update was a move the page had drawn (no kernel needed)
        self._updated_at = 0.0  # time.monotonic() of the last update (drawing the far leaves waits for a pause)
        self._leaf_bugs: set = set()
        self._sizes: dict = {}  # a drawn figure's pixel size by setting (the placeholder takes its room)  # (leaf, setting) pairs whose render failed: not drawn ahead again
        self.constrain = constrain
        self._holding = False
        self._prefetch_timer = None  # the pending idle-time prefetch (an asyncio TimerHandle), if any
        self.prefetched = 0  # settings drawn ahead of a move (TIMINGS counts what the learner waited for)
        # The live picture: an HTML widget whose value is replaced in place on every update; with
        # ``front`` controls, one such widget per combination of their options, switched in the page.
        self._output = W.HTML(layout=W.Layout(width="100%"))
        self.panel = PagePanel(self.controls, front, front_capacity) if front else None
        self.arrive = arrive  # what a move of front controls does to the others (e.g. resets a prediction)
        self.lead = lead  # HTML over the live picture, from the same setting (it travels with the picture)
        self.output_area = self.panel.area if self.panel else self._output
        self.output_area.add_class(OUTPUT_CLASS)
        heading = W.HTML(f"<strong>{html.escape(title)}</strong>"
                         + (f" — {html.escape(intro)}" if intro else ""))
        box = W.Box(list(self.controls.values()),
                    layout=W.Layout(display="flex", flex_flow="row wrap"))
        plain = (f"[Interactive widget: {title}. Run this notebook in Jupyter to use it, or set "
                 "MKTME_STATIC=1 to draw its static pictures.]")
        self.container = _Container([heading, box, self.output_area], plain)
        self.container.add_class(WIDGET_CLASS)
        self.defaults = self.params()  # the static twin's first view, whatever the controls say later
        self.last_status = "not drawn"  # "ok", "input-error" or "bug" after an update
        self.last_message = ""
        self.last_ms = 0.0
        self._rendered_at = 0.0
        self.updates = 0
        for control in self.controls.values():
            control.observe(self.update, names="value")

    # -- the live path ---------------------------------------------------------------------
    @property
    def output(self) -> W.HTML:
        """The HTML widget the page shows for the current setting (its leaf, with ``front`` controls)."""
        return self.panel.leaf() if self.panel is not None else self._output

    def params(self) -> dict[str, Any]:
        """The current value of every control, keyed by the render function's parameter names."""
        return {name: control.value for name, control in self.controls.items()}

    def set(self, **values: Any) -> None:
        """Move controls programmatically (tests, instructors' demos); each change redraws."""
        for name, value in values.items():
            self.controls[name].value = value

    def _picture(self, params: Mapping[str, Any], encode: Callable[[Any], Any], error: Callable[..., Any]):
        """``encode(render(**params))``, or ``error(message[, bug=True])``; never raises.

        Sets ``last_status``/``last_message``/``last_ms`` and ``_rendered_at`` (the end of the
        render, the start of the encoding: what TIMINGS splits on)."""
        start = time.perf_counter()
        self._rendered_at = start
        try:
            picture = self.render(**params)
            self._rendered_at = time.perf_counter()
            out = encode(picture)
            self.last_status, self.last_message = "ok", ""
        except (WidgetInputError, MKTMEError) as exc:
            self.last_status, self.last_message = "input-error", str(exc)
            out = error(str(exc))
        except Exception as exc:  # a bug: say so briefly, never show a traceback to a learner
            self.last_status, self.last_message = "bug", f"{type(exc).__name__}: {exc}"
            out = error(self.last_message, bug=True)
        self.last_ms = 1000 * (time.perf_counter() - start)
        return out

    def apply_constraints(self) -> None:
        """Give every control the options ``constrain(params)`` allows, with no redraw in between.

        ``constrain`` maps a control's name to ``(options, value)``: the choices consistent with the
        other controls, and the value to show (the old one, or the nearest allowed). So a control can
        only offer settings that make sense together, and each move costs one redraw."""
        if self.constrain is None:
            return
        self._holding = True
        try:
            for name, (options, value) in self.constrain(self.params()).items():
                control = self.controls[name]
                with control.hold_sync():
                    if list(control.options) != list(options):
                        control.options = list(options)
                    if control.value != value:
                        control.value = value
        finally:
            self._holding = False

    def draw(self, params: Mapping[str, Any]) -> tuple[dict, dict]:
        """Render ``params`` to a mime bundle (what the static twin stores); never raises."""
        return self._picture(params, to_bundle, error_bundle)

    def view(self, params: Mapping[str, Any]) -> str:
        """Render ``params`` to the live output's HTML (one ``<img>`` with alt text, or a card); never raises."""
        def encode(obj) -> str:
            if isinstance(obj, Figure):  # its size, for the placeholder of a leaf it leaves (no jump)
                key = _cache_key(params)
                if key is not None:
                    self._sizes[key] = (int(obj.bbox.width), int(obj.bbox.height))
                    while len(self._sizes) > 512:
                        self._sizes.pop(next(iter(self._sizes)))
            return live_html(obj, level=self.png_level, lead="" if self.lead is None else self.lead(**params))
        return self._picture(params, encode, lambda message, bug=False: _live_error(message, bug=bug))

    def update(self, change: Any = None) -> None:
        """Redraw the output for the current control values (the ``observe`` callback).

        The output's HTML is replaced in place: one message with one copy of the picture, no
        clearing and re-displaying. With ``cache=n`` the last ``n`` settings are kept, so going back
        to a setting costs nothing (the render function is pure)."""
        if self._holding:  # a control moved by constrain(): one redraw follows, for all of them
            return
        start, cpu, wall = time.perf_counter(), time.process_time(), time.time()
        self.apply_constraints()
        params = self.params()
        shown = False  # the page already shows this setting (a drawn leaf of the panel): nothing to send
        if self.panel is not None:
            self.panel.rebuild()
            here = self.panel.prefix()
            key = _cache_key(params)
            shown = key is not None and here in self.panel.shows and self.panel.shows[here] == key
        self._last_front = shown
        self._updated_at = time.monotonic()
        if shown:
            value, hit = "", None
            self.last_status, self.last_message = self._leaf_status.get(here, ("ok", ""))
            self._rendered_at = start
        else:
            if self.panel is not None:
                # A move the kernel must draw: first blank the stale leaves one control's move away, so
                # that a front control moved right after it (a learner who edits a price, then picks
                # another design) cannot show a picture of the old setting; the others after the picture.
                self._forget_stale(apart=1)
            value, hit = self._value_of(params, start)
        drawn = time.perf_counter()
        if not shown:
            self._put(params, value)
        if self.panel is not None:
            self._forget_stale()
        self.updates += 1
        TIMINGS.append({"widget": self.title, "render_ms": 1000 * (self._rendered_at - start),
                        "bundle_ms": 1000 * (drawn - self._rendered_at),
                        "send_ms": 1000 * (time.perf_counter() - drawn),
                        "cpu_ms": 1000 * (time.process_time() - cpu),
                        "bytes": len(value), "status": self.last_status, "cached": hit is not None or shown,
                        "front": shown, "t_wall": wall, "t_end_wall": time.time()})
        self._schedule_prefetch()

    def _value_of(self, params: Mapping[str, Any], start: float):
        """``(html, cache hit or None)`` for ``params``: from the cache, else drawn (and kept)."""
        key = _cache_key(params) if self.cache else None
        hit = self._cache.get(key) if key is not None else None
        if hit is not None:
            self._cache.move_to_end(key)
            value, self.last_status, self.last_message = hit
            self._rendered_at = start
        else:
            value = self.view(params)
            if key is not None and self.last_status != "bug":
                self._cache[key] = (value, self.last_status, self.last_message)
                while len(self._cache) > self.cache:
                    self._cache.popitem(last=False)
        return value, hit

    def _put(self, params: Mapping[str, Any], value: str) -> None:
        """Send ``value`` where the page shows ``params``: the output, or that setting's leaf."""
        if self.panel is None:
            self._output.value = value
            return
        prefix = self.panel.prefix_of(params)
        if prefix is None or prefix not in self.panel.leaves:
            return
        self.panel.leaves[prefix].value = value
        key = _cache_key(params)
        if self.last_status == "bug" or key is None:  # never kept: the next visit draws again
            self.panel.shows.pop(prefix, None)
        else:
            self.panel.shows[prefix] = key
            self._leaf_status[prefix] = (self.last_status, self.last_message)

    def prepare(self, params: Mapping[str, Any]) -> None:
        """Put the picture of ``params`` where the page will show it, before a control moves there.

        For a button that moves a control (the stepper's "step ▶"): the picture travels first, so the
        page has it when the control's new value arrives. Leaves the widget's status as it was."""
        params = dict(params)
        if self.panel is not None:
            prefix = self.panel.prefix_of(params)
            if prefix is not None and self.panel.shows.get(prefix) == _cache_key(params):
                return
        saved = (self.last_status, self.last_message, self.last_ms, self._rendered_at)
        try:
            value, _hit = self._value_of(params, time.perf_counter())
            self._put(params, value)
        finally:
            self.last_status, self.last_message, self.last_ms, self._rendered_at = saved

    # -- the page panel: which setting each leaf stands for ----------------------------------
    def leaf_params(self, prefix: Sequence[int]) -> dict[str, Any]:
        """The setting the page shows when the front controls move to ``prefix``: their values there, the
        other controls as they are, then what such a move does (``arrive``) and ``constrain``."""
        here = self.params()
        params = {**here, **self.panel.values_at(prefix)}
        moved = frozenset(name for name in self.panel.names if params[name] != here[name])
        if moved and self.arrive is not None:
            params.update(self.arrive(dict(params), moved))
        if moved and self.constrain is not None:
            for name, (_options, value) in self.constrain(dict(params)).items():
                params[name] = value
        return params

    def _forget_stale(self, apart: int | None = None) -> None:
        """Blank every drawn leaf whose picture is no longer what a move there shows (another control
        moved); with ``apart``, only the leaves at most that many front controls away."""
        here = self.panel.prefix()
        current = self.panel.shows.get(here)
        for prefix, key in list(self.panel.shows.items()):
            if prefix == here or (apart is not None and self.panel.controls_apart(prefix, here) > apart):
                continue
            if not self.panel.in_shape(prefix) or key != _cache_key(self.leaf_params(prefix)):
                self.panel.forget(prefix, self._sizes.get(key) or self._sizes.get(current))

    # -- drawing ahead, while the learner reads ---------------------------------------------
    def neighbours(self, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The settings one move away from ``params`` (default: the current one), nearest first.

        One control changes: a slider by up to :data:`PREFETCH_REACH` steps either way (slider moves
        are mostly small), a drop-down or toggle to any of its options. ``constrain`` is applied as a
        move would apply it, so each setting is one the controls can actually reach. Text boxes are
        never guessed."""
        base = dict(self.params() if params is None else params)
        found: list[tuple[int, dict[str, Any]]] = []
        for name, control in self.controls.items():
            if self.panel is not None and name in self.panel.names:
                continue  # a move of a front control is one of the panel's leaves, drawn first
            values = getattr(control, "_options_values", None)
            if not values or base.get(name) not in values:
                continue
            here = values.index(base[name])
            reach = PREFETCH_REACH if isinstance(control, W.SelectionSlider) else len(values)
            for i, value in enumerate(values):
                if i != here and abs(i - here) <= reach:
                    found.append((abs(i - here), {**base, name: value}))
        found.sort(key=lambda item: item[0])
        settings = []
        for _, candidate in found:
            if self.constrain is not None:
                try:
                    for name, (_options, value) in self.constrain(dict(candidate)).items():
                        candidate[name] = value
                except Exception:  # an inconsistent guess is simply not drawn ahead
                    continue
            if candidate != base and candidate not in settings:
                settings.append(candidate)
        return settings

    def prefetch_step(self) -> bool:
        """Draw one setting ahead; False when there is none left. In this order: a leaf of the page panel
        one front move away, a not-yet-cached neighbour setting (a move of another control) into the
        cache, any other leaf of the panel.

        Leaves the widget's own state (``last_status``, ``last_ms``, the output) as it was: what the
        learner sees is the current setting, drawn by :meth:`update`. A full cache drops its least
        recently used setting, never the current one or a neighbour; when the neighbours alone would
        overflow the cache, it draws only as many as fit."""
        return self._draw_ahead_one(neighbours=True, rest=True)

    def _draw_ahead_one(self, *, neighbours: bool, rest: bool) -> bool:
        panel = self.panel is not None
        return bool((panel and self._fill_leaf(within=1)) or (neighbours and self._prefetch_neighbour())
                    or (panel and rest and self._fill_leaf()))

    def _prefetch_neighbour(self) -> bool:
        """Draw one not-yet-cached neighbour setting into the cache; False when there is none left."""
        if not self.cache:
            return False
        current = _cache_key(self.params())
        neighbours = [(p, _cache_key(p)) for p in self.neighbours()]
        keep = {current, *(k for _, k in neighbours)}
        for params, key in neighbours:
            if key is None or key in self._cache:
                continue
            if len(self._cache) >= self.cache:
                spare = next((k for k in self._cache if k not in keep), None)
                if spare is None:
                    return False
                del self._cache[spare]
            saved = (self.last_status, self.last_message, self.last_ms, self._rendered_at)
            wall = time.time()
            try:
                value = self.view(params)
                if self.last_status != "bug":
                    self._cache[key] = (value, self.last_status, self.last_message)
                    self.prefetched += 1
            finally:
                self.last_status, self.last_message, self.last_ms, self._rendered_at = saved
                PREFETCHES.append({"widget": self.title, "t_wall": wall, "t_end_wall": time.time()})
            if current in self._cache:
                self._cache.move_to_end(current)  # what the learner sees stays the newest
            return True
        return False

    def _fill_leaf(self, within: int | None = None) -> bool:
        """Draw the nearest leaf of the panel that does not show its setting yet (at most ``within`` front
        moves away); False when all do."""
        self.panel.rebuild()
        here = self.panel.prefix()
        for prefix in self.panel.nearest_first():
            if within is not None and self.panel.distance(prefix, here) > within:
                break
            params = self.leaf_params(prefix)
            key = _cache_key(params)
            if key is None or self.panel.shows.get(prefix) == key or (prefix, key) in self._leaf_bugs:
                continue  # drawn already, never guessed (unhashable), or a bug to show only when visited
            saved = (self.last_status, self.last_message, self.last_ms, self._rendered_at)
            wall = time.time()
            try:
                value, hit = self._value_of(params, time.perf_counter())
                self._put(params, value)
                if self.last_status == "bug":
                    self._leaf_bugs.add((prefix, key))
                if hit is None:
                    self.prefetched += 1
            finally:
                self.last_status, self.last_message, self.last_ms, self._rendered_at = saved
                PREFETCHES.append({"widget": self.title, "t_wall": wall, "t_end_wall": time.time(), "leaf": True})
            return True
        return False

    def _schedule_prefetch(self, delay: float | None = None) -> None:
        """Queue :meth:`prefetch_step` on the kernel's event loop, when one runs (a live notebook).

        Each step draws one setting (tens of ms) and then yields, so a move the learner makes in the
        meantime waits at most one step; a new update restarts the wait. No loop (a script, a test,
        ``MKTME_STATIC=1``): nothing is drawn ahead."""
        if not (self.panel is not None or (self.cache and self.draw_ahead)) or is_static() \
                or not draw_ahead_enabled():
            return
        try:
            import asyncio
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._prefetch_timer is not None:
            self._prefetch_timer.cancel()

        def step() -> None:
            self._prefetch_timer = None
            quiet = time.monotonic() - self._updated_at
            try:  # other controls' settings only where drawing them ahead pays (draw_ahead)
                more = self._draw_ahead_one(neighbours=self.draw_ahead, rest=quiet >= PANEL_REST_S)
            except Exception:  # drawing ahead must never disturb the widget
                return
            if more:
                self._schedule_prefetch(PREFETCH_GAP_S)
            elif self.panel is not None and quiet < PANEL_REST_S:  # the far leaves, once the learner pauses
                self._schedule_prefetch(PANEL_REST_S - quiet)

        # Soon after a move the page answered by itself; a little later after one that needed the kernel
        # (a text box, a control outside the panel); widgets without a panel wait longest, since every
        # move of theirs needs the kernel and should not find a drawing under way.
        first = (PREFETCH_DELAY_S if self.panel is None else PANEL_DELAY_S if self._last_front
                 else PANEL_AFTER_KERNEL_S)
        self._prefetch_timer = loop.call_later(first if delay is None else delay, step)

    # -- the static twin -------------------------------------------------------------------
    def describe(self, params: Mapping[str, Any]) -> str:
        """One line naming every control's setting, e.g. ``Address = 0x1040 · Key = KeyID 0 ...``."""
        parts = []
        for name, control in self.controls.items():
            if name in params:
                parts.append(f"{control.description} = {_label_of(control, params[name])}")
        return " · ".join(parts)

    def static_views(self) -> list[tuple[str, tuple[dict, dict]]]:
        """``[(caption, bundle), ...]`` for the default setting and every telling setting."""
        views = []
        for i, t in enumerate(self.telling, start=1):
            params = {**self.defaults, **dict(t.params)}
            caption = f"**{i}. {t.caption}**  \n*Setting: {self.describe(params)}*"
            views.append((caption, self.draw(params)))
        return views

    def show_static(self) -> None:
        heading = (f"*Static view of the widget **{self.title}** (no live kernel): the same function drawn at "
                   f"{len(self.telling)} telling setting(s).*")
        display(_markdown(heading), raw=True)
        for caption, (data, metadata) in self.static_views():
            display(_markdown(caption), raw=True)
            display(data, raw=True, metadata=metadata)

    def _ipython_display_(self) -> None:
        if is_static():
            self.show_static()
        else:
            if self.updates == 0:
                self.update()
            display(self.container)
