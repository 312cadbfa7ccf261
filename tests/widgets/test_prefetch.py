"""Drawing ahead: a cached widget in a live kernel draws the settings one move away while the
learner reads, so the next move is a cache hit (issue 10's cold first visits)."""
from __future__ import annotations

import asyncio

import matplotlib

matplotlib.use("Agg")

from mktme_lite import viz  # noqa: E402
from mktme_lite.widgets import LessonWidget, dropdown, slider  # noqa: E402
from mktme_lite.widgets import tme_basics  # noqa: E402


def _counting_widget(cache=64, **kwargs):
    calls = []

    def render(n=0, mode="a"):
        calls.append((n, mode))
        if mode == "bad":
            from mktme_lite.errors import ParameterError
            raise ParameterError("mode bad is refused")
        return viz.HTMLCard(f"<p>{n} {mode}</p>", f"{n} {mode}")

    controls = {"n": slider("N", [(str(i), i) for i in range(10)], 5),
                "mode": dropdown("Mode", [("a", "a"), ("b", "b"), ("bad", "bad")], "a")}
    return LessonWidget(render, controls, title="t", cache=cache, **kwargs), calls


def test_neighbours_are_one_move_away_nearest_first():
    w, _ = _counting_widget()
    got = w.neighbours()
    assert {"n": 4, "mode": "a"} in got[:4] and {"n": 6, "mode": "a"} in got[:4]
    ns = sorted(p["n"] for p in got if p["mode"] == "a")
    assert ns == [3, 4, 6, 7], ns  # the slider reaches two steps either way
    assert {"n": 5, "mode": "b"} in got and {"n": 5, "mode": "bad"} in got
    assert all(sum(p[k] != v for k, v in {"n": 5, "mode": "a"}.items()) == 1 for p in got)


def test_a_prefetched_move_is_a_cache_hit_and_the_state_is_untouched():
    w, calls = _counting_widget()
    w.update()
    shown, status = w.output.value, w.last_status
    steps = 0
    while w.prefetch_step():
        steps += 1
        assert w.output.value == shown and w.last_status == status  # the learner still sees 5 a
    assert steps == len(w.neighbours()) == w.prefetched
    drawn = len(calls)
    w.set(mode="bad")  # a refused setting is drawn ahead too: its sentence is the picture
    assert len(calls) == drawn, "a move to a neighbour drew again"
    assert w.last_status == "input-error" and "refused" in w.output.value
    w.set(mode="a")
    w.set(n=7)
    assert len(calls) == drawn and "7 a" in w.output.value
    w.set(n=9)  # from 7 this is a neighbour, but nothing drew ahead from 7 (no event loop here)
    assert len(calls) == drawn + 1


def test_a_full_cache_drops_old_settings_never_the_current_one_and_uncached_widgets_never_draw_ahead():
    w, calls = _counting_widget(cache=3)
    w.update()
    while w.prefetch_step():
        pass
    assert len(w._cache) == 3 and w.prefetched == 2  # 6 neighbours do not fit: the current + 2
    assert ("n", "int", 5) in next(reversed(w._cache))  # the current setting is the newest
    roomy, _ = _counting_widget(cache=8)
    roomy.update()
    for n in (0, 1, 9):  # three settings the learner visited, far from where they are now
        roomy.set(n=n)
    roomy.set(n=5)
    while roomy.prefetch_step():
        pass
    keys = list(roomy._cache)
    assert len(keys) == 8 and all(len(roomy.neighbours()) == 6 for _ in [0])
    visited_far = [k for k in keys if dict((a, c) for a, _, c in k)["n"] in (0, 1, 9)]
    assert len(visited_far) == 1, visited_far  # the two oldest far settings made room for neighbours
    plain, calls2 = _counting_widget(cache=0)
    plain.update()
    assert plain.prefetch_step() is False and len(calls2) == 1


def test_constrained_widgets_draw_ahead_only_settings_the_controls_reach():
    def constrain(params):
        # mode "b" allows only even n: a move to b snaps n to the even one below, as the shell does
        return {"n": ([i for i in range(10)], params["n"] - params["n"] % 2 if params["mode"] == "b" else params["n"])}

    w, _ = _counting_widget(constrain=constrain)
    assert {"n": 4, "mode": "b"} in w.neighbours() and {"n": 5, "mode": "b"} not in w.neighbours()


def test_in_a_running_event_loop_the_widget_draws_ahead_by_itself(monkeypatch):
    monkeypatch.delenv("MKTME_STATIC", raising=False)
    w, calls = _counting_widget()

    async def learner_reads():
        w.update()
        await asyncio.sleep(1.0)  # PREFETCH_DELAY_S, then one setting per PREFETCH_GAP_S

    asyncio.run(learner_reads())
    assert w.prefetched == len(w.neighbours()) > 0
    w._prefetch_timer = None


def test_static_mode_and_scripts_never_draw_ahead(monkeypatch):
    w, calls = _counting_widget()
    w.update()  # no running loop: nothing is scheduled
    assert w._prefetch_timer is None and w.prefetched == 0
    monkeypatch.setenv("MKTME_STATIC", "1")

    async def run():
        w.set(n=6)
        await asyncio.sleep(0.5)

    asyncio.run(run())
    assert w.prefetched == 0


def test_mktme_draw_ahead_0_turns_drawing_ahead_off_in_a_live_kernel(monkeypatch):
    monkeypatch.delenv("MKTME_STATIC", raising=False)
    monkeypatch.setenv("MKTME_DRAW_AHEAD", "0")
    w, calls = _counting_widget()

    async def learner_reads():
        w.update()
        await asyncio.sleep(0.6)

    asyncio.run(learner_reads())
    assert w._prefetch_timer is None and w.prefetched == 0


def test_a_widget_built_with_draw_ahead_false_keeps_its_cache_but_never_draws_ahead(monkeypatch):
    monkeypatch.delenv("MKTME_STATIC", raising=False)
    monkeypatch.delenv("MKTME_DRAW_AHEAD", raising=False)
    w, calls = _counting_widget()
    w.draw_ahead = False

    async def learner_reads():
        w.update()
        await asyncio.sleep(0.6)

    asyncio.run(learner_reads())
    assert w._prefetch_timer is None and w.prefetched == 0 and len(w._cache) == 1


def test_the_cost_explorer_draws_only_its_page_panel_ahead():
    """Its other controls are text boxes (never guessed); the partition explorer draws its two range
    controls ahead again, now that its address-bit slider needs no kernel (front=)."""
    from mktme_lite.widgets.use_cases import partition_explorer
    from mktme_lite.widgets.xpo_comparison import xpo_explorer
    assert xpo_explorer().draw_ahead is False and partition_explorer().draw_ahead is True


def test_the_dram_probe_draws_its_neighbours_ahead():
    w = tme_basics.dram_probe()
    w.update()
    assert w.prefetch_step() is True and w.prefetched == 1
    assert w.last_status == "ok"


def test_the_race_explorer_draws_ahead_the_settings_its_refilling_controls_reach():
    from mktme_lite.widgets import pconfig_races as pr

    w = pr.race_explorer()
    w.update()
    got = w.neighbours()
    assert got, "nothing to draw ahead"
    for params in got:  # every guess is a setting the controls can show: it draws, no error card
        assert pr.render_race_explorer(**params).mktme_alt
    w.set(scope="writer")  # the refill puts group 0 at its end: the guess was exactly that
    assert {"scenario": "rotate_unsafe", "scope": "writer", "group": 0, "step": pr.END} in got
    assert w.params() == {"scenario": "rotate_unsafe", "scope": "writer", "group": 0, "step": pr.END}
    before = w.prefetched
    assert w.prefetch_step() and w.prefetched == before + 1
