"""Lesson 04: the cache stepper (every line shown, forwards and backwards, predict mode) and the tables."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import html  # noqa: E402

import pytest  # noqa: E402

from mktme_lite.scenarios import incoherence as inc  # noqa: E402
from mktme_lite.widgets import WidgetInputError  # noqa: E402
from mktme_lite.viz import cachelines as cv  # noqa: E402
from mktme_lite.widgets import cache_incoherence as cw  # noqa: E402


@pytest.fixture
def widget():
    return cw.cache_stepper()


def test_every_cache_line_appears_with_full_address_keyid_and_state():
    for name in inc.STEPPER_SCENARIOS:
        s = inc.stepper(name)
        for step in range(len(s) + 1):
            card = cw.render_cache_stepper(name, step)
            for pkg in s.at(step).caches:
                for line in pkg:
                    assert f"{line.hpa:#x}" in card.html and f"{line.hpa:#x}" in card.text
                    glyph = "●" if line.dirty else "◌" if line.speculative else "○"
                    assert f"{glyph} " in card.text
            for event in s.at(step).events[:12]:
                assert event in card.text


def test_state_is_written_out_not_only_drawn():
    card = cw.render_cache_stepper("c5", 1)
    assert "dirty (Modified): will be written back" in card.text
    assert "K1 (alice)" in card.text and "K2 (bob)" in card.text
    spec = cw.render_cache_stepper("speculative", 1)
    assert "filled speculatively" in spec.text


def test_predict_mode_hides_the_read_until_a_prediction_is_given():
    hidden = cw.render_cache_stepper("c5", 2, "predict", "?")
    assert "Predict first" in hidden.text and "returned" not in hidden.text
    assert hidden.text != cw.render_cache_stepper("c5", 2).text
    # hidden shows the state before the read: the same cache lines as step 1
    assert [line for line in hidden.text.splitlines() if line.startswith("  0x")] == \
        [line for line in cw.render_cache_stepper("c5", 1).text.splitlines() if line.startswith("  0x")]
    right = cw.render_cache_stepper("c5", 2, "predict", "garbage")
    wrong = cw.render_cache_stepper("c5", 2, "predict", "alice's data")
    assert "You predicted garbage: right" in right.text
    assert "not what the machine did" in wrong.text
    assert "next read is step 2" in cw.render_cache_stepper("c5", 1, "predict").text


def _txt(data, wrap=True):
    """How a line's 64 bytes appear in a card's HTML."""
    return html.escape(cv.line_text(data, wrap=wrap))


def _reads():
    return [(name, step, read) for name in inc.STEPPER_SCENARIOS for step, read in inc.stepper(name).reads()]


def _rows(card):
    """The card's text rows for cache lines and DRAM lines, without the ◀ marks."""
    return [r.replace(" ◀", "") for r in card.text.splitlines() if r.startswith("  ")]


@pytest.mark.parametrize("name,step,read", _reads(), ids=lambda v: str(v) if not hasattr(v, "line") else "")
def test_predict_mode_hides_what_would_give_the_read_away(name, step, read):
    """Finding 3: before a prediction, neither the read line's DRAM row (its ciphertext and what a fill
    through each KeyID brings: for a miss, the answer) nor its cached copy at the reader's full address
    is shown; everything else of the state before the read is; once a prediction is picked, all of it is."""
    s = inc.stepper(name)
    before = s.at(step - 1)
    card = cw.render_cache_stepper(name, step, "predict", "?")
    reference = cw.render_cache_stepper(name, step - 1)  # the same state, everything shown
    secret_rows = [f"  line {read.line} at "] + [f"  {v.hpa:#x} line {read.line}, K{read.keyid}"
                                                  for pkg in before.caches for v in pkg
                                                  if (v.line, v.keyid) == (read.line, read.keyid)]
    hidden, full = _rows(card), _rows(reference)
    assert len(hidden) == len(full)
    for h, f in zip(hidden, full):
        if any(h.startswith(r) for r in secret_rows):
            assert cv.HIDDEN in h and h != f
        else:
            assert h == f  # every other line, and the secret's presence, KeyID and state, stay
    dram_row = next(h for h in hidden if h.startswith(f"  line {read.line} at "))
    assert dram_row.count(cv.HIDDEN) == 3  # the ciphertext and both KeyIDs' fills
    # the HTML hides the same cells: the answer's bytes appear only where another line holds the same ones
    row = next(d for d in before.dram if d.line == read.line)
    view = row.as_new if read.keyid == before.new else row.as_old
    others = [d.as_old for d in before.dram if d.line != read.line] + [d.as_new for d in before.dram
                                                                        if d.line != read.line]
    others += [v.data for pkg in before.caches for v in pkg if (v.line, v.keyid) != (read.line, read.keyid)]
    if view not in others:
        assert _txt(view) not in card.html and _txt(view) in reference.html
    assert card.html.count(cv.HIDDEN) == len(secret_rows) + 2
    shown = cw.render_cache_stepper(name, step, "predict", cw.PREDICTIONS[1])
    assert cv.HIDDEN not in shown.text and _txt(read.data) in shown.html
    assert cv.HIDDEN not in cw.render_cache_stepper(name, step).text  # show mode hides nothing


def test_predict_mode_hides_the_next_read_on_the_steps_before_it():
    s = inc.stepper("c5")
    card = cw.render_cache_stepper("c5", 1, "predict")  # step 2 reads line 0 through bob's KeyID
    row = next(d for d in s.at(1).dram if d.line == 0)
    assert _txt(row.as_new, wrap=True) not in card.html and "line 0 (cached under K2 and in DRAM)" in card.text
    assert _txt(row.as_new, wrap=True) in cw.render_cache_stepper("c5", 1).html
    last = len(s)  # after the last read nothing is hidden
    assert cv.HIDDEN not in cw.render_cache_stepper("c5", last, "predict", "garbage").text


def test_buttons_step_forwards_and_backwards(widget):
    widget.update()
    step = widget.controls["step"]
    start = step.value
    seen = widget.output.value
    forward, back = widget.buttons[1], widget.buttons[0]
    forward.click()
    assert step.value == start + 1 and widget.output.value != seen
    back.click()
    assert step.value == start and widget.output.value == seen  # the same state, drawn the same
    for _ in range(50):
        back.click()
    assert step.value == 0
    for _ in range(50):
        forward.click()
    assert step.value == len(inc.stepper("c5"))
    assert widget.last_status == "ok"


def test_controls_that_would_change_nothing_are_disabled(widget):
    """Finding 4: "Your prediction" outside predict mode, and "◀ step back" at step 0, change nothing, so
    the widget rightly sends no new picture (the browser bench waited in vain for one); they are now
    disabled there, and every control left enabled redraws when moved."""
    widget.update()
    prediction, (back, forward) = widget.controls["prediction"], widget.buttons
    assert widget.controls["mode"].value == "show" and prediction.disabled
    seen = widget.output.value
    widget.set(prediction="zeros")  # the picture ignores a prediction in show mode: nothing to redraw
    assert widget.output.value == seen
    widget.set(step=0)
    assert back.disabled and not forward.disabled
    seen = widget.output.value
    back.click()
    assert widget.controls["step"].value == 0 and widget.output.value == seen
    widget.set(step=len(inc.stepper("c5")))
    assert forward.disabled and not back.disabled
    widget.set(mode="predict")
    for step in range(len(inc.stepper("c5")) + 1):
        widget.set(step=step)
        has_read = inc.stepper("c5").at(step).read is not None
        assert prediction.disabled == (not has_read)
        assert back.disabled == (step == 0) and forward.disabled == (step == len(inc.stepper("c5")))
        if has_read:  # enabled: every change of the prediction redraws
            for guess in cw.PREDICTIONS[1:3]:
                seen = widget.output.value
                widget.set(prediction=guess)
                assert widget.output.value != seen
    widget.set(scenario="c6")  # a new scenario starts at step 0
    assert back.disabled and not forward.disabled and prediction.disabled


def test_a_new_scenario_resets_the_step_slider_and_the_prediction(widget):
    widget.set(mode="predict", prediction="zeros")
    widget.set(scenario="protocol")
    assert widget.controls["step"].value == 0
    assert [v for _, v in widget.controls["step"].options] == list(range(len(inc.stepper("protocol")) + 1))
    assert widget.controls["prediction"].value == "?"
    widget.set(prediction="zeros")
    widget.buttons[1].click()
    assert widget.controls["prediction"].value == "?" and widget.last_status == "ok"


def test_telling_captions_match_the_engine():
    c6 = dict(inc.stepper("c6").reads())
    assert c6[9].category == "garbage" and c6[10].category == "bob's data" and c6[12].category == "bob's data"
    gone = [e for e in inc.stepper("c6").at(8).events if "writeback" in e]
    assert [("keyid=2" in e) for e in gone] == [True] * 4 + [False] * 2
    assert dict(inc.stepper("speculative").reads())[5].category == "alice's older data"
    assert dict(inc.stepper("c5").reads())[2].category == "garbage"


@pytest.mark.parametrize("kwargs, words", [
    (dict(step=99), "step .*0 to 7"), (dict(scenario="c9"), "stepper scenario"), (dict(mode="guess"), "mode"),
    (dict(prediction="maybe"), "prediction"),
])
def test_bad_stepper_input_is_refused_with_what_is_allowed(kwargs, words):
    with pytest.raises(WidgetInputError, match=words):
        cw.render_cache_stepper(**kwargs)


def test_tables_and_plot():
    t = cw.render_protocol_table(inc.protocol())
    assert "STALE" in t.text and "459fbe006934" in t.text and "over 200 µs" in t.text
    i = cw.render_instruction_table(inc.instruction_table())
    assert i.text.count("NOT ENOUGH") == sum(not v for r in inc.instruction_table() for v in r.enough.values())
    c = cw.render_coherent_table(inc.coherent_rerun())
    assert "not AMD's implementation" in c.text and c.text.count("SHOWS") == 5
    pts = inc.corruption_stats(sets=(2, 4), dirty=(0.5,), delays=(0, 64), runs=4)
    fig = cw.render_corruption_plot(pts)
    assert "Base point: 8 sets x 2 ways" in fig.mktme_alt and "→" in fig.mktme_alt
    for fn in (cw.render_protocol_table, cw.render_instruction_table, cw.render_coherent_table,
               cw.render_corruption_plot):
        with pytest.raises(WidgetInputError, match="non-empty list"):
            fn([])
