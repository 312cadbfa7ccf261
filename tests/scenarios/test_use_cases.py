"""Lesson 08's experiments: pmem across a reboot and the TDX partition, computed by the engine."""
import pytest

from mktme_lite.errors import MKTMEError
from mktme_lite.scenarios import use_cases as u


@pytest.mark.parametrize("label, kw, intact", [
    ("user key, written back", {"key": "user"}, True),
    ("never written back", {"key": "user", "flushed": False}, False),
    ("CPU key", {"key": "cpu"}, False),
    ("TME key", {"key": "tme"}, False),
    ("raw move", {"key": "user", "move": "raw"}, False),
    ("move through the CPU", {"key": "user", "move": "through_cpu"}, True),
    ("no reboot, CPU key", {"key": "cpu", "rebooted": False}, True),
    ("no reboot, raw move", {"key": "user", "rebooted": False, "move": "raw"}, False),
])
def test_pmem_outcomes(label, kw, intact):
    r = u.pmem_run(**kw)
    assert r.intact is intact, label
    assert (r.readback == u.RECORD) is intact
    assert r.story[-1].endswith("intact" if intact else "garbage")


def test_every_lesson_case_runs_and_the_cases_differ():
    results = {label: u.pmem_run(**kw).intact for label, kw in u.PMEM_CASES}
    assert True in results.values() and False in results.values()


def test_the_reboot_keeps_the_ciphertext_it_cannot_open():
    r = u.pmem_run(key="cpu")
    assert r.dram_same and not r.intact  # the bytes survived; the key did not


@pytest.mark.parametrize("kw", [{"key": "aes"}, {"move": "defrag"}, {"flushed": "yes"}, {"seed": -1}])
def test_bad_pmem_arguments(kw):
    with pytest.raises(MKTMEError):
        u.pmem_run(**kw)


def test_partition_matches_linux_example():
    p = u.partition(6, 2)
    assert p.mktme == range(1, 16) and p.private == range(16, 64)
    assert p.msr_0x87 == (48 << 32) | 15 and (p.tme_activate >> 36) & 0xF == 2
    assert dict(p.host_program) == {1: "PROG_SUCCESS", 15: "PROG_SUCCESS", 16: "INVALID_KEYID", 63: "INVALID_KEYID"}
    assert dict(p.host_access)[15] == "ok" and dict(p.host_access)[16].startswith("refused")
    assert p.addressable_gib == 1024


@pytest.mark.parametrize("bits, tdx", [(6, 0), (6, 6), (4, 1), (8, 3)])
def test_partition_host_may_use_exactly_the_mktme_keyids(bits, tdx):
    p = u.partition(bits, tdx)
    for k, status in p.host_program:
        assert (status == "PROG_SUCCESS") == (k in p.mktme)
    for k, what in p.host_access:
        assert (what == "ok") == (k in p.mktme)


@pytest.mark.parametrize("args", [(6, 7), (16, 0), (6, -1), (True, 0)])
def test_bad_partitions_refused(args):
    with pytest.raises(MKTMEError):
        u.partition(*args)
