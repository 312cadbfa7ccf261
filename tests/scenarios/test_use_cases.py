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


# -- the MSR view --------------------------------------------------------------------------------------
def test_msr_rows_decode_what_the_machine_read_and_name_what_is_not_modelled():
    rows = u.msr_rows(u.partition(6, 2))
    by = {(r.msr, r.bits): r for r in rows}
    assert by[(0x87, "31:0")].value == "15" and by[(0x87, "63:32")].value == "48"
    assert "[16, 64)" in by[(0x87, "63:32")].meaning
    assert by[(0x982, "39:36")].value == "2" and by[(0x982, "35:32")].value == "6"
    unmodelled = [r for r in rows if not r.modelled]
    assert {r.msr for r in unmodelled} == {0x981, 0x983} and all("Intel SDM Vol. 4" in r.source and "336907" in r.source for r in unmodelled)
    none = {(r.msr, r.bits): r for r in u.msr_rows(u.partition(6, 0))}
    assert none[(0x87, "63:32")].value == "0" and "none" in none[(0x87, "63:32")].meaning


def test_msr_rows_refuse_anything_but_a_partition():
    with pytest.raises(MKTMEError, match="Partition"):
        u.msr_rows((6, 2))


# -- SME_COHERENT ---------------------------------------------------------------------------------------
def test_coherence_removes_the_cache_symptoms_but_not_the_dma_one():
    table = {case: (off, on) for case, off, on in u.coherence_table()}
    assert table == {"read_other_keyid": (True, False), "late_writeback": (True, False),
                     "speculative_stale": (True, False), "dma_late_writeback": (True, True),
                     "rekey_dirty": (True, True)}


def test_coherence_does_the_flushing_itself_and_keys_still_differ():
    on = u.coherence_run("late_writeback", True)
    assert on.got == on.expected and on.invalidates >= 1
    assert u.coherence_run("late_writeback", False).invalidates == 0
    # Coherence makes the KeyID-2 reader see the current ciphertext, decrypted with ITS key: still not the data.
    read = u.coherence_run("read_other_keyid", True)
    assert read.got == read.expected and b"old owner" not in read.got


def test_coherence_result_is_computed_not_labelled():
    """The expected bytes come from the machine: the late write-back case expects the new owner's line."""
    r = u.coherence_run("late_writeback", False)
    assert r.expected.startswith(b"new owner") and not r.got.startswith(b"new owner")
    assert r.story[-1].startswith("the reader did NOT")


@pytest.mark.parametrize("kw", [{"case": "c5"}, {"coherent": 1}])
def test_bad_coherence_arguments(kw):
    with pytest.raises(MKTMEError):
        u.coherence_run(**kw)


# -- key types x designs, VM hardening --------------------------------------------------------------------
def test_vm_table_per_guest_keyid_is_no_better_than_xpo_against_the_host():
    rows = {o.design if o.key != "tme" else "xpo": o for _, o in u.vm_table()}
    keyid, xpo, tdx = rows["per_keyid"], rows["xpo"], rows["tdx_module"]
    # Against a stray read and for device assignment, both work ...
    assert keyid.stray_read == "garbage" and xpo.stray_read == "oops"
    assert keyid.gup == xpo.gup == "right"
    # ... and against a host kernel that maps the frame with the guest's KeyID, neither does; TDX refuses it.
    assert keyid.kernel_read == xpo.kernel_read == "PLAINTEXT"
    assert tdx.kernel_read == "refused"
    assert rows["keyid0"].gup == "GARBAGE" and rows["rekey"].stray_read == "PLAINTEXT"
    assert rows["unmapped"].gup == "EFAULT"
    assert dict(keyid.events)["clflush"] == 128 and dict(xpo.events)["clflush"] == 0
    assert keyid.direct_maps == 64 and xpo.direct_maps == 1


def test_option_agrees_with_lesson_03s_table():
    from mktme_lite.scenarios import aliasing
    for row in aliasing.compare_designs():
        o = u.option("cpu", row.design)
        assert o.stray_read == row.stray_read
        assert dict(o.events) == row.costs
        assert o.gup == next((v for v in row.outcomes.values() if v != "right"), "right")


def test_only_a_user_key_survives_the_reboot_and_only_through_the_cpu_survives_a_move():
    assert u.option("user", "namespace").survives_reboot and u.option("user", "namespace").survives_move
    assert not u.option("user", "keyid0").survives_move  # a DAX block moved raw
    assert not u.option("cpu", "namespace").survives_reboot
    assert not u.option("tdx", "tdx_module").survives_reboot
    assert u.option("user", "keyid0").dump_decrypts and not u.option("cpu", "keyid0").dump_decrypts


@pytest.mark.parametrize("key, design", [("tdx", "keyid0"), ("cpu", "tdx_module"), ("tme", "namespace")])
def test_pairs_that_make_no_sense_say_why(key, design):
    o = u.option(key, design)
    assert not o.valid and o.why
    assert u.meets("pmem", key, design)[0][1] is False


# -- C11 ---------------------------------------------------------------------------------------------------
def test_c11_choices_the_engine_accepts():
    ok = {uc: {(k, d) for k in u.KEY_TYPES for d in u.C11_DESIGNS if all(m for _, m, _ in u.meets(uc, k, d))}
          for uc in u.C11_USE_CASES}
    assert ok["pmem"] == {("user", "namespace")}
    assert {k for k, _ in ok["anonymous memory"]} == {"tme"} == {k for k, _ in ok["a container"]}
    assert ("tdx", "tdx_module") in ok["a VM"] and ("tme", "xpfo") in ok["a VM"] and ("cpu", "keyid0") not in ok["a VM"]
    assert not any(k in ("user", "tdx") for k, _ in ok["a secret in one process"])
    assert ("tme", "keyid0") not in ok["a secret in one process"]


def test_every_requirement_names_where_the_course_showed_it():
    for uc in u.C11_USE_CASES:
        assert u.requirements(uc) and all(r.why for r in u.requirements(uc))
    with pytest.raises(MKTMEError):
        u.requirements("a database")


def test_the_xpo_self_check_has_one_answer_the_engine_and_the_lesson_both_support():
    """Lesson 08's "xpo" question: the keyed answer is what vm_table() computes for a host *software* reader,
    each wrong option is contradicted by it, and the question keeps the physical attacker out of scope (the
    lesson says a per-guest key still helps against one, which XPFO does not: an unscoped "only the cost differs"
    would be debatable, as a cold-boot option was)."""
    from mktme_lite import quiz

    q = quiz.question("08_use_cases", "xpo")
    assert [o.correct for o in q.options].count(True) == 1
    assert "software" in q.question and "physical attacker" in q.question
    assert "physical attacker" in q.explanation and "XPFO does not" in q.explanation
    assert not any("cold-boot" in o.text or "physical" in o.text for o in q.options)
    rows = {o.design if o.key != "tme" else "xpo": o for _, o in u.vm_table()}
    keyid, xpo = rows["per_keyid"], rows["xpo"]
    right = next(o for o in q.options if o.correct)
    assert right.text.startswith("Only what they cost") and "128 clflushes and 64 direct maps" in right.text
    assert dict(keyid.events)["clflush"] == 128 and keyid.direct_maps == 64
    assert dict(xpo.events)["tlb_shootdown"] > dict(keyid.events)["tlb_shootdown"] and dict(xpo.events)["direct_map_change"]
    # every wrong option is false on the engine
    assert keyid.kernel_read == xpo.kernel_read == "PLAINTEXT"  # "Only XPFO stops a host kernel that maps the frame"
    assert keyid.gup == xpo.gup == "right"  # "Only the KeyID keeps device assignment working"
    assert "PLAINTEXT" not in (keyid.stray_read, xpo.stray_read)  # "Only the KeyID keeps a stray read from plaintext"
