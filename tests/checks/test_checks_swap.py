"""Lesson 05 checks: verdicts come from the engine, each case can fail on its own, hints say what to fix."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mktme_lite.checks.swap as l05
from mktme_lite import checks
from mktme_lite.kernel import PAGE_SIZE
from mktme_lite.scenarios import swap

L05 = ["swap_pair", "find_leaks", "roundtrip"]


def run(name, answer):
    return checks.REGISTRY[name].func(answer)


def test_all_lesson_05_checks_are_registered():
    assert set(L05) <= set(checks.REGISTRY)


# ------------------------------------------------------------------ exercise 1: swap_pair

def test_the_cases_cover_what_the_exercise_promises():
    states = {s for s, _ in l05.SWAP_CASES}
    frames = {f for _, f in l05.SWAP_CASES}
    assert frames == {"same", "other"} and len(states) >= 4
    keyids = set()
    for i, (state, frame) in enumerate(l05.SWAP_CASES):
        k, alice, gdb, m, pa, keyid, want, key, rng = l05._build_case(i, state, frame)
        keyids.add(keyid)
        # the owner's view through her KeyID is what the check expects back
        assert m.clone().load(m.hpa(pa, keyid), PAGE_SIZE) == want
    assert keyids == {1, 2}


def test_the_naive_pair_fails_on_a_dirty_case_not_on_the_settled_same_frame():
    """The KeyID-0 trip into the same frame comes back when nothing is dirty (the lesson's identity),
    so the check must name a later case, the first with dirty lines."""
    result = run("swap_pair", (l05._naive_out, l05._naive_in))
    assert result.status == "hint" and "case 2 " in result.message and "KeyID 0" in result.message


def test_storing_nothing_is_caught_only_in_another_frame():
    result = run("swap_pair", (l05._ref_page_out, l05._nothing_in))
    assert "stored nothing" in result.message and "another frame" in result.message


def test_a_crash_in_page_in_is_a_hint():
    def boom(machine, slot, pa, keyid, key):
        raise RuntimeError("oops")
    result = run("swap_pair", (l05._ref_page_out, boom))
    assert result.status == "hint" and "RuntimeError" in result.message


def test_untouched_stubs_are_not_attempted():
    assert run("swap_pair", (lambda m, pa, k, key: ..., lambda m, s, pa, k, key: None)).status == "not_attempted"
    assert run("find_leaks", lambda dump, pages: ...).status == "not_attempted"
    assert run("roundtrip", lambda cipher, tweak, c, o, i: ...).status == "not_attempted"


# ------------------------------------------------------------------ exercise 2: find_leaks

def test_find_leaks_reference_agrees_with_the_scenario_truth():
    ref = checks.REGISTRY["find_leaks"].examples.correct()
    for seed in (505, 77, 3):
        d = swap.device_dump(seed)
        assert ref(d.dump, d.pages) == d.truth


def test_find_leaks_accepts_numpy_ints_as_slots():
    import numpy as np
    ref = checks.REGISTRY["find_leaks"].examples.correct()
    assert run("find_leaks", lambda dump, pages: {np.int64(s): n for s, n in ref(dump, pages).items()}).passed


# ------------------------------------------------------------------ exercise 3: roundtrip

def test_roundtrip_hint_for_a_swapped_order_names_the_order():
    assert "the other way round" in run("roundtrip", l05._backwards).message


@settings(max_examples=30, deadline=None)
@given(st.one_of(st.none(), st.integers(), st.text(), st.binary(), st.lists(st.integers())))
def test_no_answer_crashes_a_check(answer):
    for name in L05:
        assert run(name, answer).status in checks.STATUSES


def test_a_hard_coded_keyid_is_named():
    from mktme_lite.scenarios.swap import seal, unseal

    def out_k1(m, pa, keyid, key):
        return seal(key, m.load(m.hpa(pa, 1), PAGE_SIZE))

    def in_k1(m, slot, pa, keyid, key):
        m.store(m.hpa(pa, 1), unseal(key, slot))
    result = run("swap_pair", (out_k1, in_k1))
    assert "through KeyID 1, but this page uses KeyID 2" in result.message


def test_matching_16_byte_pieces_is_told_to_match_lines():
    def blocks(dump, pages):
        out = {}
        for s in range(len(dump) // PAGE_SIZE):
            raw = dump[s * PAGE_SIZE:(s + 1) * PAGE_SIZE]
            for n, p in pages.items():
                if any(p[i:i + 16] in raw for i in range(0, PAGE_SIZE, 16) if p[i:i + 16].strip(b"\0")):
                    out[s] = n
        return out
    result = run("find_leaks", blocks)
    assert result.status == "hint" and "whole 64-byte lines" in result.message
