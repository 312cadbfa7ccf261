"""Every argument a learner can type into the hardware layer gets a sentence from the MKTMEError
family, never a silent wrong answer or a Python TypeError, and every size has a ceiling.

The cases come from an independent probe of the hardware layer. Each one either answered
wrongly (``tme_bypass="False"`` turned encryption OFF, ``dram(pa, -5)`` returned b'') or raised
outside the family (TypeError, ValueError, MemoryError) or hung (``cache_sets=2**26``).
"""

import numpy as np
import pytest

from mktme_lite import Machine, PconfigCommand, PconfigStatus, TMEActivate, TMECapability
from mktme_lite.cache import MAX_CACHE_SETS
from mktme_lite.errors import AddressError, MKTMEError, ParameterError
from mktme_lite.machine import MAX_DRAM_BYTES, MAX_INJECTED

SMALL = dict(dram_bytes=16384)


@pytest.mark.parametrize("kwargs, words", [
    (dict(tme_bypass="False"), r"tme_bypass must be True or False; got 'False'"),
    (dict(tme_bypass=0), r"tme_bypass must be True or False"),
    (dict(trace="yes"), r"trace must be True or False"),
    (dict(keyid_bits=True), r"keyid_bits .*whole number; got True"),
    (dict(packages=True), r"packages must be a whole number; got True"),
    (dict(packages=2.0), r"packages must be a whole number"),
    (dict(phys_bits="46"), r"phys_bits .*whole number"),
    (dict(seed=-1), r"seed must be 0 to"),
    (dict(seed=1.5), r"seed must be a whole number"),
    (dict(crypto_algs=1.0), r"crypto_algs must be a whole number"),
    (dict(max_keyid_bits=True), r"max_keyid_bits .*whole number"),
    (dict(cache_sets=2**22), r"cache_sets must be 1 to 65536; got 4194304"),
    (dict(cache_sets=2**26), r"cache_sets must be 1 to 65536"),
    (dict(cache_ways=65), r"cache_ways must be 1 to 64"),
    (dict(dram_bytes=2**30), r"dram_bytes must be 1 to 33554432"),
    (dict(dram_bytes=None), r"dram_bytes must be a whole number"),
])
def test_machine_refuses_what_it_cannot_mean(kwargs, words):
    with pytest.raises(ParameterError, match=words):
        Machine(**{**SMALL, **kwargs})


def test_the_flag_means_what_it_says():
    on = Machine(tme_bypass=True, **SMALL)
    on.store(0, b"plain")
    on.wbinvd()
    assert on.dram(0, 5) == b"plain"
    assert Machine(tme_bypass=np.bool_(False), **SMALL).tme_bypass is False


def test_numpy_integers_work_wherever_ints_do():
    m = Machine(packages=np.int64(2), keyid_bits=np.uint8(4), dram_bytes=np.int64(16384), seed=np.uint32(3),
                cache_sets=np.int32(16), cache_ways=np.int16(4))
    ref = Machine(packages=2, keyid_bits=4, dram_bytes=16384, seed=3, cache_sets=16, cache_ways=4)
    assert m.dram(0, 64) == ref.dram(0, 64)
    h = m.hpa(np.uint64(0x40), np.int8(1))
    assert type(h) is int and h == m.hpa(0x40, 1)
    assert m.pconfig(np.int64(0), np.int64(1), np.int64(PconfigCommand.KEYID_SET_KEY_RANDOM)) is PconfigStatus.PROG_SUCCESS
    m.store(np.uint64(h), b"numpy", package=np.int64(1))
    assert m.load(np.int64(h), np.int64(5), package=np.int32(0)) == b"numpy"
    assert m.cached(np.uint64(h)) and m.home_package(np.uint64(0x40)) == 0
    assert m.dram(np.uint64(0), np.int64(4)) == m.dram(0, 4)


def test_the_largest_machine_is_still_cheap_to_build():
    # Not timed: the ceilings are what keep construction under a second (see MAX_DRAM_BYTES).
    m = Machine(dram_bytes=MAX_DRAM_BYTES, cache_sets=MAX_CACHE_SETS, cache_ways=64, packages=8)
    assert m.dram_bytes == MAX_DRAM_BYTES and m.caches[0].lines() == []
    assert m.clone().caches[7].sets == MAX_CACHE_SETS


@pytest.mark.parametrize("call, words", [
    (lambda m: m.pconfig(0, 1, PconfigCommand.KEYID_NO_ENCRYPT, enc_alg=1.0), r"enc_alg .*whole number"),
    (lambda m: m.pconfig(0, 1, PconfigCommand.KEYID_NO_ENCRYPT, enc_alg=[]), r"enc_alg .*whole number"),
    (lambda m: m.pconfig(0, 1, 1.0), r"command .*whole number"),
    (lambda m: m.pconfig(0, "1", 1), r"keyid must be a whole number"),
    (lambda m: m.inject_pconfig_status(0, 7), r"status .*0 to 5; got 7"),
    (lambda m: m.inject_pconfig_status(0, PconfigStatus.INVALID_KEYID), r"only DEVICE_BUSY and ENTROPY_ERROR"),
    (lambda m: m.inject_pconfig_status(0, PconfigStatus.DEVICE_BUSY, times=10**9), rf"times must be 0 to {MAX_INJECTED}"),
    (lambda m: m.inject_pconfig_status(0, PconfigStatus.DEVICE_BUSY, times=2.0), r"times must be a whole number"),
    (lambda m: m.rdmsr("0x981"), r"msr .*whole number; got '0x981'"),
    (lambda m: m.rdmsr(-1), r"msr .*0x0 to 0xffffffff"),
    (lambda m: m.dram(0x40, 64.0), r"length .*whole number; got 64.0"),
    (lambda m: m.dram(0x40, -5), r"length \(a positive byte count\) must be at least 1; got -5"),
    (lambda m: m.dram(0x40, 0), r"at least 1; got 0"),
    (lambda m: m.dram("0x40"), r"physical address must be a whole number"),
    (lambda m: m.write_dram(0x40, "text"), r"must be bytes"),
    (lambda m: m.cached("x"), r"hpa .*whole number; got 'x'"),
    (lambda m: m.home_package(None), r"physical address must be a whole number; got None"),
    (lambda m: m.load(0x40, 2.0), r"length .*whole number"),
    (lambda m: m.store(0.0, b"x"), r"hpa .*whole number"),
    (lambda m: m.load(0, 4, package=True), r"package must be a whole number"),
    (lambda m: m.key_mode(0, None), r"keyid must be a whole number"),
    (lambda m: TMEActivate.decode(None), r"IA32_TME_ACTIVATE value .*whole number"),
    (lambda m: TMECapability.decode("0"), r"IA32_TME_CAPABILITY value .*whole number"),
    (lambda m: TMEActivate.decode(1 << 64), r"0x0 to 0xffffffffffffffff"),
])
def test_methods_refuse_with_a_sentence(call, words):
    with pytest.raises(ParameterError, match=words):
        call(Machine(**SMALL))


def test_home_package_outside_dram_is_an_address_error():
    m = Machine(**SMALL)
    assert [m.home_package(pa) for pa in (0, 8191, 8192, 16383)] == [0, 0, 1, 1]
    with pytest.raises(AddressError, match="outside DRAM"):
        m.home_package(16384)  # used to answer package 2 of a 2-package machine


def test_the_pconfig_numbers_the_hardware_does_not_know_are_still_status_codes():
    m = Machine(**SMALL)
    assert m.pconfig(0, 1, PconfigCommand.KEYID_NO_ENCRYPT, enc_alg=3) is PconfigStatus.INVALID_ENC_ALG
    assert m.pconfig(0, -1, PconfigCommand.KEYID_NO_ENCRYPT) is PconfigStatus.INVALID_KEYID
    assert m.pconfig(0, 1, 200) is PconfigStatus.INVALID_PROG_CMD
    m.inject_pconfig_status(0, 5, times=0)  # nothing queued
    m.inject_pconfig_status(0, 2)  # a plain number is a status too
    assert m.pconfig(0, 1, PconfigCommand.KEYID_NO_ENCRYPT) is PconfigStatus.ENTROPY_ERROR


def test_every_refusal_is_in_the_family():
    assert issubclass(ParameterError, MKTMEError) and issubclass(ParameterError, ValueError)


@pytest.mark.parametrize("call, words", [
    (lambda: TMEActivate(lock=None), r"TMEActivate.lock must be True or False; got None"),
    (lambda: TMEActivate(bypass="False"), r"TMEActivate.bypass must be True or False; got 'False'"),
    (lambda: TMEActivate(keyid_bits=16), r"TMEActivate.keyid_bits must be 0 to 15; got 16"),
    (lambda: TMEActivate(crypto_algs=1.0), r"TMEActivate.crypto_algs must be a whole number"),
    (lambda: TMECapability(aes_xts_128=1), r"TMECapability.aes_xts_128 must be True or False; got 1"),
    (lambda: TMECapability(max_keys=-1), r"TMECapability.max_keys must be 0x0 to 0x7fff; got -0x1"),
])
def test_msr_records_check_their_fields(call, words):
    # Before: TMEActivate(lock=None) was accepted and encoded as 0 (unlocked) without a word.
    with pytest.raises(ParameterError, match=words):
        call()


def test_small_hardware_helpers_refuse_odd_input():
    from mktme_lite.keytable import key_fingerprint
    from mktme_lite.memory import line_tweak
    from mktme_lite.xts import gf128_mul_alpha

    with pytest.raises(ParameterError, match=r"t \(a 128-bit tweak\) must be a whole number; got None"):
        gf128_mul_alpha(None)
    with pytest.raises(ParameterError, match=r"t \(a 128-bit tweak\) must be 0x0 to"):
        gf128_mul_alpha(1 << 128)
    assert gf128_mul_alpha(np.uint64(1)) == 2
    with pytest.raises(ParameterError, match=r"pa \(a physical address\) must be a whole number; got '0x40'"):
        line_tweak("0x40")
    with pytest.raises(ParameterError, match=r"data_key must be bytes; got None"):
        key_fingerprint(None, bytes(16))
