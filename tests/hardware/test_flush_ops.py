"""The cache-maintenance instructions and the SME_COHERENT-idea switch behave as their docstrings say.

CLFLUSH and CLFLUSHOPT: write back if dirty, invalidate, every package (same effect in this
sequential model, own trace event). CLWB: write back if dirty, keep the line clean. WBNOINVD:
one package, write back every dirty line, keep every line. ``coherent_keyids=True``: a CPU fill
of one KeyID of a frame's line writes back and drops the line under every other KeyID. DMA is
coherent with its own full address only.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mktme_lite import LINE, Machine, PconfigCommand
from mktme_lite.errors import MKTMEError, ParameterError

DRAM = 8 * 4096
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
A, B = b"A" * LINE, b"B" * LINE


def small(seed=0, coherent=False, sets=4, ways=2, **kw):
    return Machine(packages=2, keyid_bits=3, phys_bits=40, dram_bytes=DRAM, cache_sets=sets, cache_ways=ways,
                   seed=seed, coherent_keyids=coherent, **kw)


def keyed(coherent=False, seed=1):
    """KeyIDs 1 and 2 programmed with two different random keys on both packages."""
    m = small(seed, coherent)
    for p in range(m.packages):
        for k in (1, 2):
            assert m.pconfig(p, k, PconfigCommand.KEYID_SET_KEY_RANDOM) == 0
    return m


def kinds(m):
    return [e.kind for e in m.trace]


# -- CLFLUSHOPT ------------------------------------------------------------------------------------
ops = st.lists(st.tuples(st.sampled_from(["store", "load", "spec", "flush"]), st.integers(0, DRAM // LINE - 1),
                         st.integers(0, 3), st.integers(0, 1)), max_size=30)


@SETTINGS
@given(ops)
def test_clflushopt_has_the_effect_of_clflush(program):
    ms = {name: small(seed=5) for name in ("clflush", "clflushopt")}
    for name, m in ms.items():
        for op, line, keyid, pkg in program:
            h = m.hpa(line * LINE, keyid)
            if op == "store":
                m.store(h, bytes([line % 256]) * 8, package=pkg)
            elif op == "load":
                m.load(h, 8, package=pkg)
            elif op == "spec":
                m.speculative_fill(h, pkg)
            else:
                getattr(m, name)(h)
    a, b = ms["clflush"], ms["clflushopt"]
    assert a.dram(0, DRAM) == b.dram(0, DRAM)
    assert [a.cache_view(p) for p in range(2)] == [b.cache_view(p) for p in range(2)]
    assert [k.replace("clflush", "clflushopt") for k in kinds(a)] == kinds(b)
    assert a.counters["clflush"] == b.counters["clflushopt"]


def test_clflush_and_clflushopt_invalidate_every_package_and_write_back_once():
    for name in ("clflush", "clflushopt"):
        m = small()
        h = m.hpa(0x100, 1)
        m.store(h, A, package=1)
        m.load(h, LINE, package=0)  # the dirty copy of P1 is written back; both hold it clean
        m.store(h, B, package=0)
        before = m.counters["writeback"]
        getattr(m, name)(h)
        assert not m.cached(h)
        assert m.counters["writeback"] == before + 1
        assert m.load(h, LINE) == B
        assert m.counters[name] == 1


# -- CLWB --------------------------------------------------------------------------------------------
def test_clwb_writes_back_and_keeps_the_line_clean():
    m = small()
    h = m.hpa(0x200, 0)
    before = m.dram(0x200)
    m.store(h, A, package=1)
    assert m.dram(0x200) == before
    m.clwb(h)
    assert m.dram(0x200) != before  # A reached DRAM (as ciphertext)
    view = m.cache_view(1)
    assert [(v["pa"], v["dirty"], v["data"]) for v in view] == [(0x200, False, A)]
    wb = m.counters["writeback"]
    m.clwb(h)  # nothing dirty any more: no second write-back
    assert m.counters["writeback"] == wb and m.counters["clwb"] == 2
    m.evict(h)
    assert m.load(h, LINE) == A


def test_clwb_leaves_a_stale_clean_line_that_clflush_removes():
    """Why CLWB is not enough for a speculatively filled alias: the stale line stays readable."""
    for name, stale in (("clwb", True), ("clflush", False)):
        m = small()
        old, new = m.hpa(0x300, 1), m.hpa(0x300, 2)  # both TME mode: same key, so only staleness differs
        m.store(old, A)
        m.clflush(old)
        m.speculative_fill(new)  # holds A, clean
        m.store(old, B)
        m.clflush(old)  # DRAM holds B now
        getattr(m, name)(new)
        assert (m.load(new, LINE) == A) is stale


# -- WBNOINVD ----------------------------------------------------------------------------------------
def test_wbnoinvd_writes_back_one_package_and_keeps_every_line():
    m = small()
    h0, h1 = m.hpa(0x400, 0), m.hpa(0x1400, 3)
    m.store(h0, A, package=0)
    m.store(h1, B, package=1)
    lines_before = [len(m.cache_view(p)) for p in range(2)]
    m.wbnoinvd(0)
    assert [len(m.cache_view(p)) for p in range(2)] == lines_before
    assert [v["dirty"] for v in m.cache_view(0)] == [False]
    assert [v["dirty"] for v in m.cache_view(1)] == [True]
    assert m.counters["wbnoinvd"] == 1 and m.counters["evict"] == 0
    m.wbnoinvd()
    assert not any(v["dirty"] for p in range(2) for v in m.cache_view(p))
    assert m.counters["wbnoinvd"] == 3  # one event per package


def test_wbinvd_on_one_package_misses_the_other_packages_dirty_line():
    m = small()
    h = m.hpa(0x500, 1)
    m.store(h, A, package=1)
    m.wbinvd(0)
    assert m.cached(h, 1)
    m.wbinvd(1)
    assert not m.cached(h)


# -- flush_range ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("instruction, kept", [("clflush", False), ("clflushopt", False), ("clwb", True)])
def test_flush_range_uses_the_instruction_it_is_given(instruction, kept):
    m = small(sets=64, ways=4)
    h = m.hpa(0x1000, 1)
    m.store(h, bytes(range(256)))
    assert m.flush_range(h, 256, instruction) == 4
    assert m.counters[instruction] == 4
    assert all(m.cached(h + i * LINE) is kept for i in range(4))
    assert not any(v["dirty"] for v in m.cache_view(0))


def test_flush_range_refuses_an_unknown_instruction_and_names_the_allowed_ones():
    m = small()
    with pytest.raises(ParameterError, match="clflush, clflushopt, clwb"):
        m.flush_range(0, 64, "wbinvd")
    with pytest.raises(ParameterError, match="cache-line flush instruction"):
        m.flush_range(0, 64, 3)


# -- coherent_keyids --------------------------------------------------------------------------------------
def test_coherent_keyids_is_a_checked_flag_kept_by_clone_and_labelled_as_a_model_of_the_idea():
    with pytest.raises(ParameterError, match="coherent_keyids .*True or False; got 'yes'"):
        small(coherent="yes")
    with pytest.raises(ParameterError, match="coherent_keyids"):
        small(coherent=1)
    m = small(coherent=True)
    assert m.coherent_keyids and m.clone().coherent_keyids
    assert not small().coherent_keyids and not small().clone().coherent_keyids
    assert "model of the idea of AMD's SME_COHERENT, not of AMD's implementation" in repr(m)
    assert "coherent_keyids=False" in repr(small())
    assert "not of AMD's implementation" in Machine.__doc__


def test_write_via_one_keyid_read_via_another():
    """C5: incoherent, the reader gets its own stale view; coherent, it gets the writer's
    ciphertext decrypted with its own key, which is what it gets after a clflush of the writer."""
    out = {}
    for coherent in (False, True):
        m = keyed(coherent)
        a, b = m.hpa(0x600, 1), m.hpa(0x600, 2)
        m.store(a, A)
        m.clflush(a)
        stale = m.load(b, LINE)  # b's view of A's ciphertext, cached clean
        m.store(a, B)
        out[coherent] = (stale, m.load(b, LINE))
    ref = keyed(False)
    a, b = ref.hpa(0x600, 1), ref.hpa(0x600, 2)
    ref.store(a, B)
    ref.clflush(a)
    right = ref.load(b, LINE)  # B's ciphertext decrypted with KeyID 2's key
    assert right not in (A, B)
    stale, seen = out[False]
    assert seen == stale != right  # the incoherent reader still sees its old line
    assert out[True][1] == right


def test_late_dirty_writeback_happens_only_without_coherence():
    """C6: a dirty line of the old KeyID written back after the new owner's data."""
    for coherent, survives in ((False, False), (True, True)):
        m = keyed(coherent)
        old, new = m.hpa(0x700, 1), m.hpa(0x700, 2)
        m.store(old, A)  # dirty under KeyID 1, never flushed
        m.store(new, B)  # the new owner writes
        m.clflush(new)
        m.evict(old)  # time passes: the old line (if still cached) leaves
        assert (m.load(new, LINE) == B) is survives


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(["store", "load", "spec", "evict", "clwb", "clflushopt", "wbnoinvd"]),
                          st.integers(0, DRAM // LINE - 1), st.integers(0, 7), st.integers(0, 1),
                          st.binary(min_size=1, max_size=LINE)), max_size=40))
def test_coherent_aliases_of_one_key_read_back_like_plain_memory(program):
    """Unprogrammed KeyIDs all use the TME key, so with coherent_keyids every alias is the same memory."""
    m = small(seed=2, coherent=True)
    ref = bytearray(m.load(0, DRAM))
    m.wbinvd()
    for op, line, keyid, pkg, data in program:
        pa = line * LINE
        h = m.hpa(pa, keyid)
        if op == "store":
            m.store(h, data, package=pkg)
            ref[pa:pa + len(data)] = data
        elif op == "load":
            assert m.load(h, LINE, package=pkg) == bytes(ref[pa:pa + LINE])
        elif op == "spec":
            m.speculative_fill(h, pkg)
        elif op == "evict":
            m.evict(h, pkg)
        elif op == "wbnoinvd":
            m.wbnoinvd(pkg)
        else:
            getattr(m, op)(h)
    m.wbinvd()
    assert m.load(0, DRAM) == bytes(ref)


def test_the_same_program_loses_data_without_coherence():
    """The property above can fail: the incoherent machine breaks it on a two-step program."""
    m = small(seed=2, coherent=False)
    m.wbinvd()
    m.store(m.hpa(0x40, 1), A)
    m.store(m.hpa(0x40, 2), B)  # the last write: plain memory would now hold B
    m.evict(m.hpa(0x40, 2))
    m.evict(m.hpa(0x40, 1))  # the older alias's dirty line lands last
    assert m.load(m.hpa(0x40, 3), LINE) == A


# -- DMA -------------------------------------------------------------------------------------------------
def test_dma_snoops_its_own_full_address():
    m = small()
    h = m.hpa(0x800, 1)
    m.store(h, A, package=1)
    assert m.dma_read(h, LINE) == A  # the dirty copy is written back first
    assert m.cached(h, 1)
    m.dma_write(h + 8, b"dev")
    assert not m.cached(h)
    assert m.load(h, 16) == b"AAAAAAAAdevAAAAA"
    assert m.counters["dma_write"] == m.counters["dma_read"] == 1


@pytest.mark.parametrize("coherent", [False, True])
def test_dma_still_needs_a_flush_of_the_old_keyid_even_with_coherent_keyids(coherent):
    m = keyed(coherent)
    old, new = m.hpa(0x900, 1), m.hpa(0x900, 2)
    m.store(old, A)
    m.dma_write(new, B)  # a device fills the page for its new owner
    m.wbinvd()  # time passes: the old owner's dirty line is written back over it
    assert m.load(new, LINE) != B
    m2 = keyed(coherent)
    m2.store(old, A)
    m2.clflush(old)
    m2.dma_write(new, B)
    m2.wbinvd()
    assert m2.load(new, LINE) == B


def test_dma_arguments_are_checked():
    m = small()
    with pytest.raises(ParameterError, match="data .*bytes"):
        m.dma_write(0, "text")
    with pytest.raises(ParameterError, match="empty"):
        m.dma_write(0, b"")
    with pytest.raises(MKTMEError, match="outside DRAM"):
        m.dma_read(DRAM, 1)


# -- dram_as ----------------------------------------------------------------------------------------------
def test_dram_as_is_what_a_fresh_fill_would_bring_and_changes_nothing():
    m = keyed()
    h = m.hpa(0xA00 + 3, 2)
    m.store(m.hpa(0xA00, 1), A)
    m.clflush(m.hpa(0xA00, 1))
    events = len(m.trace)
    view = m.dram_as(h, 20)
    assert len(m.trace) == events and not m.cached(h)
    assert view == m.load(h, 20)
    assert m.dram_as(m.hpa(0xA00, 1)) == A
