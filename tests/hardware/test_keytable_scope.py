"""keytable_scope: which key table encrypts a fill or write-back (home, writer, platform).

Each test sets up two packages whose tables hold DIFFERENT keys for KeyID 1 (or programs
only one package), so the three scopes give different, predictable bytes.
"""

import pytest

from mktme_lite import LINE, Machine, PconfigCommand
from mktme_lite.errors import MKTMEError, ParameterError
from mktme_lite.machine import KEYTABLE_SCOPES

DRAM = 8 * 4096
PA = 0x100  # homed on package 0 (the first half of DRAM)
SECRET = b"dirty line under KeyID 1".ljust(LINE, b".")
K = [(bytes([0x10 + p]) * 16, bytes([0x20 + p]) * 16) for p in range(2)]


def machine(scope, **kw):
    return Machine(packages=2, keyid_bits=3, phys_bits=40, dram_bytes=DRAM, cache_sets=4, cache_ways=2,
                   seed=1, keytable_scope=scope, **kw)


def program(m, package, which):
    data, tweak = K[which]
    assert m.pconfig(package, 1, PconfigCommand.KEYID_SET_KEY_DIRECT, data, tweak) == 0


@pytest.mark.parametrize("scope", KEYTABLE_SCOPES)
def test_default_is_home_and_scope_is_visible(scope):
    assert Machine().keytable_scope == "home"
    m = machine(scope)
    assert f"keytable_scope={scope!r}" in repr(m)
    assert m.clone().keytable_scope == scope


@pytest.mark.parametrize("bad", ["HOME", "", None, 1, True, ["home"]])
def test_an_unknown_scope_is_refused_naming_the_choices(bad):
    with pytest.raises(ParameterError, match="keytable_scope") as info:
        machine(bad)
    assert all(s in str(info.value) for s in KEYTABLE_SCOPES)
    assert isinstance(info.value, MKTMEError)


@pytest.mark.parametrize("scope, p1_reads_back, p0_reads_back", [
    ("home", True, True),  # both packages use P0's table for a line homed on P0
    ("writer", True, False),  # P1 wrote it back with its own key; P0 fills with P0's key
    ("platform", True, True),  # the last PCONFIG wins for everybody
])
def test_who_encrypts_a_write_back(scope, p1_reads_back, p0_reads_back):
    m = machine(scope)
    program(m, 0, 0)
    program(m, 1, 1)
    m.store(m.hpa(PA, 1), SECRET, package=1)
    m.wbinvd(1)
    writeback = [e for e in m.trace if e.kind == "writeback"][-1]
    assert writeback.engine == (1 if scope == "writer" else 0)
    assert (m.load(m.hpa(PA, 1), LINE, package=1) == SECRET) is p1_reads_back
    m.wbinvd(1)
    assert (m.load(m.hpa(PA, 1), LINE, package=0) == SECRET) is p0_reads_back


def test_platform_scope_has_one_table_and_clone_keeps_it_shared():
    m = machine("platform")
    program(m, 0, 0)
    assert m.key_table_view(1) == m.key_table_view(0) != {}
    c = m.clone()
    program(c, 1, 1)
    assert c.key_table_view(0) == c.key_table_view(1) != m.key_table_view(0)
    assert m.key_table_view(0) == m.key_table_view(1)


def test_per_package_scopes_keep_tables_apart_after_clone():
    for scope in ("home", "writer"):
        m = machine(scope)
        program(m, 0, 0)
        assert m.key_table_view(1) == {}
        c = m.clone()
        program(c, 1, 1)
        assert m.key_table_view(1) == {} and c.key_table_view(1) != c.key_table_view(0)


@pytest.mark.parametrize("scope", KEYTABLE_SCOPES)
def test_c7_rekey_with_a_dirty_line_depends_on_when_the_write_back_happens(scope):
    """Andy's C7 under every scope: a dirty (PA, KeyID 1) line and a key change; the bytes the
    new owner reads depend on whether the write-back came before or after the PCONFIG."""
    outcomes = set()
    for writeback_first in (True, False):
        m = machine(scope)
        for p in range(2):
            program(m, p, 0)
        m.store(m.hpa(PA, 1), SECRET, package=1)
        if writeback_first:
            m.wbinvd(1)
        for p in range(2):  # rotate KeyID 1 to the second key everywhere
            program(m, p, 1)
        m.wbinvd(1)
        outcomes.add(m.load(m.hpa(PA, 1), LINE, package=0))
    assert len(outcomes) == 2 and SECRET in outcomes
