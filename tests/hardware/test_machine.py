"""The Machine: caches, engines and DRAM behave like the hardware rules the course teaches."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mktme_lite import LINE, KeyMode, Machine, PconfigCommand
from mktme_lite.errors import AddressError, ConfigError, PackageError, ParameterError

DRAM = 8 * 4096
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def small_machine(seed=0, ways=2, sets=4, **kw):
    # A tiny cache so that evictions (and late write-backs) happen all the time.
    return Machine(packages=2, keyid_bits=3, phys_bits=40, dram_bytes=DRAM, cache_sets=sets,
                   cache_ways=ways, seed=seed, **kw)


def program_all(m, keyid, command=PconfigCommand.KEYID_SET_KEY_RANDOM):
    for p in range(m.packages):
        assert m.pconfig(p, keyid, command) == 0


# -- property 1: one KeyID behaves exactly like plain memory ---------------------------------------
addr = st.integers(0, DRAM - 1)
ops = st.one_of(
    st.tuples(st.just("store"), addr, st.binary(min_size=1, max_size=150), st.integers(0, 1)),
    st.tuples(st.just("load"), addr, st.integers(1, 150), st.integers(0, 1)),
    st.tuples(st.just("spec"), addr, st.just(0), st.integers(0, 1)),
    st.tuples(st.just("evict"), addr, st.just(0), st.integers(0, 1)),
    st.tuples(st.just("clflush"), addr, st.just(0), st.just(0)),
    st.tuples(st.just("wbinvd"), st.just(0), st.just(0), st.integers(0, 1)),
)


@SETTINGS
@given(st.lists(ops, max_size=40), st.sampled_from(["tme", "bypass", "key", "no-encrypt"]), st.integers(0, 3))
def test_one_keyid_reads_back_like_plain_memory(program, mode, seed):
    m = small_machine(seed, tme_bypass=(mode == "bypass"))
    keyid = 0
    if mode in ("key", "no-encrypt"):
        keyid = 3
        program_all(m, keyid, PconfigCommand.KEYID_SET_KEY_RANDOM if mode == "key" else PconfigCommand.KEYID_NO_ENCRYPT)
    # the reference starts from what this KeyID sees in fresh DRAM
    ref = bytearray(m.load(m.hpa(0, keyid), DRAM, package=0))
    for op, a, arg, pkg in program:
        h = m.hpa(a, keyid)
        if op == "store":
            data = arg[: DRAM - a]
            m.store(h, data, package=pkg)
            ref[a : a + len(data)] = data
        elif op == "load":
            n = min(arg, DRAM - a)
            assert m.load(h, n, package=pkg) == bytes(ref[a : a + n])
        elif op == "spec":
            m.speculative_fill(h, pkg)
        elif op == "evict":
            m.evict(h, pkg)
        elif op == "clflush":
            m.clflush(h)
        else:
            m.wbinvd(pkg)
    assert m.load(m.hpa(0, keyid), DRAM, package=1) == bytes(ref)


# -- property 2: another KeyID's view of a line is garbage, and DRAM never holds plaintext -------------
@SETTINGS
@given(
    st.integers(0, DRAM // LINE - 1),
    st.binary(min_size=LINE, max_size=LINE),
    st.integers(1, 7),
    st.integers(0, 7),
    st.integers(0, 1),
    st.integers(0, 1),
    st.booleans(),
)
def test_wrong_keyid_reads_garbage_and_dram_holds_no_plaintext(line, data, a, b, pw, pr, written_back):
    if a == b:
        b = (a + 1) % 8
    m = small_machine(seed=line)
    for k in range(1, 8):
        program_all(m, k)
    pa = line * LINE
    m.store(m.hpa(pa, a), data, package=pw)
    if written_back:
        m.wbinvd(pw)  # even after the plaintext left the cache ...
    assert m.load(m.hpa(pa, b), LINE, package=pr) != data  # ... KeyID b never sees it
    m.wbinvd()
    assert m.dram(pa, LINE) != data  # and the DIMM never holds the plaintext of an encrypting KeyID


# -- property 3: the flush protocol makes a KeyID change safe ----------------------------------------
@SETTINGS
@given(
    st.integers(0, DRAM // LINE - 1),
    st.binary(min_size=1, max_size=LINE),
    st.binary(min_size=1, max_size=LINE),
    st.integers(1, 7),
    st.integers(1, 7),
    st.lists(st.tuples(st.sampled_from(["spec_old", "spec_new", "load_old", "evict"]), st.integers(0, 1)), max_size=6),
)
def test_flush_old_and_new_alias_then_write_reads_back_everywhere(line, old, new, a, b, noise):
    m = small_machine(seed=a * 8 + b)
    for k in range(1, 8):
        program_all(m, k)
    pa = line * LINE
    old_h, new_h = m.hpa(pa, a), m.hpa(pa, b)
    m.store(old_h, old, package=0)  # the page's previous life under KeyID a
    for what, pkg in noise:  # speculation and traffic before the switch
        if what == "spec_old":
            m.speculative_fill(old_h, pkg)
        elif what == "spec_new":
            m.speculative_fill(new_h, pkg)
        elif what == "load_old":
            m.load(old_h, 1, package=pkg)
        else:
            m.evict(old_h, pkg)
    m.clflush(old_h)
    m.clflush(new_h)
    m.store(new_h, new, package=1)
    for p in range(m.packages):
        assert m.load(new_h, len(new), package=p) == new
    m.wbinvd()
    for p in range(m.packages):
        assert m.load(new_h, len(new), package=p) == new


# -- the mechanisms behind claims C5-C7, directly ------------------------------------------------------
def test_late_dirty_writeback_of_old_alias_corrupts_new_alias():
    m = small_machine()
    program_all(m, 1)
    program_all(m, 2)
    old_h, new_h = m.hpa(0x400, 1), m.hpa(0x400, 2)
    m.store(old_h, b"A" * LINE)  # dirty under KeyID 1, never flushed
    m.store(new_h, b"B" * LINE)
    m.clflush(new_h)  # new data safely in DRAM under KeyID 2
    assert m.load(new_h, LINE) == b"B" * LINE
    m.clflush(new_h)
    m.evict(old_h)  # ... until the stale line of the old alias is finally written back
    assert m.load(new_h, LINE) != b"B" * LINE


def test_speculative_fill_of_new_alias_survives_a_flush_of_only_the_old_alias():
    # KeyID 2 is still in TME mode, so it decrypts DRAM exactly like KeyID 0: data written
    # through KeyID 0 and flushed is meant to be readable through KeyID 2.
    m = small_machine()
    old_h, new_h = m.hpa(0x800, 0), m.hpa(0x800, 2)
    m.store(old_h, b"C" * LINE)  # dirty under the old alias
    m.speculative_fill(new_h, 0)  # the CPU reads ahead through the new alias: stale DRAM bytes
    m.clflush(old_h)  # Dave Hansen's rule: flush the old alias before using the new one ...
    assert m.load(new_h, LINE) != b"C" * LINE  # ... is not enough: the stale line answers
    m.clflush(new_h)  # Andy, 5 Dec 2018: flush the new alias too
    assert m.load(new_h, LINE) == b"C" * LINE


def test_writeback_uses_the_key_in_the_table_at_writeback_time():
    m = small_machine()
    program_all(m, 1)
    h = m.hpa(0xC00, 1)
    m.store(h, b"D" * LINE)
    program_all(m, 1)  # new random key while the dirty line sits in the cache
    m.clflush(h)  # written back with the NEW key
    assert m.load(h, LINE) == b"D" * LINE  # so it reads back fine under the new key
    m2 = small_machine()
    program_all(m2, 1)
    h = m2.hpa(0xC00, 1)
    m2.store(h, b"D" * LINE)
    m2.clflush(h)  # written back with the OLD key
    program_all(m2, 1)
    assert m2.load(h, LINE) != b"D" * LINE


def test_cross_package_coherence_for_one_full_address():
    m = small_machine()
    h = m.hpa(0x40, 0)
    m.store(h, b"one", package=0)
    assert m.load(h, 3, package=1) == b"one"  # the dirty copy was written back first
    m.store(h, b"two", package=1)  # invalidates package 0's copy
    assert not m.cached(h, 0)
    assert m.load(h, 3, package=0) == b"two"


def test_lru_replacement_and_write_back_on_eviction():
    m = small_machine(sets=1, ways=2)
    a, b, c = (m.hpa(i * LINE, 0) for i in range(3))
    m.store(a, b"a")
    m.load(b, 1)
    m.load(a, 1)  # a is now most recently used
    m.load(c, 1)  # evicts b, not a
    assert m.cached(a, 0) and not m.cached(b, 0) and m.cached(c, 0)
    m.load(b, 1)  # evicts a (dirty): must write it back
    assert m.counters["writeback"] == 1
    assert m.load(a, 1) == b"a"


def test_no_encrypt_and_bypass_store_plaintext():
    m = small_machine(tme_bypass=True)
    m.store(m.hpa(0, 0), b"plain!")
    m.wbinvd()
    assert m.dram(0, 6) == b"plain!"
    m = small_machine()
    program_all(m, 2, PconfigCommand.KEYID_NO_ENCRYPT)
    m.store(m.hpa(64, 2), b"visible")
    m.wbinvd()
    assert m.dram(64, 7) == b"visible"
    assert m.key_mode(0, 2) is KeyMode.NO_ENCRYPT


def test_home_package_engine_lets_packages_hold_different_random_keys():
    m = small_machine()
    program_all(m, 1)
    assert m.key_table_view(0) != m.key_table_view(1)
    for pa in (0, DRAM - LINE):
        h = m.hpa(pa, 1)
        m.store(h, b"z" * 10, package=0)
        m.wbinvd(0)
        assert m.load(h, 10, package=1) == b"z" * 10
    assert m.home_package(0) == 0 and m.home_package(DRAM - 1) == 1


def test_clone_is_independent_and_replays_identically():
    m = small_machine()
    program_all(m, 1)
    m.store(m.hpa(0, 1), b"base")
    c = m.clone()
    c.store(c.hpa(0, 1), b"XXXX")
    c.pconfig(0, 1, PconfigCommand.KEYID_SET_KEY_RANDOM)
    assert m.load(m.hpa(0, 1), 4) == b"base"
    d1, d2 = m.clone(), m.clone()
    for d in (d1, d2):
        d.pconfig(0, 2, PconfigCommand.KEYID_SET_KEY_RANDOM)
        d.store(d.hpa(128, 2), b"q")
        d.wbinvd()
    assert d1.dram(0, DRAM) == d2.dram(0, DRAM)
    assert [e.kind for e in d1.trace] == [e.kind for e in d2.trace]


def test_same_seed_same_machine():
    assert small_machine(seed=5).dram(0, DRAM) == small_machine(seed=5).dram(0, DRAM)
    assert small_machine(seed=5).dram(0, DRAM) != small_machine(seed=6).dram(0, DRAM)


def test_trace_records_the_story():
    m = small_machine()
    h = m.hpa(0, 0)
    m.store(h, b"x")
    m.clflush(h)
    kinds = [e.kind for e in m.trace]
    assert kinds == ["store", "miss", "fill", "clflush", "writeback", "flush"]
    assert "pa=0x0 keyid=0" in str(m.trace[0])
    m.reset_trace()
    assert m.trace == [] and m.counters["store"] == 1  # the counters are running totals


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda m: m.load(m.hpa(DRAM - 4, 0), 8), AddressError, "outside DRAM"),
        (lambda m: m.store(m.hpa(0, 0), "text"), ParameterError, "encode"),
        (lambda m: m.load(0, 0), ParameterError, "positive"),
        (lambda m: m.load(0, 4, package=2), PackageError, "numbered 0..1"),
        (lambda m: m.hpa(0, 8), Exception, "KeyIDs are 0..7"),
        (lambda m: m.wbinvd(5), PackageError, "2 package"),
        (lambda m: m.dram(m.hpa(0x40, 3)), AddressError, r"KeyID bits \(KeyID 3\).*0x40"),
        (lambda m: m.write_dram(m.hpa(0x40, 1), bytes(64)), AddressError, "DRAM never sees a KeyID"),
    ],
)
def test_bad_input_errors_say_what_is_allowed(call, error, words):
    with pytest.raises(error, match=words):
        call(small_machine())


def test_bad_configuration():
    with pytest.raises(ConfigError, match="power of two"):
        Machine(cache_sets=3, dram_bytes=4096)
    with pytest.raises(ConfigError, match="multiple of 4096"):
        Machine(dram_bytes=1000)
    with pytest.raises(ParameterError, match="packages"):
        Machine(packages=0, dram_bytes=4096)
