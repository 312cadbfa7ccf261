"""Lesson 04 widgets and pictures: the cache stepper, and the lesson's tables and plot.

    from mktme_lite.widgets.cache_incoherence import cache_stepper, render_cache_stepper
    cache_stepper()                                    # pick a scenario, step forwards and backwards
    render_cache_stepper("c6", step=8)                 # one step as a card: every line, DRAM, the events
    render_cache_stepper("c5", step=2, mode="predict") # the read hidden until a prediction is picked
    render_protocol_table(incoherence.protocol())      # the flush protocol step by step, with prices
    render_instruction_table(incoherence.instruction_table())
    render_coherent_table(incoherence.coherent_rerun())
    render_corruption_plot(incoherence.corruption_stats())

The experiments are in :mod:`mktme_lite.scenarios.incoherence`; each stepper scenario is run once
and every step's state is kept (a ``Machine.clone()`` per step), so a redraw only turns a snapshot
into HTML: stepping backwards shows exactly the state that step had.
"""

from __future__ import annotations

import ipywidgets as W

from ..errors import ParameterError
from ..params import choose, shown, whole
from ..scenarios.incoherence import (
    CATEGORIES,
    INSTRUCTIONS,
    KEY_PAIRS,
    PRICES,
    PROBES,
    STEPPER_SCENARIOS,
    CoherentRow,
    InstructionRow,
    ProtocolStep,
    StatPoint,
    stepper,
)
from ..viz import HTMLCard, LessonFigure
from ..viz.cachelines import cache_state, corruption_plot
from ..viz.tables import table
from . import LessonWidget, Telling, dropdown, slider, toggle

__all__ = ["MODES", "PREDICTIONS", "render_cache_stepper", "cache_stepper", "render_protocol_table",
           "render_instruction_table", "render_coherent_table", "render_corruption_plot"]

MODES = {"show": "show every step", "predict": "predict before you step"}
#: What the learner can predict a read returns ("?" = no prediction yet).
PREDICTIONS = ("?",) + CATEGORIES


def _who(snap, keyid: int) -> str:
    return "alice" if keyid == snap.old else "bob" if keyid == snap.new else ""


def _lines(snap, secret: tuple[int, int] | None = None) -> list[list[dict]]:
    """The cache lines as cache_state() takes them; ``secret`` = (line, KeyID): that full address's
    data is hidden (None), its presence, KeyID and state are kept."""
    return [[{"hpa": v.hpa, "pa": v.pa, "keyid": v.keyid, "dirty": v.dirty, "speculative": v.speculative,
              "data": None if secret == (v.line, v.keyid) else v.data, "who": _who(snap, v.keyid), "line": v.line}
             for v in pkg] for pkg in snap.caches]


def _dram(snap, secret: tuple[int, int] | None = None) -> list[dict]:
    """The frame's DRAM rows; the row of ``secret``'s line is hidden (its ciphertext and what a fill
    through either KeyID would bring: for a read that misses, that column IS the answer)."""
    rows = []
    for d in snap.dram:
        hide = secret is not None and d.line == secret[0]
        rows.append({"line": d.line, "pa": d.pa, "stored": None if hide else d.stored,
                     "views": {f"K{snap.old} (alice)": None if hide else d.as_old,
                               f"K{snap.new} (bob)": None if hide else d.as_new}})
    return rows


def _secret(s, step: int, prediction: str) -> tuple[int, int] | None:
    """In predict mode, the (line, KeyID) whose bytes would give an open prediction away: this step's
    read until a prediction is picked, else (a step with no read) the next read's."""
    snap = s.at(step)
    if snap.read is not None:
        return (snap.read.line, snap.read.keyid) if prediction == "?" else None
    nxt = next((s.at(i).read for i in range(step + 1, len(s) + 1) if s.at(i).read is not None), None)
    return None if nxt is None else (nxt.line, nxt.keyid)


def render_cache_stepper(scenario: str = "c5", step: int = 0, mode: str = "show", prediction: str = "?") -> HTMLCard:
    """One step of a stepper scenario: every cache line of each package (full address, KeyID, state,
    data), the frame's first four lines in DRAM, the events the step's op emitted and, for a load,
    what it returned. In ``mode="predict"`` a load's result (and the state after it) stays hidden
    until ``prediction`` is one of :data:`PREDICTIONS` other than ``"?"``, and so does everything that
    would give it away: the bytes of the line being read (its cached copy at the reader's full address,
    and its DRAM row: the ciphertext and what a fill through each KeyID would bring). Every other line,
    and the read line's presence, KeyID and state, stay shown. On a step without a read the same is
    hidden for the next read, so stepping up to it gives nothing away either."""
    choose(scenario, STEPPER_SCENARIOS, "stepper scenario")
    s = stepper(scenario)
    step = whole(step, f"step (0 to {len(s)} for this scenario)", 0, len(s))
    choose(mode, MODES, "mode")
    choose(prediction, PREDICTIONS, "prediction")
    snap = s.at(step)
    title_, keys, coherent, _ = STEPPER_SCENARIOS[scenario]
    head = f"{title_}. Step {step} of {len(s)}: " + ("the start (alice's frame in DRAM, nothing cached)"
                                                       if snap.op is None else snap.op.label)
    machine = ("coherent_keyids=True (a model of the SME_COHERENT idea)" if coherent
               else "no coherence across KeyIDs (MKTME)")
    note = (f"KeyID a = K{snap.old} (alice, package 1), KeyID b = K{snap.new} (bob, package 0); keys: "
            f"{KEY_PAIRS[keys]}; {machine}.")
    hidden = mode == "predict" and snap.read is not None and prediction == "?"
    secret = _secret(s, step, prediction) if mode == "predict" else None
    if hidden:
        before = s.at(step - 1)
        return cache_state(_lines(before, secret), _dram(before, secret), title=head + " (the state before it)",
                           read=f"Predict first: what will this read return? Pick your prediction; the result, "
                                f"the bytes of line {snap.read.line} (cached under K{snap.read.keyid} and in DRAM) "
                                "and the cache after the read are shown once you have.", read_strong=True,
                           note=note, highlight=snap.op.line)
    read = ""
    if snap.read is not None:
        read = f"The read through K{snap.read.keyid} returned {snap.read.verdict}."
        if mode == "predict":
            right = prediction == snap.read.category
            read = (f"You predicted {prediction}: {'right' if right else 'not what the machine did'}. " + read)
    elif mode == "predict":
        nxt = next((i for i in range(step + 1, len(s) + 1) if s.at(i).read is not None), None)
        read = (f"No read in this step; the next read is step {nxt}: step there and predict it."
                if nxt is not None else "No read in this step, and none after it.")
    if secret is not None:
        read += f" Until then the bytes of line {secret[0]} (cached under K{secret[1]} and in DRAM) are hidden."
    return cache_state(_lines(snap, secret), _dram(snap, secret), title=head, events=snap.events, read=read,
                       read_strong=snap.read is not None and "garbage" in snap.read.category, note=note,
                       highlight=None if snap.op is None or snap.op.kind in ("wbinvd", "wbnoinvd", "keyid_change",
                                                                             "time_passes") else snap.op.line)


def _options(scenario: str) -> list[tuple[str, int]]:
    n = len(stepper(scenario))
    return [(str(i), i) for i in range(n + 1)]


def cache_stepper() -> LessonWidget:
    """The cache stepper widget (lesson 04): a scenario, a step slider with back/forward buttons,
    and a "predict before you step" mode. "Your prediction" is enabled only where it changes the
    picture (predict mode, a step with a read), "◀ step back" and "step ▶" only away from their end."""
    controls = {
        "scenario": dropdown("Scenario", [(t, name) for name, (t, *_rest) in STEPPER_SCENARIOS.items()], "c5"),
        "step": slider("Step", _options("c5"), 2),
        "mode": toggle("Mode", [(label, m) for m, label in MODES.items()], "show"),
        "prediction": dropdown("Your prediction", [(p, p) for p in PREDICTIONS], "?"),
    }
    controls["scenario"].layout.width = "44em"
    controls["mode"].style.button_width = "auto"

    # Registered before the shell's own observers, so the slider and the prediction are reset first.
    def new_scenario(change):
        controls["prediction"].value = "?"
        controls["step"].options = _options(change["new"])
        controls["step"].value = 0

    def new_step(change):
        controls["prediction"].value = "?"

    controls["scenario"].observe(new_scenario, names="value")
    controls["step"].observe(new_step, names="value")
    telling = [
        Telling("C5: alice wrote line 0 through KeyID a and it is still dirty in the cache; bob's read through "
                "KeyID b fills from DRAM and gets garbage that misses her write (stale).", {}),
        Telling("C6, bob's package evicts first: bob's four lines reach DRAM, then alice's two dirty lines "
                "(0 and 2) are written back over them.", {"scenario": "c6", "step": 8}),
        Telling("C6, the read: bob's line 0 is garbage now (alice's ciphertext under her key, decrypted with "
                "bob's); lines 1 and 3 are his.", {"scenario": "c6", "step": 9}),
        Telling("Speculative fill (no-encrypt keys): bob reads alice's older data from a stale clean line the "
                "CPU filled before the frame was his.", {"scenario": "speculative", "step": 5}),
    ]
    # The page switches between the steps and the two modes itself (front=): a step move resets the
    # prediction (new_step above), so each step's picture is drawn with the prediction not yet made.
    def arrive(params, moved):
        return {"prediction": "?"} if "step" in moved else {}

    w = LessonWidget(render_cache_stepper, controls, title="Cache stepper", telling=telling,
                     front=("step", "mode"), arrive=arrive,
                     front_capacity={"step": max(len(_options(name)) for name in STEPPER_SCENARIOS)},
                     intro="pick a scenario and step through it op by op, forwards and backwards: every cache "
                           "line of both packages, the frame's DRAM, and the events of each op.")
    back = W.Button(description="◀ step back", tooltip="show the previous step")
    forward = W.Button(description="step ▶", tooltip="run the next op")
    back.add_class("mktme-step-back")
    forward.add_class("mktme-step-forward")

    def move(delta):
        def click(_):
            ctl = controls["step"]
            values = [v for _, v in ctl.options]
            step = values[max(0, min(len(values) - 1, values.index(ctl.value) + delta))]
            if step == ctl.value:
                return
            # The new step's picture first (unless it is drawn already), then the slider: the page switches
            # to that step's output when the slider's state arrives, and finds the picture there.
            w.prepare({**w.params(), "step": step, "prediction": "?"})
            ctl.value = step
        return click

    back.on_click(move(-1))
    forward.on_click(move(+1))

    # A control that would change nothing is disabled, so it looks inert: the prediction outside predict
    # mode or on a step without a read (the picture ignores it there), the step buttons at the ends.
    def enable(_change=None):
        scenario, step = controls["scenario"].value, controls["step"].value
        values = [v for _, v in controls["step"].options]
        reads = stepper(scenario).at(step).read is not None
        controls["prediction"].disabled = not (controls["mode"].value == "predict" and reads)
        controls["prediction"].tooltip = ("what you think this step's read returns" if reads else
                                          "this step has no read" if controls["mode"].value == "predict" else
                                          "switch Mode to 'predict before you step' to predict")
        back.disabled = step == values[0]
        forward.disabled = step == values[-1]

    for name in ("scenario", "step", "mode"):
        controls[name].observe(enable, names="value")
    enable()
    heading, box, output = w.container.children
    w.container.children = (heading, box, W.HBox([back, forward]), output)
    w.buttons = (back, forward)
    return w


# ------------------------------------------------------------------------------------------------
# The lesson's tables and plot
# ------------------------------------------------------------------------------------------------
def _rows_of(rows, kind, what: str) -> list:
    if not isinstance(rows, (list, tuple)) or not rows or not all(isinstance(r, kind) for r in rows):
        got = f"an empty {type(rows).__name__}" if isinstance(rows, (list, tuple)) and not rows else shown(rows)
        raise ParameterError(f"rows must be a non-empty list of {kind.__name__}, as incoherence.{what}() returns; "
                             f"got {got}")
    return list(rows)


def _lines_list(lines) -> str:
    return "none" if not lines else ", ".join(map(str, lines))


def _price(ns: float) -> str:
    return "0" if ns == 0 else f"{ns / 1000:.1f} µs" if ns < 100_000 else f"over {ns / 1000:.0f} µs"


def render_protocol_table(rows) -> HTMLCard:
    """The flush protocol step by step: what each variant leaves of the two symptoms, what it spent, and
    its price at the literature anchors (:data:`~mktme_lite.scenarios.incoherence.PRICES`)."""
    rows = _rows_of(rows, ProtocolStep, "protocol")
    heads = ["protocol", "bob's lines lost (late write-back)", "stale read of line 1", "clflush", "WBINVD",
             "write-backs", "price (anchors)"]
    body = [[r.label, _lines_list(r.lost), "STALE" if r.stale_read else "no", str(r.counts["clflush"]),
             str(r.counts["wbinvd"]), str(r.counts["writeback"]), _price(r.price_ns)] for r in rows]
    caption = ("Probe: bob's line 1 filled speculatively; alice (package 1) dirty in lines 0, 1, 2; the change; bob "
               "reads line 1, writes 0, 2, 3; time passes, bob's package first.")
    footer = "Prices: " + "; ".join(f"{k}: {v[1]}" for k, v in PRICES.items()) + "."
    return table(heads, body, strong=("STALE",), caption=caption, footer=footer, ruled=True,
                 css_class="mktme-protocol-table")


def render_instruction_table(rows) -> HTMLCard:
    """Which instruction removes which symptom (computed by one probe per cell)."""
    rows = _rows_of(rows, InstructionRow, "instruction_table")
    heads = ["instruction"] + list(PROBES.values())
    body = [[INSTRUCTIONS.get(r.instruction, r.instruction)] + ["enough" if r.enough[p] else "NOT ENOUGH"
                                                                for p in PROBES] for r in rows]
    return table(heads, body, strong=("NOT ENOUGH",), ruled=True, css_class="mktme-instruction-table",
                 caption="Each cell: the symptom's probe run with that instruction used on the alias (or the "
                         "packages) named, on a fresh lab.")


def render_coherent_table(rows) -> HTMLCard:
    """Each symptom on the MKTME-like machine and on ``coherent_keyids=True`` (the SME_COHERENT idea)."""
    rows = _rows_of(rows, CoherentRow, "coherent_rerun")
    word = {True: "SHOWS", False: "gone"}
    body = [[r.symptom, word[r.incoherent], word[r.coherent], word[r.with_flush]] for r in rows]
    return table(["symptom", "no coherence (MKTME)", "coherent_keyids=True", "coherent, old alias flushed"], body,
                 strong=("SHOWS",), ruled=True, css_class="mktme-coherent-table",
                 caption="coherent_keyids=True models the idea of AMD's SME_COHERENT, not AMD's implementation.")


def render_corruption_plot(points) -> LessonFigure:
    """The fraction of seeded runs that lost data along each sweep of ``incoherence.corruption_stats()``."""
    pts = _rows_of(points, StatPoint, "corruption_stats")
    def most_common(values):
        values = list(values)
        return max(values, key=values.count)

    # The point the three sweeps share: each coordinate's most common value.
    base = (most_common(p.sets for p in pts), most_common(p.dirty for p in pts), most_common(p.delay for p in pts))
    data = []
    for p in pts:
        if (p.dirty, p.delay) == base[1:]:
            data.append({"sweep": "cache", "x": p.cache_bytes, "fraction": p.fraction, "runs": p.runs})
        if (p.sets, p.delay) == (base[0], base[2]):
            data.append({"sweep": "dirty", "x": p.dirty, "fraction": p.fraction, "runs": p.runs})
        if (p.sets, p.dirty) == base[:2]:
            data.append({"sweep": "delay", "x": p.delay, "fraction": p.fraction, "runs": p.runs})
    ways = pts[0].ways
    ref = (f"Base point: {base[0]} sets x {ways} ways ({base[0] * ways * 64} bytes per package), {base[1]:.0%} of the "
           f"region dirty, delay {base[2]}; seeds {pts[0].seeds[0]} to {pts[0].seeds[1]}.")
    return corruption_plot(data, title="Runs that lost data after a remap without a flush", reference=ref)
