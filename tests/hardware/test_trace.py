"""The event trace is a bounded ring buffer; the counters are running totals kept apart from it.

Not timed: these tests pin the properties that keep a long session cheap (the cap holds, the
counters do not depend on the trace, a clone owns its trace), and benchmarks/bench_machine.py
measures what they buy (memory, run time, clone time).
"""

import pytest

from mktme_lite import Machine
from mktme_lite.errors import MKTMEError
from mktme_lite.kernel import Kernel, Policy
from mktme_lite.machine import DEFAULT_TRACE_CAP, Event, Trace


def busy(m: Machine, stores: int) -> None:
    for i in range(stores):
        m.store((i * 64 * 7) % m.dram_bytes, b"x" * 8)


def test_default_cap_is_documented_and_bounded():
    m = Machine()
    assert isinstance(m.trace, Trace)
    assert m.trace_cap == DEFAULT_TRACE_CAP == 50_000


def test_the_cap_holds_and_the_newest_events_stay():
    m = Machine(trace_cap=50)
    busy(m, 200)  # several events per store: far more than 50
    assert len(m.trace) == 50
    assert m.trace_dropped == sum(m.counters.values()) - 50
    seqs = [e.seq for e in m.trace]
    assert seqs == list(range(m._seq - 50, m._seq))  # the most recent 50, in order


def test_a_larger_cap_or_none():
    big = Machine(trace_cap=10**6)
    unbounded = Machine(trace_cap=None)
    for m in (big, unbounded):
        busy(m, 300)
        assert len(m.trace) == sum(m.counters.values()) and m.trace_dropped == 0
    assert unbounded.trace_cap is None


def test_counters_count_every_event_even_past_the_cap_or_without_a_trace():
    capped, off, full = Machine(trace_cap=10), Machine(trace=False), Machine(trace_cap=None)
    for m in (capped, off, full):
        busy(m, 100)
    assert capped.counters == off.counters == full.counters
    assert sum(full.counters.values()) == len(full.trace)
    assert len(off.trace) == 0


def test_reset_trace_leaves_the_counters_intact():
    m = Machine()
    busy(m, 20)
    before = dict(m.counters)
    m.reset_trace()
    assert m.trace == [] and m.trace_dropped == 0
    assert dict(m.counters) == before
    m.store(0, b"y")
    assert m.counters["store"] == before["store"] + 1
    assert m.trace[0].seq == sum(before.values())  # event numbers keep counting


def test_kernel_measure_survives_a_reset_trace_inside_the_block():
    k = Kernel(Machine(), Policy.as_proposed())
    p = k.spawn("app")
    buf = p.mmap(4096)
    with k.measure() as cost:
        p.write(buf, b"hello")  # a page fault
        k.machine.reset_trace()
        p.write(buf + 4096 - 1, b"!")
    assert cost["page_fault"] == 1
    assert k.costs()["page_fault"] >= 1


def test_a_clone_owns_its_trace_and_counters():
    m = Machine(trace_cap=40)
    busy(m, 30)
    c = m.clone()
    assert list(c.trace) == list(m.trace) and c.counters == m.counters and c.trace_cap == 40
    kinds, counts = [e.kind for e in m.trace], dict(m.counters)
    c.store(0, b"clone")
    c.reset_trace()
    c.counters.clear()
    assert [e.kind for e in m.trace] == kinds and dict(m.counters) == counts
    m.store(64, b"original")
    assert len(c.trace) == 0 and not c.counters
    busy(c, 30)
    assert len(c.trace) == 40  # the clone keeps the cap


def test_kernel_clone_keeps_the_trace_independent():
    k = Kernel(Machine(), Policy.as_proposed())
    k.spawn("a")
    k2 = k.clone()
    k2.spawn("b")
    assert [e.kind for e in k.machine.trace].count("spawn") == 1
    assert k2.machine.counters["spawn"] == 2 and k.machine.counters["spawn"] == 1


def test_the_trace_still_answers_like_a_list():
    m = Machine()
    m.store(0, b"x")
    last_two = m.trace[-2:]
    assert isinstance(last_two, list) and all(isinstance(e, Event) for e in last_two)
    assert m.trace[0].kind == "store" and m.trace == list(m.trace)


@pytest.mark.parametrize("cap", [0, -1, 2.5, "100", True])
def test_bad_caps_are_refused(cap):
    with pytest.raises(MKTMEError, match="trace_cap"):
        Machine(trace_cap=cap)
