"""Lesson 08's hardware: the TDX KeyID partition (MSR 0x87) and persistent memory across a reboot."""

import pytest

from mktme_lite import LINE, Machine, PconfigCommand, PconfigStatus
from mktme_lite.address import IA32_MKTME_KEYID_PARTITIONING, KeyIDPartition, TMEActivate
from mktme_lite.errors import KeyIDError, MKTMEError, ParameterError

KEY = (b"pmem data key...", b"pmem tweak key..")


def program(m, keyid, key=KEY):
    for p in range(m.packages):
        assert m.pconfig(p, keyid, PconfigCommand.KEYID_SET_KEY_DIRECT, *key) == PconfigStatus.PROG_SUCCESS


# -- the partition -------------------------------------------------------------------------------------
def test_linux_example_six_bits_two_for_tdx():
    """Linux logs "private KeyID range: [16, 64)" for 6 KeyID bits with 2 kept for TDX."""
    part = KeyIDPartition.split(6, 2)
    assert (part.mktme_keyids, part.tdx_keyids) == (15, 48)
    assert part.private_range == range(16, 64) and "[16, 64)" in str(part)
    assert KeyIDPartition.decode(part.value) == part and part.value == (48 << 32) | 15


@pytest.mark.parametrize("bits, tdx", [(6, 0), (6, 6), (4, 1), (8, 3), (0, 0)])
def test_partition_always_covers_every_keyid_once(bits, tdx):
    part = KeyIDPartition.split(bits, tdx)
    assert part.mktme_keyids + part.tdx_keyids == (1 << bits) - 1
    assert all(part.is_private(k) == (k > part.mktme_keyids) for k in range(1, 1 << bits))


def test_msr_0x87_and_tme_activate_carry_the_split():
    m = Machine(keyid_bits=6, tdx_keyid_bits=2)
    assert KeyIDPartition.decode(m.rdmsr(IA32_MKTME_KEYID_PARTITIONING)) == m.partition
    assert TMEActivate.decode(m.rdmsr(0x982)).tdx_keyid_bits == 2
    assert (m.rdmsr(0x982) >> 36) & 0xF == 2
    plain = Machine(keyid_bits=6)
    assert KeyIDPartition.decode(plain.rdmsr(0x87)) == KeyIDPartition(63, 0)
    assert "tdx_keyid_bits" in repr(m) and "tdx_keyid_bits" not in repr(plain)


def test_host_cannot_program_or_touch_a_private_keyid():
    m = Machine(keyid_bits=6, tdx_keyid_bits=2, dram_bytes=65536)
    assert m.pconfig(0, 16, PconfigCommand.KEYID_SET_KEY_RANDOM) == PconfigStatus.INVALID_KEYID
    assert m.pconfig(0, 15, PconfigCommand.KEYID_SET_KEY_RANDOM) == PconfigStatus.PROG_SUCCESS
    for call in (lambda: m.store(m.hpa(0x1000, 16), b"x"), lambda: m.load(m.hpa(0x1000, 63)),
                 lambda: m.clflush(m.hpa(0x1000, 40))):
        with pytest.raises(KeyIDError, match=r"TDX private KeyID \(private range \[16, 64\)") as info:
            call()
        assert "SEAM" in str(info.value) and "0-15" in str(info.value)
    assert m.is_private(16) and not m.is_private(15) and not m.is_private(0)


def test_the_refusal_is_labelled_a_modelling_choice_and_claims_no_hardware_fault():
    """The sources say only that private KeyIDs are "only accessible within the SEAM mode" (tdx.rst); which fault
    (if any) hardware raises is not sourced, so the error names none and says the refusal is the model's."""
    m = Machine(keyid_bits=6, tdx_keyid_bits=2, dram_bytes=65536)
    with pytest.raises(KeyIDError) as info:
        m.load(m.hpa(0x1000, 16))
    text = str(info.value)
    assert "Modelling choice" in text and "only accessible within the SEAM mode" in text
    for claim in ("#GP", "#MC", "machine check", "reserved bit", "poison"):
        assert claim not in text, claim


def test_seam_mode_may_use_private_keyids_and_the_host_then_reads_nothing():
    m = Machine(keyid_bits=6, tdx_keyid_bits=2, dram_bytes=65536)
    with m.seam():
        assert m.pconfig(0, 20, PconfigCommand.KEYID_SET_KEY_RANDOM) == PconfigStatus.PROG_SUCCESS
        assert m.pconfig(1, 20, PconfigCommand.KEYID_SET_KEY_RANDOM) == PconfigStatus.PROG_SUCCESS
        m.store(m.hpa(0x2000, 20), b"guest secret")
        m.clflush(m.hpa(0x2000, 20))
        assert m.load(m.hpa(0x2000, 20), 12) == b"guest secret"
    assert b"guest secret" not in m.load(m.hpa(0x2000, 0), LINE)  # the host's KeyID-0 alias: garbage
    with pytest.raises(KeyIDError):
        m.load(m.hpa(0x2000, 20))
    c = m.clone()
    with pytest.raises(KeyIDError):
        c.load(c.hpa(0x2000, 20))


@pytest.mark.parametrize("bad, message", [(7, "tdx_keyid_bits"), (-1, "tdx_keyid_bits"), (True, "whole number"),
                                          ("2", "whole number")])
def test_bad_tdx_split_refused(bad, message):
    with pytest.raises(ParameterError, match=message):
        Machine(keyid_bits=6, tdx_keyid_bits=bad)


# -- pmem and reboot -----------------------------------------------------------------------------------
def pmem_machine(**kw):
    return Machine(keyid_bits=6, dram_bytes=65536, pmem_bytes=8192, seed=4, **kw)


def test_pmem_survives_a_reboot_only_with_the_same_key_and_address():
    m = pmem_machine()
    program(m, 3)
    pa = m.pmem.start
    m.store(m.hpa(pa, 3), b"persistent data")
    m.clflush(m.hpa(pa, 3))
    r = m.reboot()
    assert r.seed == m.seed + 1 and r.key_table_view(0) == {}
    assert r.dram(pa, LINE) == m.dram(pa, LINE)  # the ciphertext survived
    program(r, 3)
    assert r.load(r.hpa(pa, 3), 15) == b"persistent data"
    other = pmem_machine().reboot()
    program(other, 3, (b"another data key", b"another tweakkey"))
    other.write_dram(pa, m.dram(pa, LINE))
    assert other.load(other.hpa(pa, 3), 15) != b"persistent data"  # another key: garbage
    r.write_dram(pa + 4096, r.dram(pa, LINE))  # a filesystem moves the block
    assert r.load(r.hpa(pa + 4096, 3), 15) != b"persistent data"  # new address, new tweak: garbage


def test_volatile_dram_and_unflushed_lines_do_not_survive():
    m = pmem_machine()
    program(m, 3)
    m.store(m.hpa(0x1000, 3), b"volatile")
    m.clflush(m.hpa(0x1000, 3))
    m.store(m.hpa(m.pmem.start + 64, 3), b"never written back")
    r = m.reboot()
    program(r, 3)
    assert r.load(r.hpa(0x1000, 3), 8) != b"volatile"
    assert r.load(r.hpa(m.pmem.start + 64, 3), 18) != b"never written back"
    assert r.dram(0x1000, LINE) != m.dram(0x1000, LINE)


def test_reboot_makes_a_new_tme_key_and_keeps_the_configuration():
    m = pmem_machine(tdx_keyid_bits=1, keytable_scope="writer")
    m.store(m.hpa(m.pmem.start, 0), b"tme data")
    m.clflush(m.hpa(m.pmem.start, 0))
    r = m.reboot()
    assert r.load(r.hpa(m.pmem.start, 0), 8) != b"tme data"  # KeyID 0's key changed at boot
    assert (r.pmem, r.partition, r.keytable_scope) == (m.pmem, m.partition, m.keytable_scope)
    assert any(e.kind == "reboot" for e in r.trace)


@pytest.mark.parametrize("bad, error", [(4096 + 1, MKTMEError), (1 << 20, ParameterError), (-4096, ParameterError)])
def test_bad_pmem_size_refused(bad, error):
    with pytest.raises(error, match="pmem_bytes"):
        Machine(dram_bytes=65536, pmem_bytes=bad)
