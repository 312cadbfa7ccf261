"""Lesson 05's scenarios: every outcome the lesson states is computed by the engine, and the
claims behind it hold on inputs the lesson never shows (other keys, seeds, tweak functions)."""
from __future__ import annotations

import numpy as np
import pytest

from mktme_lite.dump import LINE
from mktme_lite.errors import MKTMEError, ParameterError
from mktme_lite.kernel import PAGE_SIZE
from mktme_lite.scenarios import swap
from mktme_lite.xts import XTSCipher

ALL = [(p, fl, fr, e) for p in swap.PATHS for fl in (False, True) for fr in swap.FRAMES for e in (False, True)]


@pytest.mark.parametrize("setting", ALL, ids=lambda s: "-".join(map(str, s)))
def test_device_search_agrees_with_an_independent_search(setting):
    """plaintext_visible comes from searching the device; redo the search by 16-byte blocks."""
    r = swap.swap_run(*setting)
    blocks = {r.expected[i:i + 16] for i in range(0, PAGE_SIZE, 16)}
    found = {r.device[i:i + 16] for i in range(0, PAGE_SIZE, 16)} & blocks
    assert r.plaintext_visible == bool(found)
    assert len(r.device) == PAGE_SIZE


@pytest.mark.parametrize("setting", ALL, ids=lambda s: "-".join(map(str, s)))
def test_the_lab_outcomes(setting):
    path, flush, frame, encrypted = setting
    r = swap.swap_run(*setting)
    # What the device holds: plaintext only on the page's own KeyID without encrypted swap.
    assert r.plaintext_visible == (path == "page_keyid" and not encrypted)
    assert r.slot_encrypted == encrypted
    # What alice reads back.
    if path == "page_keyid":
        assert r.intact
    elif frame == "other":
        assert set(r.line_status) == {"garbage"}
    elif flush:
        assert r.intact
    else:
        status = r.line_status
        assert status[swap.FRESH_INDEX] == "old"
        assert status.count("right") == swap.LINES - 1
    # The frame: gdb took the freed frame, and the page came back into another one.
    if frame == "other":
        assert r.reused_by == "gdb" and r.frame_in != r.frame_out
    else:
        assert r.reused_by is None and r.frame_in == r.frame_out


def test_the_naive_device_slot_is_the_tme_decryption_of_the_ciphertext():
    """KeyID-0 swap-out: the slot is DRAM's ciphertext decrypted with the TME key (the KeyID-0
    alias of the same frame, read on a fresh machine state), not the plaintext and not the ciphertext."""
    r = swap.swap_run("keyid0", True, "same", False)
    page = swap._prepared("keyid0", False).clone()
    m = page.machine
    page.owner.write(page.va + swap.FRESH_INDEX * LINE, swap.FRESH_LINE)
    m.flush_range(m.hpa(page.pa, page.keyid), PAGE_SIZE)
    assert m.load(m.hpa(page.pa, 0), PAGE_SIZE) == r.device
    assert r.device != r.dram_at_swap_out and r.device != r.expected


def test_same_frame_keyid0_roundtrip_puts_back_the_exact_ciphertext():
    for flush in (False, True):
        r = swap.swap_run("keyid0", flush, "same", False)
        assert r.dram_after_swap_in == r.dram_at_swap_out
    other = swap.swap_run("keyid0", True, "other", False)
    assert other.dram_after_swap_in != other.dram_at_swap_out


def test_flush_costs_one_clflush_per_line_and_encryption_costs_no_event():
    for path in swap.PATHS:
        for frame in swap.FRAMES:
            a, b = swap.swap_run(path, False, frame, False), swap.swap_run(path, True, frame, False)
            assert b.costs_out["clflush"] - a.costs_out["clflush"] == PAGE_SIZE // LINE
            e = swap.swap_run(path, False, frame, True)
            assert (e.costs_out, e.costs_in) == (a.costs_out, a.costs_in)
            assert e.aes_blocks == PAGE_SIZE // 16 and a.aes_blocks == 0


def test_encrypted_slot_is_the_swap_key_encryption_of_what_was_read():
    plain = swap.swap_run("page_keyid", False, "same", False)
    sealed = swap.swap_run("page_keyid", False, "same", True)
    assert plain.device == plain.expected
    assert sealed.device != plain.device
    assert swap.leaking_lines(sealed.device, plain.expected) == []


@pytest.mark.parametrize("seed", [0, 1, 2, 99])
def test_identity_holds_for_address_only_tweaks_whatever_the_keys(seed):
    for row in swap.identity_rows(seed=seed):
        assert row.same_frame_ciphertext_back and row.same_frame_owner_reads
        assert not row.other_frame_owner_reads and not row.counter_owner_reads


def test_identity_for_a_tweak_the_lesson_never_shows():
    rng = np.random.default_rng(7)
    cipher = XTSCipher(rng.bytes(16), rng.bytes(16))
    def tweak(pa):
        return (pa * 31 + 5) % (1 << 60)
    c = rng.bytes(LINE)
    assert swap.roundtrip(cipher, tweak, c, 0x8040, 0x8040) == c
    assert swap.roundtrip(cipher, tweak, c, 0x8040, 0x9040) != c


def test_a_pinned_page_outlives_its_vma():
    vma, page = swap.outlive_vma("vma"), swap.outlive_vma("page")
    assert vma.refs_after_munmap == {"vmas": 0, "pages": 0, "swapped": 0}
    assert vma.bob_keyid == vma.keyid  # bob's new key took alice's KeyID
    assert vma.frame_ciphertext_unchanged  # the bytes are still alice's: the key changed under them
    assert not vma.intact and page.intact


def test_seal_and_unseal():
    key = bytes(range(32))
    page = swap.PAGE_TEXT
    assert swap.unseal(key, swap.seal(key, page)) == page
    assert swap.leaking_lines(swap.seal(key, page), page) == []
    with pytest.raises(ParameterError, match="key"):
        swap.seal(b"short", page)


def test_device_dump_truth_is_computed():
    d = swap.device_dump()
    assert sorted(d.truth.values()) == ["alice", "bob", "erin"]
    for slot, name in d.truth.items():
        raw = d.dump[slot * PAGE_SIZE:(slot + 1) * PAGE_SIZE]
        assert swap.leaking_lines(raw, d.pages[name])
    other = swap.device_dump(seed=6)
    assert sorted(other.truth.values()) == ["alice", "bob", "erin"]
    assert other.dump != d.dump


@pytest.mark.parametrize("kwargs, word", [({"path": "keyid1"}, "swap path"), ({"flush": "yes"}, "flush"),
                                         ({"frame": 2}, "frame"), ({"encrypted": 1}, "encrypted")])
def test_bad_settings_are_refused_by_name(kwargs, word):
    with pytest.raises(MKTMEError, match=word):
        swap.swap_run(**kwargs)


def test_bad_outlive_count_is_refused():
    with pytest.raises(ParameterError, match="count"):
        swap.outlive_vma("pte")
