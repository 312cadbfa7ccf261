"""Lesson 06 checks: verdicts come from the explorer, hints name what went wrong, no answer crashes them."""
from __future__ import annotations

import pytest

from mktme_lite.errors import MKTMEError
from hypothesis import given, settings
from hypothesis import strategies as st

import mktme_lite.checks.pconfig_races as l06
from mktme_lite import checks
from mktme_lite.scenarios import races

L06 = ["corrupting_path", "safe_rotation", "busy_choice"]


def run(name, answer):
    return checks.REGISTRY[name].func(answer)


def test_all_lesson_06_checks_are_registered():
    assert set(L06) <= set(checks.REGISTRY)


# ------------------------------------------------------------------ exercise 1: a corrupting path

def test_every_bad_group_of_the_exercise_scenario_passes_and_every_good_one_does_not():
    """The check agrees with the explorer on each group's own example, not only on the solution."""
    ex = races.explore(races.SCENARIOS[l06.EX1_SCENARIO], l06.EX1_SCOPE)
    assert not ex.safe
    for g in ex.groups:
        assert run("corrupting_path", list(g.example)).status == ("hint" if g.ok else "passed"), g.summary


def test_the_solution_path_is_a_leak_when_replayed():
    steps = races.replay(races.SCENARIOS[l06.EX1_SCENARIO], checks.REGISTRY["corrupting_path"].examples.correct(),
                         l06.EX1_SCOPE)
    assert steps[-1].what.endswith("-> secret") and ("L", "secret under key B") in steps[-1].dram


def test_a_half_filled_path_is_not_attempted():
    assert run("corrupting_path", [0, 0, ...]).status == "not_attempted"


@settings(max_examples=40, deadline=None)
@given(st.one_of(st.lists(st.integers(-2, 6), max_size=20), st.text(max_size=5), st.none(), st.floats()))
def test_corrupting_path_never_crashes(answer):
    assert run("corrupting_path", answer).status in checks.STATUSES


# ------------------------------------------------------------------ exercise 2: a safe rotation

def test_a_rotation_that_zeroes_the_line_first_is_also_accepted():
    """Any rotation the explorer proves safe passes, not only the lesson's: here the kernels also clear L."""
    k0, k1 = (list(t.ops) for t in races.SCENARIOS["rotate_safe"].threads[1:3])
    k0 = k0[:1] + [races.store("L", 1, "zeros")] + k0[1:]
    assert run("safe_rotation", (k0, k1)).passed


def test_the_hint_shows_the_first_bad_interleaving_step_by_step():
    unsafe = tuple(list(t.ops) for t in races.SCENARIOS["rotate_unsafe"].threads[1:3])
    message = run("safe_rotation", unsafe).message
    ex = races.explore(races.SCENARIOS["rotate_unsafe"], "home")
    first = races.replay(races.SCENARIOS["rotate_unsafe"], ex.first_bad().example, "home")
    assert all(f"{s.index}. {s.thread}: {s.what}" in message for s in first[1:])


def test_bad_ops_are_a_hint_with_the_engines_reason():
    with pytest.raises(MKTMEError, match="keyid"):
        races.pconfig(9, "B")  # the builder refuses at once ...
    result = run("safe_rotation", ([races.Op("pconfig", keyid=9, key="B")], [races.wbinvd()]))  # ... and so does the check
    assert result.status == "hint" and "keyid" in result.message
    assert run("safe_rotation", ([...], [...])).status == "not_attempted"


# ------------------------------------------------------------------ exercise 3: budget or mutex

def test_the_budget_table_is_the_explorers_and_no_budget_reaches_zero():
    truth = checks.REGISTRY["busy_choice"].examples.correct()[0]
    assert truth["mutex"][0] == 0
    assert all(truth[r][0] > 0 for r in l06.EX3_BUDGETS)
    assert truth[2] == (races.explore(races.key_service(3, retries=2)).bad,
                        races.explore(races.key_service(3, retries=2)).interleavings)


@pytest.mark.parametrize("answer", [(..., "mutex"), ({0: ...}, ...)])
def test_partly_filled_answers(answer):
    assert run("busy_choice", answer).status in ("not_attempted", "hint")
    assert run("busy_choice", (..., ...)).status == "not_attempted"


def test_a_bool_is_not_a_budget():
    truth = checks.REGISTRY["busy_choice"].examples.correct()[0]
    assert run("busy_choice", (truth, True)).status == "hint"
