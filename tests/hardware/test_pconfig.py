"""PCONFIG MKTME_KEY_PROGRAM: every command x every situation -> the documented return code."""

import pytest

from mktme_lite import ALG_AES_XTS_128, ALG_AES_XTS_256, KeyMode, Machine, PconfigCommand, PconfigStatus
from mktme_lite.errors import KeyMaterialError, PackageError

K16 = bytes(range(16))
T16 = bytes(range(16, 32))

CMDS = list(PconfigCommand)


def _keys(cmd):
    return (K16, T16) if cmd is PconfigCommand.KEYID_SET_KEY_DIRECT else (None, None)


EXPECTED_MODE = {
    PconfigCommand.KEYID_SET_KEY_DIRECT: KeyMode.KEY,
    PconfigCommand.KEYID_SET_KEY_RANDOM: KeyMode.KEY,
    PconfigCommand.KEYID_CLEAR_KEY: KeyMode.TME,
    PconfigCommand.KEYID_NO_ENCRYPT: KeyMode.NO_ENCRYPT,
}


@pytest.mark.parametrize("cmd", CMDS, ids=lambda c: c.name)
@pytest.mark.parametrize(
    "situation, expected",
    [
        ("valid", PconfigStatus.PROG_SUCCESS),
        ("keyid0", PconfigStatus.INVALID_KEYID),
        ("keyid_too_large", PconfigStatus.INVALID_KEYID),
        ("alg_not_activated", PconfigStatus.INVALID_ENC_ALG),
        ("alg_two_bits", PconfigStatus.INVALID_ENC_ALG),
        ("busy", PconfigStatus.DEVICE_BUSY),
        ("no_entropy", PconfigStatus.ENTROPY_ERROR),
    ],
)
def test_command_table(cmd, situation, expected):
    m = Machine(packages=2, keyid_bits=6, dram_bytes=16384, seed=3)
    keyid, alg = 5, ALG_AES_XTS_128
    if situation == "keyid0":
        keyid = 0
    elif situation == "keyid_too_large":
        keyid = 64
    elif situation == "alg_not_activated":
        alg = ALG_AES_XTS_256
    elif situation == "alg_two_bits":
        alg = ALG_AES_XTS_128 | ALG_AES_XTS_256
    elif situation == "busy":
        m.inject_pconfig_status(0, PconfigStatus.DEVICE_BUSY)
    elif situation == "no_entropy":
        m.inject_pconfig_status(0, PconfigStatus.ENTROPY_ERROR)
    before = [m.key_table_view(p) for p in range(2)]
    status = m.pconfig(0, keyid, cmd, *_keys(cmd), enc_alg=alg)
    assert status is expected
    assert m.key_table_view(1) == before[1], "PCONFIG on package 0 changed package 1's table"
    if expected is PconfigStatus.PROG_SUCCESS:
        assert m.key_mode(0, keyid) is EXPECTED_MODE[cmd]
        assert m.key_mode(1, keyid) is KeyMode.TME
    else:
        assert m.key_table_view(0) == before[0], "a failed PCONFIG changed the table"


def test_invalid_command():
    m = Machine(dram_bytes=16384)
    assert m.pconfig(0, 1, 4) is PconfigStatus.INVALID_PROG_CMD
    assert m.pconfig(0, 1, 255) is PconfigStatus.INVALID_PROG_CMD


def test_keyids_beyond_capability_max_keys_are_invalid():
    m = Machine(keyid_bits=6, dram_bytes=16384)
    m.capability = m.capability.__class__(max_keyid_bits=6, max_keys=10)  # a SKU with fewer keys than bits allow
    assert m.pconfig(0, 10, PconfigCommand.KEYID_NO_ENCRYPT) is PconfigStatus.PROG_SUCCESS
    assert m.pconfig(0, 11, PconfigCommand.KEYID_NO_ENCRYPT) is PconfigStatus.INVALID_KEYID


def test_aes256_when_activated():
    m = Machine(dram_bytes=16384, crypto_algs=ALG_AES_XTS_128 | ALG_AES_XTS_256)
    st = m.pconfig(0, 1, PconfigCommand.KEYID_SET_KEY_DIRECT, bytes(32), bytes(range(32)), enc_alg=ALG_AES_XTS_256)
    assert st is PconfigStatus.PROG_SUCCESS
    with pytest.raises(KeyMaterialError, match="32 bytes for AES-XTS-256"):
        m.pconfig(0, 1, PconfigCommand.KEYID_SET_KEY_DIRECT, K16, T16, enc_alg=ALG_AES_XTS_256)


def test_key_material_errors():
    m = Machine(dram_bytes=16384)
    with pytest.raises(KeyMaterialError, match="needs data_key and tweak_key"):
        m.pconfig(0, 1, PconfigCommand.KEYID_SET_KEY_DIRECT)
    with pytest.raises(KeyMaterialError, match="16 bytes"):
        m.pconfig(0, 1, PconfigCommand.KEYID_SET_KEY_DIRECT, K16[:8], T16)
    with pytest.raises(KeyMaterialError, match="takes no key material"):
        m.pconfig(0, 1, PconfigCommand.KEYID_NO_ENCRYPT, K16, T16)
    with pytest.raises(PackageError, match="numbered 0..1"):
        m.pconfig(2, 1, PconfigCommand.KEYID_NO_ENCRYPT)


def test_busy_is_transient_and_retryable():
    m = Machine(dram_bytes=16384)
    m.inject_pconfig_status(0, PconfigStatus.DEVICE_BUSY, times=2)
    results = [m.pconfig(0, 1, PconfigCommand.KEYID_SET_KEY_RANDOM) for _ in range(3)]
    assert results == [PconfigStatus.DEVICE_BUSY, PconfigStatus.DEVICE_BUSY, PconfigStatus.PROG_SUCCESS]
    assert all(s.retryable for s in results[:2]) and not PconfigStatus.INVALID_KEYID.retryable


def test_random_keys_differ_per_package_and_are_reproducible():
    a = Machine(dram_bytes=16384, seed=11)
    b = Machine(dram_bytes=16384, seed=11)
    for m in (a, b):
        for p in range(2):
            m.pconfig(p, 1, PconfigCommand.KEYID_SET_KEY_RANDOM)
    assert a.key_table_view(0) == b.key_table_view(0)
    assert a.key_table_view(0) != a.key_table_view(1)


def test_pconfig_never_touches_caches():
    m = Machine(dram_bytes=16384)
    m.pconfig(0, 1, PconfigCommand.KEYID_SET_KEY_RANDOM)
    h = m.hpa(0x100, 1)
    m.store(h, b"dirty")
    lines_before = m.cache_view(0)
    m.pconfig(0, 1, PconfigCommand.KEYID_SET_KEY_RANDOM)
    assert m.cache_view(0) == lines_before
    assert m.load(h, 5) == b"dirty"  # still the cached plaintext


def test_cleared_keyid_behaves_like_keyid0():
    m = Machine(dram_bytes=16384)
    m.pconfig(0, 1, PconfigCommand.KEYID_SET_KEY_RANDOM)
    m.pconfig(0, 1, PconfigCommand.KEYID_CLEAR_KEY)
    m.store(m.hpa(0x200, 1), b"x" * 64)
    m.wbinvd()
    assert m.load(m.hpa(0x200, 0), 64) == b"x" * 64
