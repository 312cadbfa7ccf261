"""Lesson 04's experiments: every outcome the lesson states comes from the machine, and the
stepper's snapshots are exact (stepping backwards gives back the very state of that step)."""
from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mktme_lite import LINE
from mktme_lite.errors import MKTMEError, ParameterError
from mktme_lite.scenarios import incoherence as inc


def state(m):
    """Everything a step can change, as plain data."""
    return (m.dram(0, m.dram_bytes), tuple(tuple(sorted(v.items())) for p in range(m.packages)
                                           for v in m.cache_view(p)),
            dict(m.counters), [str(e) for e in m.trace])


# ------------------------------------------------------------------ the lab
def test_lab_is_a_settled_encrypted_frame_with_two_keys():
    lab = inc.lab()
    m = lab.machine
    assert lab.old != lab.new and 0 not in (lab.old, lab.new)
    assert not any(m.cache_view(p) for p in range(m.packages)) and len(m.trace) == 0
    assert m.load(lab.h(3, "old"), LINE) == inc.payload("alice", 3)
    assert m.load(lab.h(3, "new"), LINE) != inc.payload("alice", 3)  # bob's key: garbage
    assert m.dram(lab.pa + 3 * LINE) != inc.payload("alice", 3)  # ciphertext in DRAM
    other = inc.lab()
    other.machine.store(other.h(0, "old"), b"x")
    assert inc.lab().machine.load(inc.lab().h(0, "old"), 1) != b"x"  # every lab is a fresh copy


def test_payload_versions_differ_in_every_aes_block():
    a1, a2, b = inc.payload("alice", 0, 1), inc.payload("alice", 0, 2), inc.payload("bob", 0)
    assert len(a1) == len(b) == LINE
    assert all(a1[i:i + 16] != a2[i:i + 16] != b[i:i + 16] for i in range(0, LINE, 16))


# ------------------------------------------------------------------ the stepper
@pytest.mark.parametrize("name", list(inc.STEPPER_SCENARIOS))
def test_every_step_is_exactly_what_running_the_ops_so_far_gives(name):
    s = inc.stepper(name)
    title, keys, coherent, ops = inc.STEPPER_SCENARIOS[name]
    for step in range(len(s) + 1):
        fresh = inc.lab(keys, coherent=coherent)
        for op in ops[:step]:
            inc.apply(fresh, op)
        assert state(s.machine_at(step)) == state(fresh.machine), (name, step)


def test_stepping_backwards_restores_the_earlier_state_exactly():
    s = inc.stepper("c6")
    seen = {i: state(s.machine_at(i)) for i in range(len(s) + 1)}
    for i in reversed(range(len(s) + 1)):  # backwards
        assert state(s.machine_at(i)) == seen[i]
    m = s.machine_at(3)
    m.wbinvd()
    m.store(m.hpa(0, 1), b"scribble")  # a learner playing with a copy changes nothing in the stepper
    assert state(s.machine_at(3)) == seen[3]
    assert s.at(3) == s.at(3) and s.at(3).caches == inc.stepper("c6").at(3).caches


def test_snapshots_show_what_the_machine_holds():
    s = inc.stepper("c5")
    for step in range(len(s) + 1):
        snap, m = s.at(step), s.machine_at(step)
        shown = [(v.pa, v.keyid, v.dirty, v.data) for pkg in snap.caches for v in pkg]
        held = [(v["pa"], v["keyid"], v["dirty"], v["data"]) for p in range(m.packages) for v in m.cache_view(p)]
        assert shown == held
        assert [d.stored for d in snap.dram] == [m.dram(snap.pa + i * LINE) for i in range(inc.LINES)]
    assert s.at(1).event_kinds[:2] == ("store", "miss") and "writeback" in s.at(3).event_kinds
    assert s.at(0).op is None and s.at(0).events == ()


def test_stepper_refuses_steps_and_names_it_does_not_have():
    s = inc.stepper("c5")
    for bad in (-1, len(s) + 1, 1.5, True, "2"):
        with pytest.raises(ParameterError, match="step"):
            s.at(bad)
    with pytest.raises(ParameterError, match="choose one of c5, c6"):
        inc.stepper("c7")


def test_c5_stepper_reads():
    reads = dict(inc.stepper("c5").reads())
    assert reads[2].category == "garbage" and "stale" in reads[2].verdict
    assert reads[4].category == "garbage" and "stale" in reads[4].verdict  # bob hits his own old copy
    assert reads[6].category == "garbage" and "stale" not in reads[6].verdict
    assert reads[7].category == "alice's data"


def test_c6_stepper_names_the_lines_hit_and_the_lucky_order_hits_none():
    hit = {r.line for _, r in inc.stepper("c6").reads() if r.category == "garbage"}
    assert hit == {0, 2}
    assert all(r.category == "bob's data" for _, r in inc.stepper("c6_lucky").reads())
    assert all(r.category == "bob's data" for _, r in inc.stepper("c6_coherent").reads())


def test_speculative_and_protocol_steppers():
    reads = dict(inc.stepper("speculative").reads())
    assert reads[5].category == "alice's older data" and "stale" in reads[5].verdict
    assert reads[7].category == "alice's data"
    wb = inc.stepper("speculative").at(6)
    assert "evict" in wb.event_kinds and "writeback" not in wb.event_kinds  # clean: dropped, never written back
    assert [r.category for _, r in inc.stepper("protocol").reads()] == ["zeros", "bob's data", "zeros"]


# ------------------------------------------------------------------ C5
def test_c5_write_via_a_read_via_b():
    r = inc.write_then_read()
    assert r.before_is_old and r.before != r.written  # the write is invisible: old ciphertext, b's key
    assert r.after_is_current and r.after not in (r.written, r.before)  # alice's ciphertext, b's key
    assert r.alice_after == r.written and r.dram_changed_by_flush
    plain = inc.write_then_read("no-encrypt")
    assert plain.before == inc.payload("alice", 0, 1) and plain.after == plain.written


# ------------------------------------------------------------------ C6
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sets(st.integers(0, inc.LINES - 1)), st.sampled_from(list(inc.ORDERS)), st.booleans())
def test_c6_exactly_the_dirty_lines_are_hit_when_bobs_package_evicts_first(dirty, order, flush):
    r = inc.handover(order, tuple(sorted(dirty)), flush_old=flush)
    want = tuple(sorted(dirty)) if order == "new_first" and not flush else ()
    assert r.lost == want
    assert [line for line, verdict in r.reads if verdict != "bob's data"] == list(want)


def test_c6_eviction_order_is_recorded():
    r = inc.handover("new_first")
    assert r.evictions[0].startswith("P0") and r.evictions[-1] == "P1 line 2 K1 dirty"
    with pytest.raises(ParameterError, match="eviction order"):
        inc.handover("random")
    with pytest.raises(ParameterError, match="dirty must be"):
        inc.handover(dirty=(9,))


# ------------------------------------------------------------------ speculative fills
def test_speculative_line_is_never_written_back_but_is_stale_to_read():
    for keys in inc.KEY_PAIRS:
        r = inc.speculative(keys)
        assert r.written_back is False  # Dave Hansen: clean, so never written back
        assert r.stale  # Andy: bob reads a line that misses alice's last write
        assert r.partial_write_leaks  # a 16-byte write by bob carries the stale rest to DRAM
    assert inc.speculative("no-encrypt").category == "alice's older data"
    flushed, zeroed = inc.speculative(flush_new=True), inc.speculative(zero_new=True)
    assert not flushed.stale and flushed.category == "alice's data"
    assert not zeroed.stale and zeroed.category == "zeros" and zeroed.written_back is None


# ------------------------------------------------------------------ the protocol
def test_each_protocol_step_removes_one_symptom():
    steps = {s.name: s for s in inc.protocol()}
    assert steps["none"].lost == (0, 2) and steps["none"].stale_read
    assert steps["flush_old"].lost == () and steps["flush_old"].stale_read
    for name in ("flush_both", "flush_old_zero_new", "wbinvd"):
        assert steps[name].lost == () and not steps[name].stale_read, name
    assert steps["flush_old"].counts["clflush"] == 64 and steps["flush_both"].counts["clflush"] == 128
    assert steps["wbinvd"].counts["wbinvd"] == 2 and steps["wbinvd"].counts["clflush"] == 0
    assert steps["flush_both"].price_ns == 128 * inc.PRICES["clflush"][0]
    assert steps["wbinvd"].price_ns > 40 * steps["flush_both"].price_ns


def test_which_instruction_is_enough():
    t = {r.instruction: r.enough for r in inc.instruction_table()}
    assert set(t) == set(inc.INSTRUCTIONS) and all(set(v) == set(inc.PROBES) for v in t.values())
    for full in ("clflush", "clflushopt", "wbinvd_all"):
        assert all(t[full].values()), full
    for keeps in ("clwb", "wbnoinvd_all"):
        assert t[keeps] == {"old_dirty": True, "old_stale": False, "new_stale": False}, keeps
    assert t["wbinvd_here"] == {"old_dirty": False, "old_stale": False, "new_stale": True}
    assert t["zero_new"] == {"old_dirty": False, "old_stale": False, "new_stale": True}


def test_coherent_rerun():
    rows = inc.coherent_rerun()
    assert all(r.incoherent for r in rows)
    assert [r.coherent for r in rows] == [False, False, False, True]  # only DMA survives the switch
    assert not any(r.with_flush for r in rows)


# ------------------------------------------------------------------ statistics
def test_corruption_stats_are_reproducible_and_follow_the_knobs():
    pts = inc.corruption_stats(sets=(2, 16), dirty=(0.0, 1.0), delays=(0, 256), runs=12)
    again = inc.corruption_stats(sets=(2, 16), dirty=(0.0, 1.0), delays=(0, 256), runs=12)
    assert pts == again
    by = {(p.sets, p.dirty, p.delay): p for p in pts}
    assert by[(8, 0.0, 0)].lost_runs == 0  # nothing dirty: nothing to write back late
    assert by[(8, 1.0, 0)].fraction > 0.5
    assert by[(8, 0.5, 256)].lost_runs == 0  # long delay: the old lines left before bob wrote
    assert by[(16, 0.5, 0)].fraction >= by[(2, 0.5, 0)].fraction
    assert all(p.runs == 12 and p.seeds == (0, 11) and p.cache_bytes == p.sets * p.ways * LINE for p in pts)


@pytest.mark.parametrize("kwargs, words", [
    (dict(sets=(3,)), "powers of two"), (dict(sets=()), "1 to 12 values"), (dict(runs=0), "runs"),
    (dict(dirty=(1.5,)), "dirty"), (dict(delays=(-1,)), "delays"), (dict(ways="2"), "ways"),
])
def test_corruption_stats_refuse_odd_arguments(kwargs, words):
    with pytest.raises(ParameterError, match=words):
        inc.corruption_stats(**kwargs)


# ------------------------------------------------------------------ exercise 2's free path
def test_free_path_needs_the_flush_of_keyid_k_between_shootdown_and_free_list():
    steps = list(inc.FREE_STEPS)
    assert inc.run_free_path(steps).lost
    ok = []
    for flush, i in itertools.product(inc.FLUSH_STEPS, range(len(steps) + 1)):
        if not inc.run_free_path(steps[:i] + [flush] + steps[i:]).lost:
            ok.append((flush, i))
    assert ok == [("flush_keyid_k", 2), ("flush_keyid_k", 3)]
    r = inc.run_free_path(steps[:4] + ["flush_keyid_k"])
    assert "after step 4" in r.schedule and "late write-back" in r.why


def test_free_path_refuses_unknown_steps():
    with pytest.raises(ParameterError, match="unknown step 'clwb'"):
        inc.run_free_path(["unmap", "clwb"])
    with pytest.raises(ParameterError, match="list of step names"):
        inc.run_free_path("unmap")


def test_bad_lab_arguments():
    with pytest.raises(ParameterError, match="key pair"):
        inc.lab("aes")
    with pytest.raises(MKTMEError):
        inc.lab(coherent="yes")
