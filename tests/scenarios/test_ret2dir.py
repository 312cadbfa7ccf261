"""Lesson 07's security matrix: every cell computed on the kernel model, and able to fail."""
from __future__ import annotations

import pytest

from mktme_lite.dump import differing_blocks
from mktme_lite.errors import MKTMEError
from mktme_lite.scenarios import costs, ret2dir
from mktme_lite.scenarios.aliasing import DIRECT_MAP_REGION

M = ret2dir.security_matrix()


def test_no_defence_runs_the_payload_from_the_direct_map():
    r = ret2dir.ret2dir("none")
    assert r.outcome == "PAYLOAD USED" and r.read == ret2dir.PAYLOAD and not r.stopped
    assert r.target == ret2dir.DIRECT_MAP_BASE + r.pa and r.keyid == 0


def test_mktme_with_a_keyid0_direct_map_garbles_an_encrypted_payload_but_the_attacker_need_not_encrypt():
    enc = ret2dir.ret2dir("keyid0", "encrypted")
    assert enc.outcome == "garbage" and enc.keyid != 0
    assert differing_blocks(enc.read, ret2dir.PAYLOAD) == [0, 1, 2, 3]
    assert ret2dir.ret2dir("keyid0", "plain").outcome == "PAYLOAD USED"
    cell = M.cell("keyid0", "ret2dir")
    assert cell.word == "PAYLOAD USED" and not cell.ok and "encrypted page: garbage" in cell.detail


def test_per_keyid_direct_maps_show_the_payload_again_at_the_keyid_s_copy():
    r = ret2dir.ret2dir("per_keyid", "encrypted")
    assert r.outcome == "PAYLOAD USED" and r.read == ret2dir.PAYLOAD
    assert r.target == ret2dir.DIRECT_MAP_BASE + r.keyid * (DIRECT_MAP_REGION // 64) + r.pa


def test_xpfo_removes_the_alias_and_memfd_secret_only_for_secret_pages():
    assert ret2dir.ret2dir("xpfo").outcome == "oops" and ret2dir.ret2dir("xpfo").read is None
    assert ret2dir.ret2dir("memfd_secret", "secret").outcome == "oops"
    assert ret2dir.ret2dir("memfd_secret", "plain").outcome == "PAYLOAD USED"
    assert M.cell("xpfo", "ret2dir").ok and not M.cell("memfd_secret", "ret2dir").ok
    assert M.protects("ret2dir") == ("xpfo",)


def test_who_reads_alice_s_secret():
    assert set(M.protects("stray_read")) == {"keyid0", "per_keyid", "unmapped", "xpfo", "memfd_secret"}
    assert {r.design for r in M.rows if r["stray_read"].word == "PLAINTEXT"} == {"none", "rekey"}
    # a pure read primitive: only the direct maps the design keeps
    leaks = {r.design for r in M.rows if r["kernel_read"].word == "PLAINTEXT"}
    assert leaks == {"none", "per_keyid", "rekey"}
    assert "KeyID-1 direct map" in M.cell("per_keyid", "kernel_read").detail
    assert M.cell("xpfo", "kernel_read").word == M.cell("memfd_secret", "kernel_read").word == "refused"
    assert "get_user_pages" not in M.cell("xpfo", "kernel_read").detail
    # kernel code calling gup + kmap: the secret leaks exactly where gup works on the page
    gup_leaks = {r.design for r in M.rows if r["kernel_gup"].word == "PLAINTEXT"}
    assert gup_leaks == {"none", "per_keyid", "rekey", "xpfo"}
    assert "get_user_pages() + kmap()" in M.cell("xpfo", "kernel_gup").detail
    assert gup_leaks == {r.design for r in M.rows if r["gup_secret"].word == "works"}
    assert set(M.protects("cold_boot")) == set(costs.DESIGNS)  # TME's key covers DRAM for everyone


def test_what_still_works():
    assert set(M.protects("gup_ordinary")) == set(costs.DESIGNS) - {"keyid0", "unmapped"}
    assert M.cell("keyid0", "gup_ordinary").word == "GARBAGE"  # lesson 03's alias, claim C8
    assert M.cell("memfd_secret", "gup_secret").word == "EFAULT" and M.cell("unmapped", "gup_secret").word == "EFAULT"


def test_andy_s_verdict_cell_by_cell():
    v = {c.threat: c for c in ret2dir.andy_verdict(M)}
    assert v["ret2dir"].mktme == () and v["ret2dir"].xpo == {"xpfo": True, "memfd_secret": False}
    assert v["kernel_read"].holds and v["kernel_read"].holds_for["xpfo"]
    assert v["kernel_gup"].holds and not v["kernel_gup"].holds_for["xpfo"]
    assert all(c.holds_for["memfd_secret"] for c in v.values())
    assert "adds nothing" in v["cold_boot"].sentence
    # vacuous where MKTME gives nothing: ret2dir (no MKTME design stops it) and cold boot (every design does)
    assert [t for t, c in v.items() if c.vacuous] == ["ret2dir", "cold_boot"]


def test_the_verdict_can_fail():
    """Drop the XPO rows: wherever MKTME helps, the claim must now fail."""
    only = ret2dir.security_matrix(("none", "keyid0", "per_keyid"))
    v = {c.threat: c for c in ret2dir.andy_verdict(only)}
    assert not v["stray_read"].holds and "fails" in v["stray_read"].sentence


def test_cheapest_design_for_a_requirement():
    est = costs.compare("kernel_build")
    assert ret2dir.cheapest_meeting(("stray_read", "gup_ordinary"), est) == "memfd_secret"
    assert ret2dir.cheapest_meeting(("stray_read", "gup_secret"), est) == "per_keyid"
    assert ret2dir.cheapest_meeting("ret2dir", est) == "xpfo"
    assert ret2dir.cheapest_meeting(("ret2dir", "kernel_read"), est) == "xpfo"
    assert ret2dir.cheapest_meeting(("ret2dir", "kernel_gup"), est) is None


@pytest.mark.parametrize("call, words", [
    (lambda: ret2dir.ret2dir("xpfo", "encrypted"), "attacker's choice"),
    (lambda: ret2dir.ret2dir("nope"), "design"),
    (lambda: M.cell("xpfo", "dma"), "matrix column"),
    (lambda: ret2dir.cheapest_meeting(["speed"], ()), "required column"),
    (lambda: ret2dir.security_matrix(5), "designs"),
    (lambda: ret2dir.andy_verdict("matrix"), "matrix"),
    (lambda: ret2dir.cheapest_meeting(5, ()), "required"),
    (lambda: ret2dir.cheapest_meeting("ret2dir", [1]), "estimate"),
])
def test_bad_arguments_are_mktme_errors(call, words):
    with pytest.raises(MKTMEError) as err:
        call()
    assert words in str(err.value)
