"""The race explorer: every interleaving, exact counts, replayable outcomes, clear refusals."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from mktme_lite.errors import MKTMEError, ParameterError
from mktme_lite.machine import KEYTABLE_SCOPES
from mktme_lite.scenarios import races

ROOT = Path(__file__).resolve().parents[2]
VECTORS = sorted((ROOT / "tests" / "vectors" / "races").glob("*.json"))


def brute_force(scen, scope):
    """Every interleaving one by one, with no merging of states: the explorer's reference."""
    outcomes: Counter = Counter()

    def walk(st):
        runnable = [t for t in range(len(scen.threads)) if races._enabled(scen, st, t)]
        if not runnable:
            outcomes[races._finish(scen, st)] += 1
        for t in runnable:
            nxt = races._copy(st)
            races._step(scen, nxt, t)
            walk(nxt)

    walk(races._boot(scen, scope))
    return outcomes


@pytest.mark.parametrize("name, scope", [("rotate_unsafe", "platform"),
                                         ("busy_retry", "home"), ("busy_no_retry", "platform")])
def test_merging_states_keeps_every_interleaving_counted(name, scope):
    scen = races.SCENARIOS[name]
    ex = races.explore(scen, scope)
    reference = brute_force(scen, scope)
    assert ex.interleavings == sum(reference.values())
    got = {(g.reads, g.checks, g.dram, g.ends, g.problems): g.count for g in ex.groups}
    assert got == dict(reference)
    if name.startswith("rotate"):
        assert ex.states < ex.interleavings / 5  # the merging is what keeps it fast


@pytest.mark.parametrize("scope", KEYTABLE_SCOPES)
def test_unsafe_rotation_leaks_and_safe_rotation_never_does(scope):
    unsafe = races.explore(races.SCENARIOS["rotate_unsafe"], scope)
    assert not unsafe.safe
    leak = unsafe.first_bad()
    assert ("first read", "secret") in leak.reads and ("L", "secret under key B") in leak.dram
    safe = races.explore(races.SCENARIOS["rotate_safe"], scope)
    assert safe.safe and safe.interleavings > 1000
    assert {g.reads for g in safe.groups} == {(("first read", "garbage"),)}


def test_where_the_write_back_is_encrypted_decides_whether_a_barrier_is_needed():
    """Write back then re-key, each package alone: safe only if each package encrypts its own
    write-backs (writer scope); under home or platform scope P0 can re-key first."""
    verdicts = {s: races.explore(races.SCENARIOS["rotate_no_barrier"], s).safe for s in KEYTABLE_SCOPES}
    assert verdicts == {"home": False, "writer": True, "platform": False}


def test_device_busy_retry_budget_versus_mutex():
    no_retry = races.explore(races.SCENARIOS["busy_no_retry"])
    assert no_retry.bad == 2 and any("DEVICE_BUSY 1x" in p for g in no_retry.groups for p in g.problems)
    retry = races.explore(races.SCENARIOS["busy_retry"])
    assert 0 < retry.bad < retry.interleavings  # a budget helps but an adversarial schedule exhausts it
    assert races.explore(races.SCENARIOS["busy_mutex"]).safe
    retry_platform = races.explore(races.SCENARIOS["rotate_safe_retry"], "platform")
    assert not retry_platform.safe and races.explore(races.SCENARIOS["rotate_safe_retry"], "home").safe


def test_every_group_replays_to_its_outcome():
    for name in ("rotate_unsafe", "rotate_no_barrier"):
        scen = races.SCENARIOS[name]
        for g in races.explore(scen, "home").groups:
            steps = races.replay(scen, g.example, "home")
            assert len(steps) == len(g.example) + 1 and steps[0].thread == "start"
            loads = [s.what for s in steps if s.what.startswith("load")]
            assert [w.rsplit("-> ", 1)[1] for w in loads] == [v for _, v in g.reads]
            assert all(isinstance(e, str) for s in steps for e in s.events)


def test_replay_shows_the_state_after_each_step():
    scen = races.SCENARIOS["rotate_unsafe"]
    path = races.explore(scen).first_bad().example
    steps = races.replay(scen, path)
    first_store = next(s for s in steps if s.what.startswith("store"))
    assert (1, "L", 1, True, "secret") in first_store.lines
    assert any("KeyID 1: B" in t for _, t in steps[-1].tables)


def test_replay_refuses_a_step_that_cannot_run():
    scen = races.SCENARIOS["rotate_unsafe"]
    with pytest.raises(ParameterError, match="cannot run now"):
        races.replay(scen, [3])  # the new owner waits for "rekeyed P0"
    with pytest.raises(ParameterError, match="thread index"):
        races.replay(scen, [99])
    with pytest.raises(ParameterError, match="sequence of thread indices"):
        races.replay(scen, 5)


@pytest.mark.parametrize("build, message", [
    (lambda: races.scenario("x", "x", [("t", 0, [races.store("Q", 1, "v")])], {"v": "v"}), "line"),
    (lambda: races.scenario("x", "x", [("t", 0, [races.store("L", 1, "w")])], {"v": "v"}), "value"),
    (lambda: races.scenario("x", "x", [("t", 5, [races.wbinvd()])]), "package"),
    (lambda: races.scenario("x", "x", [("t", 0, ["store"])]), "build ops"),
    (lambda: races.scenario("x", "x", [("t", 0, [races.pconfig(1, "Z")])]), "key"),
    (lambda: races.scenario("x", "x", [("t", 0, [races.pconfig(1, "B", retries=99)])]), "retries"),
    (lambda: races.scenario("x", "x", [("t", 0, [])]), "ops"),
    (lambda: races.scenario("x", "x", []), "threads"),
    (lambda: races.scenario("x", "x", [("t", 0)]), "name, package"),
    (lambda: races.explore("rotate_safe"), "Scenario"),
    (lambda: races.explore(races.SCENARIOS["busy_mutex"], "socket"), "keytable_scope"),
])
def test_bad_scenarios_are_refused_inside_the_family(build, message):
    with pytest.raises(MKTMEError, match=message):
        build()


def test_a_learner_scenario_runs():
    scen = races.scenario(
        "mine", "flush then re-key on one package",
        [("owner", 0, [races.store("L", 1, "v"), races.clflush("L", 1), races.signal("done")]),
         ("kernel", 0, [races.wait("done"), races.pconfig(1, "B", package=0), races.pconfig(1, "B", package=1),
                        races.load("L", 1, "after")])],
        {"v": "a value"}, reads={"after": ("garbage",)})
    ex = races.explore(scen)
    assert ex.safe and ex.interleavings == 1


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_race_vectors(path):
    """The lesson's outcome tables, kept as data (tools/make_race_vectors.py writes them)."""
    vec = json.loads(path.read_text())
    ex = races.explore(races.SCENARIOS[vec["scenario"]], vec["scope"])
    assert ex.interleavings == vec["interleavings"]
    assert ex.safe == vec["safe"]
    got = sorted([g.count, [list(r) for r in g.reads], [list(d) for d in g.dram], list(g.problems)]
                 for g in ex.groups)
    assert got == sorted(vec["groups"])


def test_there_is_a_vector_for_every_scenario_and_scope():
    have = {(json.loads(p.read_text())["scenario"], json.loads(p.read_text())["scope"]) for p in VECTORS}
    assert have == {(n, s) for n in races.SCENARIOS for s in KEYTABLE_SCOPES}
