"""Lesson 06's race explorer: its picture agrees with the explorer, its dependent controls follow the
scenario and scope, and one move of a control draws exactly one picture."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from mktme_lite.machine import KEYTABLE_SCOPES  # noqa: E402
from mktme_lite.scenarios import races  # noqa: E402
from mktme_lite.widgets import WidgetInputError  # noqa: E402
from mktme_lite.widgets.pconfig_races import (END, STEP_CAPACITY, _step_options, race_explorer,  # noqa: E402
                                              render_race_explorer)


@pytest.fixture()
def widget():
    return race_explorer()


def test_the_picture_says_what_the_explorer_found():
    for name in ("rotate_unsafe", "rotate_no_barrier"):
        for scope in KEYTABLE_SCOPES:
            ex = races.explored(races.SCENARIOS[name], scope)
            alt = render_race_explorer(name, scope).mktme_alt
            assert f"{ex.interleavings} interleavings, {ex.bad} of them BAD" in alt


def test_the_last_step_of_the_unsafe_example_shows_the_leak():
    alt = render_race_explorer().mktme_alt
    assert "first read=secret" in alt and "holding secret" in alt


@pytest.mark.parametrize("params", [{"scenario": "nope"}, {"scope": "socket"}, {"group": 2}, {"group": -1},
                                    {"step": 99}, {"step": "last"}, {"step": 2.5}])
def test_bad_settings_are_refused_with_a_message(params):
    with pytest.raises(WidgetInputError):
        render_race_explorer(**params)


def test_moving_scenario_or_scope_refills_groups_and_steps_and_draws_once(widget):
    widget.update()
    for move in ({"scenario": "rotate_safe_retry"}, {"scope": "platform"}, {"group": 1}, {"step": 3}):
        before = widget.updates
        widget.set(**move)
        assert widget.updates == before + 1, move
        assert widget.last_status == "ok", (move, widget.last_message)
    ex = races.explored(races.SCENARIOS["rotate_safe_retry"], "platform")
    assert [v for _, v in widget.controls["group"].options] == list(range(len(ex.groups)))
    steps = races.replay(races.SCENARIOS["rotate_safe_retry"], ex.groups[1].example, "platform")
    assert [v for _, v in widget.controls["step"].options] == [*range(len(steps) - 1), END]
    widget.set(scope="home")  # one group fewer: the group resets to 0 and the step to the end
    assert widget.controls["group"].value == 0 and widget.controls["step"].value == END
    assert widget.last_status == "ok"


def test_the_static_captions_name_each_settings_own_group(widget):
    captions = [caption for caption, _ in widget.static_views()]
    retry = races.explored(races.SCENARIOS["rotate_safe_retry"], "platform")
    bad = next(g for g in retry.groups if not g.ok)
    assert f"BAD x{bad.count}" in captions[3] and "rotate_safe_retry" in captions[3]
    assert "OK x7392" in captions[2]


def test_the_second_telling_view_is_the_write_back_step(widget):
    step = widget.telling[1].params["step"]
    steps = races.replay(races.SCENARIOS["rotate_unsafe"], races.explored(races.SCENARIOS["rotate_unsafe"]).groups[0]
                         .example)
    assert any(" writeback " in e for e in steps[step].events)
    assert not any(" writeback " in e for s in steps[:step] for e in s.events)


def test_the_step_capacity_is_the_longest_replay():
    longest = max(len(_step_options(name, scope, g)) for name in races.SCENARIOS for scope in KEYTABLE_SCOPES
                  for g in range(len(races.explored(races.SCENARIOS[name], scope).groups)))
    assert STEP_CAPACITY == longest


def test_every_scenario_and_scope_fits_the_panel_without_a_rebuild(widget):
    widget.update()
    built = widget.panel.rebuilds
    for name in races.SCENARIOS:
        for scope in KEYTABLE_SCOPES:
            widget.set(scenario=name, scope=scope)
            for g in range(len(widget.controls["group"].options)):
                widget.set(group=g)
                assert widget.last_status == "ok", (name, scope, g, widget.last_message)
    assert widget.panel.rebuilds == built
