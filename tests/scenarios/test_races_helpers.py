"""The helpers lesson 06's widget and exercises use: a remembered exploration, the rotation race with
the learner's kernel programs, the key-service contention, and one summary line per outcome group."""
from __future__ import annotations

import pytest

from mktme_lite.errors import ParameterError
from mktme_lite.machine import KEYTABLE_SCOPES
from mktme_lite.scenarios import races


def test_explored_is_explore_remembered():
    scen = races.SCENARIOS["rotate_unsafe"]
    assert races.explored(scen, "writer") is races.explored(scen, "writer")
    assert races.explored(scen, "writer") == races.explore(scen, "writer")
    with pytest.raises(ParameterError):
        races.explored("rotate_unsafe")
    with pytest.raises(ParameterError, match="scope"):
        races.explored(scen, "socket")


@pytest.mark.parametrize("name", ["rotate_unsafe", "rotate_no_barrier", "rotate_safe"])
def test_rotation_with_the_lessons_programs_is_the_lessons_scenario(name):
    scen = races.SCENARIOS[name]
    mine = races.rotation(scen.threads[1].ops, scen.threads[2].ops, name=name, title=scen.title, note=scen.note)
    assert mine == scen


def test_summaries_tell_every_group_apart():
    for name, scen in races.SCENARIOS.items():
        for scope in KEYTABLE_SCOPES:
            groups = races.explored(scen, scope).groups
            assert len({g.summary for g in groups}) == len(groups), (name, scope)


def test_key_service_budget_never_reaches_zero_but_a_mutex_does():
    """Every interleaving is possible: a CPU can be answered DEVICE_BUSY as often as its budget allows."""
    assert races.key_service(2, 10) == races.key_service(2, 10)
    assert races.explore(races.key_service(2, 10)).bad == races.explore(races.SCENARIOS["busy_retry"]).bad
    for cpus in (2, 3):
        assert all(races.explore(races.key_service(cpus, r)).bad > 0 for r in range(4))
        assert races.explore(races.key_service(cpus, mutex=True)).safe
    with pytest.raises(ParameterError):
        races.key_service(4)
    with pytest.raises(ParameterError):
        races.key_service(2, mutex="yes")
