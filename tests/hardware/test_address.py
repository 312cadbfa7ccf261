"""KeyID addresses and the TME MSRs."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mktme_lite import Machine, TMEActivate, TMECapability
from mktme_lite.address import ALG_AES_XTS_128, ALG_AES_XTS_256, AddressLayout
from mktme_lite.errors import AddressError, ConfigError, KeyIDError, ParameterError


def test_linux_example_52_bits_6_keyid_bits():
    # "MAXPHYADDR 52, 6 KeyID bits -> KeyID in PA bits 51:46" (Alison's RFC v2 05/13)
    lay = AddressLayout(52, 6)
    assert lay.keyid_shift == 46
    assert lay.keyid_mask == 0x3F << 46
    assert lay.nr_keyids == 63
    assert lay.hpa(0x1000, 5) == (5 << 46) | 0x1000


def test_each_keyid_bit_halves_addressable_memory():
    for bits in range(0, 8):
        lay = AddressLayout(46, bits)
        assert lay.addressable_bytes == 2 ** (46 - bits)
        assert lay.lost_bytes + lay.addressable_bytes == 2**46


@given(st.integers(0, 8), st.data())
def test_hpa_split_round_trip(bits, data):
    lay = AddressLayout(40, bits)
    pa = data.draw(st.integers(0, lay.addressable_bytes - 1))
    keyid = data.draw(st.integers(0, lay.nr_keyids))
    assert lay.split(lay.hpa(pa, keyid)) == (pa, keyid)


def test_errors_name_the_limit():
    lay = AddressLayout(46, 6)
    with pytest.raises(KeyIDError, match=r"keyid 70 needs 7 KeyID bits.*activated 6.*0\.\.63"):
        lay.hpa(0, 70)
    with pytest.raises(AddressError, match="carry the KeyID"):
        lay.hpa(1 << 40, 0)
    with pytest.raises(AddressError, match="negative"):
        lay.hpa(-64, 0)
    with pytest.raises(AddressError, match="above bit 45"):
        lay.split(1 << 46)
    with pytest.raises(ParameterError, match="keyid_bits .* 0 to 15"):
        AddressLayout(46, 16)
    with pytest.raises(ConfigError, match="keep at least 24"):
        AddressLayout(32, 15)


def test_msr_fields_round_trip_and_match_bit_positions():
    act = TMEActivate(bypass=True, keyid_bits=6, crypto_algs=ALG_AES_XTS_128 | ALG_AES_XTS_256, policy=2)
    v = act.value
    assert v & 1 and v >> 1 & 1  # locked, enabled
    assert (v >> 4) & 0xF == 2
    assert v >> 31 & 1
    assert (v >> 32) & 0xF == 6
    assert (v >> 48) & 0xFFFF == 0b101
    assert TMEActivate.decode(v) == act
    cap = TMECapability(max_keyid_bits=8, max_keys=255)
    assert (cap.value >> 32) & 0xF == 8 and (cap.value >> 36) & 0x7FFF == 255
    assert TMECapability.decode(cap.value) == cap


def test_machine_rdmsr_reflects_configuration():
    m = Machine(keyid_bits=4, tme_bypass=True, dram_bytes=16384)
    act = TMEActivate.decode(m.rdmsr(0x982))
    assert act.keyid_bits == 4 and act.bypass and act.lock and act.enable
    cap = TMECapability.decode(m.rdmsr(0x981))
    assert cap.max_keyid_bits >= 4
    with pytest.raises(Exception, match="0x981"):
        m.rdmsr(0x10)
