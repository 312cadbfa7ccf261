"""Lesson 06 widget: the race explorer.

    from mktme_lite.widgets.pconfig_races import race_explorer, render_race_explorer
    race_explorer()                                            # scenario x scope -> histogram; group, step -> replay
    render_race_explorer("rotate_no_barrier", "home", group=0, step=8)   # the same picture, no widget

Pick a scenario of :data:`mktme_lite.scenarios.races.SCENARIOS` and a key-table scope: the
histogram shows how every interleaving ends. Pick an outcome group (a dropdown: clicking a bar
would need JavaScript of its own) and step through its example interleaving with the slider: the
timeline marks the step, and the panel beside it shows the events of that step, every cached
line, what DRAM holds and the key tables.

The experiments are :func:`~mktme_lite.scenarios.races.explored` (every interleaving, remembered
per scenario and scope: a redraw never explores again) and
:func:`~mktme_lite.scenarios.races.replay`; the pictures are :mod:`mktme_lite.viz.races`.
Moving the scenario or the scope refills the group and step controls first and then draws once.
"""

from __future__ import annotations

from functools import lru_cache

from ..params import choose, whole
from ..scenarios.races import KEYTABLE_SCOPES, SCENARIOS, explored, replay
from ..viz import LessonFigure, race_figure
from . import LessonWidget, Telling, dropdown, slider, toggle

__all__ = ["END", "render_race_explorer", "race_explorer"]

_SCOPE_LABELS = {"home": "home (the line's memory controller)", "writer": "writer (the package writing back)",
                 "platform": "platform (one shared table)"}


@lru_cache(maxsize=128)
def _replayed(name: str, scope: str, group: int):
    scen = SCENARIOS[name]
    return replay(scen, explored(scen, scope).groups[group].example, scope)


def _case(scenario, scope, group):
    name = choose(scenario, SCENARIOS, "scenario")
    scope = choose(scope, KEYTABLE_SCOPES, "key-table scope")
    ex = explored(SCENARIOS[name], scope)
    group = whole(group, f"outcome group (0..{len(ex.groups) - 1} for {name} under {scope})", 0, len(ex.groups) - 1)
    return name, scope, ex, group


#: The step slider's last position: the end of whichever interleaving is replayed.
END = "end"

#: The most positions the step slider takes: the longest example interleaving of any scenario, scope and
#: outcome group (rotate_safe_retry under the platform scope, group 0: 26 steps, so 27 slider positions,
#: 0..26, the last shown as the end). The page panel keeps that many leaves from the start, so a scenario
#: with a longer replay needs no new widgets in the page (in Chromium the Scenario move that rebuilt them
#: took 94 ms against a median of 28 for the others, benchmarks/README.md). A constant, not computed
#: when the widget is built: that would explore every scenario; a test checks it is the true maximum.
STEP_CAPACITY = 27


def render_race_explorer(scenario: str = "rotate_unsafe", scope: str = "home", group: int = 0,
                         step: int | str = END) -> LessonFigure:
    """The outcome histogram of ``scenario`` under ``scope`` with outcome ``group`` framed, and that
    group's example interleaving replayed as a timeline, with the state after ``step`` (``"end"``: the last)."""
    name, scope, ex, group = _case(scenario, scope, group)
    steps = _replayed(name, scope, group)
    if isinstance(step, str) and step == END:
        step = len(steps) - 1
    step = whole(step, f"step (0..{len(steps) - 1} in this interleaving, or {END!r})", 0, len(steps) - 1)
    scen = SCENARIOS[name]
    return race_figure(ex, steps, [t.name for t in scen.threads], group=group, at=step)


def _group_options(name: str, scope: str) -> list[tuple[str, int]]:
    ex = explored(SCENARIOS[name], scope)
    return [(f"{i}. {'OK' if g.ok else 'BAD'} x{g.count}: {g.summary}"[:90], i) for i, g in enumerate(ex.groups)]


def _step_options(name: str, scope: str, group: int) -> list[tuple[str, int]]:
    n = len(_replayed(name, scope, group)) - 1
    return [(f"{i} of {n}", i) for i in range(n)] + [(f"{n} of {n}", END)]


def _first_writeback(name: str, scope: str, group: int) -> int:
    """The first step of the group's example that writes a line back to DRAM (the race's moment)."""
    steps = _replayed(name, scope, group)
    return next((s.index for s in steps if any(" writeback " in e for e in s.events)), len(steps) - 1)


class _RaceExplorer(LessonWidget):
    """A LessonWidget whose group and step controls follow the scenario and scope: while they are
    refilled, their own redraws are held back, so one move of a control draws one picture."""

    def __init__(self, controls, **kwargs):
        self._refilling = 0
        c = controls
        c["scenario"].observe(self._refill_groups, names="value")
        c["scope"].observe(self._refill_groups, names="value")
        c["group"].observe(self._refill_steps, names="value")
        super().__init__(render_race_explorer, controls, **kwargs)

    def update(self, change=None) -> None:
        if not self._refilling:
            super().update(change)

    def neighbours(self, params=None):
        """One move away, as the refilling controls make it: the step two either way; the next scenario
        (group 0, to its end), the next group (replayed to its end), the other scopes, then the previous
        scenario and group."""
        base = dict(self.params() if params is None else params)
        try:
            name, scope, ex, group = _case(base["scenario"], base["scope"], base["group"])
            steps = [v for _, v in _step_options(name, scope, group)]
        except Exception:  # an unreachable setting: nothing to draw ahead
            return []
        here = steps.index(base["step"]) if base["step"] in steps else len(steps) - 1
        found = [{**base, "step": steps[i]} for i in (here + 1, here - 1, here + 2, here - 2)
                 if 0 <= i < len(steps)]
        names = list(SCENARIOS)
        nxt, prev = names.index(name) + 1, names.index(name) - 1
        # forward before back: the next scenario and group, the other scopes, then the previous ones
        found += [{**base, "scenario": names[nxt], "group": 0, "step": END}] if nxt < len(names) else []
        found += [{**base, "group": group + 1, "step": END}] if group + 1 < len(ex.groups) else []
        found += [{**base, "scope": s, "group": 0, "step": END} for s in KEYTABLE_SCOPES if s != scope]
        found += [{**base, "scenario": names[prev], "group": 0, "step": END}] if prev >= 0 else []
        found += [{**base, "group": group - 1, "step": END}] if group > 0 else []
        return [f for f in found if f != base]

    def _refill_groups(self, change=None) -> None:
        c = self.controls
        self._refilling += 1
        try:
            c["group"].options = _group_options(c["scenario"].value, c["scope"].value)
            c["group"].value = 0
            self._refill_steps()
        finally:
            self._refilling -= 1

    def _refill_steps(self, change=None) -> None:
        c = self.controls
        self._refilling += 1
        try:
            options = _step_options(c["scenario"].value, c["scope"].value, c["group"].value)
            c["step"].options = options
            c["step"].value = END
        finally:
            self._refilling -= 1

    def describe(self, params) -> str:
        """The setting in words, with the group and step labels of the setting's own scenario (the
        controls hold only the current scenario's)."""
        try:
            name, scope, _, group = _case(params["scenario"], params["scope"], params["group"])
            steps = _step_options(name, scope, group)
            label = {v: text for text, v in steps}.get(params["step"], str(params["step"]))
            return " · ".join([f"Scenario = {name}", f"Key-table scope = {scope}",
                               f"Outcome group to replay = {_group_options(name, scope)[group][0]}",
                               f"Step = {label}"])
        except Exception:  # a setting that cannot be drawn: the plain description, never a crash
            return super().describe(params)


def race_explorer() -> LessonWidget:
    """The race explorer widget (lesson 06)."""
    name, scope = "rotate_unsafe", "home"
    controls = {
        "scenario": dropdown("Scenario", [(f"{n}: {s.title}", n) for n, s in SCENARIOS.items()], name),
        "scope": toggle("Key-table scope", [(_SCOPE_LABELS[s].split(" (")[0], s) for s in KEYTABLE_SCOPES], scope),
        "group": dropdown("Outcome group to replay", _group_options(name, scope), 0),
        "step": slider("Step", _step_options(name, scope, 0), END),
    }
    controls["scope"].tooltips = [_SCOPE_LABELS[s] for s in KEYTABLE_SCOPES]
    controls["scenario"].layout.width = "44em"
    controls["group"].layout.width = "56em"
    unsafe_wb = _first_writeback(name, scope, 0)
    retry = explored(SCENARIOS["rotate_safe_retry"], "platform")
    telling = [
        Telling("The unsafe rotation under the home scope: in the first outcome group the new owner reads the old "
                "owner's secret, because its dirty line reached DRAM sealed with the new key B.", {}),
        Telling("The same interleaving at its write-back: the new owner's load makes P1's cache write the dirty "
                "line back, and P0's table (the line's home) seals it with key B, since P0 has already re-keyed.",
                {"step": unsafe_wb}),
        Telling("Write back, then re-key, each package on its own: under the writer scope every interleaving "
                "ends OK (under home it does not).", {"scenario": "rotate_no_barrier", "scope": "writer"}),
        Telling("The safe order with 10 retries instead of a mutex, under one platform table: a schedule that "
                "keeps the table busy for 11 attempts makes a kernel give up.",
                {"scenario": "rotate_safe_retry", "scope": "platform",
                 "group": next(i for i, g in enumerate(retry.groups) if not g.ok)}),
    ]
    return _RaceExplorer(controls, title="Race explorer", telling=telling, cache=64, front=("step",),
                         front_capacity={"step": STEP_CAPACITY},
                         intro="pick a scenario and a key-table scope to see how every interleaving ends; pick an "
                               "outcome group and move the step slider to replay one interleaving of it.")
