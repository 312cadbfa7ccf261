"""The page panel (LessonWidget(front=...)): one output per setting of the front controls, switched by
the browser through jslinked stacks, drawn by the kernel ahead of the move (issue 10: the kernel round
trip alone measured 50-90 ms on the 2-core machine)."""
from __future__ import annotations

import asyncio

import ipywidgets as W
import matplotlib
import pytest
from ipywidgets.widgets.widget_link import Link

matplotlib.use("Agg")

from mktme_lite import viz  # noqa: E402
from mktme_lite.widgets import TIMINGS, LessonWidget, dropdown, slider, text, toggle  # noqa: E402
from mktme_lite.widgets import cache_incoherence, pconfig_races  # noqa: E402
from mktme_lite.widgets._panel import MAX_LEAVES, PENDING_CLASS, PagePanel  # noqa: E402


def _widget(**kwargs):
    calls = []

    def render(n=0, mode="a", note="x"):
        calls.append((n, mode, note))
        return viz.HTMLCard(f"<p>{n} {mode} {note}</p>", f"{n} {mode} {note}")

    controls = {"n": slider("N", [(str(i), i) for i in range(5)], 2),
                "mode": toggle("Mode", [("a", "a"), ("b", "b"), ("c", "c")], "a"),
                "note": text("Note", "x")}
    kwargs.setdefault("front", ("n", "mode"))
    return LessonWidget(render, controls, title="t", cache=64, **kwargs), calls


def _learner_reads(w, seconds: float) -> None:
    """Draw ``w`` in a live event loop, then let ``seconds`` pass with no move (drawing ahead runs)."""
    async def go():
        w.update()
        await asyncio.sleep(seconds)
    asyncio.run(go())


def _inside(box):
    yield box
    for child in getattr(box, "children", ()):
        yield from _inside(child)


def test_one_leaf_per_setting_of_the_front_controls_each_stack_linked_in_the_page():
    w, _ = _widget()
    assert len(w.panel.leaves) == 5 * 3 and w.panel.shape == (5, 3)
    stacks = [x for x in _inside(w.output_area) if isinstance(x, W.Stack)]
    assert len(stacks) == 1 + 5  # one for N, one per N option for Mode
    links = [p for p in w.panel._parts if isinstance(p, Link)]
    assert len(links) == len(stacks)
    sources = {(link.source[0].description, link.source[1]) for link in links}
    assert sources == {("N", "index"), ("Mode", "index")}
    assert all(link.target[1] == "selected_index" and link.target[0] in stacks for link in links)
    assert all(PENDING_CLASS in leaf.value for leaf in w.panel.leaves.values())


def test_a_front_move_draws_its_own_leaf_and_a_move_back_draws_nothing():
    w, calls = _widget()
    w.update()
    first = w.output
    assert "2 a x" in first.value and len(calls) == 1
    w.set(n=3)
    assert w.output is not first and "3 a x" in w.output.value
    assert "2 a x" in first.value  # the leaf the page showed before keeps its picture
    w.set(n=2)
    assert len(calls) == 2 and w.output is first
    assert TIMINGS[-1]["front"] and TIMINGS[-1]["bytes"] == 0  # the page had it: nothing was sent


def test_a_move_of_another_control_blanks_the_leaves_it_made_stale():
    w, calls = _widget()
    w.update()
    w.set(n=3)
    old = w.panel.leaves[(2, 0)]
    w.set(note="y")
    assert "3 a y" in w.output.value
    assert PENDING_CLASS in old.value and (2, 0) not in w.panel.shows
    w.set(n=2)
    assert "2 a y" in w.output.value


def test_drawing_ahead_fills_every_leaf_nearest_first_then_no_front_move_renders():
    w, calls = _widget()
    w.update()
    order, before = [], set(w.panel.shows)
    while w._fill_leaf():
        new = set(w.panel.shows) - before
        assert len(new) == 1
        order += new
        before |= new
    assert len(w.panel.shows) == 15 and w.prefetched == 14
    distances = [abs(p[0] - 2) + (p[1] != 0) for p in order]  # a slider's steps; a toggle's pick is one move
    assert distances == sorted(distances)
    drawn = len(calls)
    for n in range(5):
        for mode in "abc":
            w.set(n=n, mode=mode)
            assert f"{n} {mode} x" in w.output.value
    assert len(calls) == drawn


def test_arrive_draws_each_leaf_for_the_setting_the_move_produces():
    """The stepper resets the prediction on a step move: other steps' leaves must not show an answer
    to a prediction made at this step."""
    w = cache_incoherence.cache_stepper()
    w.update()
    c = w.controls
    c["mode"].value = "predict"
    reads = [v for _, v in c["step"].options
             if cache_incoherence.stepper(c["scenario"].value).at(v).read is not None]
    c["step"].value = reads[0]
    c["prediction"].value = "garbage"
    assert "You predicted garbage" in w.output.value
    while w._fill_leaf():
        pass
    others = [p for p in w.panel.shows if p != w.panel.prefix()]
    assert others
    for prefix in others:
        assert "You predicted" not in w.panel.leaves[prefix].value, prefix
    c["step"].value = reads[1] if len(reads) > 1 else reads[0] + 1
    assert c["prediction"].value == "?" and "You predicted" not in w.output.value


def test_a_step_button_puts_the_picture_in_place_before_the_slider_moves():
    w = cache_incoherence.cache_stepper()
    w.update()
    back, forward = w.buttons
    step = w.controls["step"].value
    forward.click()
    assert w.controls["step"].value == step + 1
    assert w.panel.prefix() in w.panel.shows
    assert w.output.value == w.view(w.params())


def test_refilled_options_rebuild_the_panel():
    w = pconfig_races.race_explorer()
    w.update()
    steps = len(w.controls["step"].options)
    assert w.panel.shape[0] >= steps
    names = [v for _, v in w.controls["scenario"].options]
    for name in names[1:]:
        w.controls["scenario"].value = name
        assert w.panel.shape[0] >= len(w.controls["step"].options)
        assert w.last_status == "ok" and w.output.value == w.view(w.params())
    assert w.panel.rebuilds >= 1


def test_bad_front_controls_are_refused():
    with pytest.raises(ValueError, match="not one of the widget's controls"):
        _widget(front=("nope",))
    with pytest.raises(ValueError, match="slider, drop-down or toggle"):
        _widget(front=("note",))
    many = {"a": dropdown("A", [(str(i), i) for i in range(MAX_LEAVES + 1)], 0)}
    with pytest.raises(ValueError, match=f"at most {MAX_LEAVES}"):
        PagePanel(many, ("a",))


def test_in_a_live_loop_the_leaves_fill_while_the_learner_reads():
    w, calls = _widget()
    _learner_reads(w, 1.5)  # PANEL_DELAY_S, then one leaf per PREFETCH_GAP_S
    assert len(w.panel.shows) == 15


def test_drawing_ahead_off_leaves_the_leaves_to_the_moves(monkeypatch):
    monkeypatch.setenv("MKTME_DRAW_AHEAD", "0")
    w, calls = _widget()
    _learner_reads(w, 0.5)
    assert len(w.panel.shows) == 1 and len(calls) == 1


def test_a_refill_with_no_more_options_than_leaves_needs_no_new_widgets():
    """The stepper keeps leaves for its longest scenario: a scenario switch only redraws (the clean run
    measured 177 ms p50 for that move while each switch built new stacks)."""
    w = cache_incoherence.cache_stepper()
    w.update()
    built = w.panel.rebuilds
    for _, name in w.controls["scenario"].options:
        w.controls["scenario"].value = name
        assert w.last_status == "ok" and w.output.value == w.view(w.params())
        spare = [p for p in w.panel.leaves if not w.panel.in_shape(p)]
        assert all(p not in w.panel.shows for p in spare)
        assert all(w.panel.in_shape(p) for p in w.panel.nearest_first())
    assert w.panel.rebuilds == built


def test_drawing_ahead_takes_the_next_front_move_then_the_other_controls_then_the_rest():
    w, calls = _widget()
    w.update()  # n=2, mode a: leaves one move away are n 1, 3 and mode b, c (dropdown or toggle: one move)
    w.controls["note"].value = "x"  # (the text box is never guessed)
    order = []
    while w.prefetch_step():
        order.append(calls[-1] if calls else None)
    first = {(n, m) for n, m, _ in order[:4]}
    assert first == {(1, "a"), (3, "a"), (2, "b"), (2, "c")}, order[:4]


def test_a_leaf_whose_render_is_a_bug_is_not_drawn_ahead_again_and_again():
    calls = []

    def render(n=0, mode="a"):
        calls.append((n, mode))
        if mode == "b":
            raise RuntimeError("boom")  # a bug, not an input error
        return viz.HTMLCard(f"<p>{n} {mode}</p>", f"{n} {mode}")

    controls = {"n": slider("N", [(str(i), i) for i in range(3)], 1),
                "mode": dropdown("Mode", [("a", "a"), ("b", "b")], "a")}
    w = LessonWidget(render, controls, title="t", cache=64, front=("n", "mode"))
    w.update()
    steps = 0
    while w.prefetch_step():
        steps += 1
        assert steps < 50, "drawing ahead never ends"
    assert len(calls) == 6 and w.last_status == "ok"
    w.set(mode="b")
    assert w.last_status == "bug" and "This is a bug" in w.output.value
    w.set(mode="a")
    assert "1 a" in w.output.value


def test_the_far_leaves_wait_for_a_pause():
    """Right after a move only the leaves one front move away are drawn; the rest once no move came for
    PANEL_REST_S, so quick moves do not find the kernel busy with far settings."""
    from mktme_lite.widgets import PANEL_REST_S
    w, calls = _widget()
    seen = {}

    async def go():
        w.update()
        await asyncio.sleep(PANEL_REST_S * 0.7)
        seen["early"] = len(w.panel.shows)
        await asyncio.sleep(PANEL_REST_S + 1.0)
        seen["late"] = len(w.panel.shows)

    asyncio.run(go())
    assert seen["early"] == 1 + 4, seen  # n 1 and 3, mode b and c
    assert seen["late"] == 15, seen


def test_a_kernel_move_blanks_the_leaves_one_move_away_before_it_draws():
    """Learner review, 3 Dec: after editing a price and at once picking another design, the page showed
    that design's picture for the OLD price for 0.25 s. The leaves one move away are blanked first now."""
    log = []

    def render(n=0, mode="a", note="x"):
        log.append(("render", n, mode, note))
        return viz.HTMLCard(f"<p>{n} {mode} {note}</p>", f"{n} {mode} {note}")

    controls = {"n": slider("N", [(str(i), i) for i in range(5)], 2),
                "mode": toggle("Mode", [("a", "a"), ("b", "b"), ("c", "c")], "a"),
                "note": text("Note", "x")}
    w = LessonWidget(render, controls, title="t", cache=64, front=("n", "mode"))
    w.update()
    while w.prefetch_step():
        pass
    for prefix, leaf in w.panel.leaves.items():
        leaf.observe(lambda change, p=prefix: PENDING_CLASS in change["new"] and log.append(("blank", p)),
                     names="value")
    log.clear()
    w.set(note="y")
    drawn = log.index(("render", 2, "a", "y"))
    before = {entry[1] for entry in log[:drawn] if entry[0] == "blank"}
    after = {entry[1] for entry in log[drawn:] if entry[0] == "blank"}
    here = w.panel.prefix()
    one_move = {p for p in w.panel.leaves if p != here and w.panel.controls_apart(p, here) == 1}
    assert before == one_move and len(one_move) == 4 + 2
    assert after == set(w.panel.leaves) - one_move - {here}


def test_a_blanked_leaf_keeps_the_room_of_its_picture():
    from mktme_lite.widgets import swap as sw
    lab = sw.swap_lab()
    lab.update()
    while lab.prefetch_step():
        pass
    lab.set(flush=True)  # a front move: nothing is stale
    assert not any(PENDING_CLASS in leaf.value for leaf in lab.panel.leaves.values())
    lab._forget_stale()  # nothing to blank
    prefix = next(p for p in lab.panel.shows if p != lab.panel.prefix())
    key = lab.panel.shows[prefix]
    lab.panel.forget(prefix, lab._sizes[key])
    width, height = lab._sizes[key]
    assert f"aspect-ratio:{width}/{height}" in lab.panel.leaves[prefix].value and width > 300 and height > 200
