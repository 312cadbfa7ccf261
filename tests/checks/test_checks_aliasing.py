"""Lesson 03 checks: their verdicts come from the engine, hints are specific, no answer crashes them."""
from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mktme_lite.checks.aliasing as l03
from mktme_lite import checks
from mktme_lite.kernel import Policy
from mktme_lite.scenarios import aliasing, pages

L03 = ["kernel_read", "wrong_paths", "gup_fix", "alias_prediction"]


def run(name, answer):
    return checks.REGISTRY[name].func(answer)


def test_all_lesson_03_checks_are_registered():
    assert set(L03) <= set(checks.REGISTRY)


# ------------------------------------------------------------------ exercise 1: kernel_read

def test_kernel_read_reference_is_what_per_keyid_gup_returns():
    """The reference does by hand what Kirill's page_to_virt() does in the per_keyid design."""
    page = pages.encrypted_page(aliasing.policy_for("per_keyid"), b"per-KeyID direct map".ljust(64))
    ref = checks.REGISTRY["kernel_read"].examples.correct()
    assert ref(page.kernel, page.owner, page.va, 64) == page.debugger.process_vm_readv(page.owner, page.va, 64)


def test_kernel_read_cases_are_hard_enough():
    """Reading through KeyID 0 fails in every encrypted case, and every case has its own reason to exist."""
    cases = l03._read_cases()
    keyid0 = l03._keyid0_read
    wrong = [what for what, k, p, va, n, want in cases if keyid0(k, p, va, n) != want]
    assert len(wrong) == len(cases) - 1  # all but the KeyID-0 page
    keyids = {k.frame_info(k.get_user_pages(p, va)[0])["keyid"] for _, k, p, va, _, _ in cases}
    assert keyids == {0, 1, 2}


def test_a_crash_is_a_hint():
    result = run("kernel_read", lambda k, p, va, n: 1 / 0)
    assert result.status == "hint" and "ZeroDivisionError" in result.message


@pytest.mark.parametrize("answer", [lambda k, p, va, n: p.read(va, n),
                                   lambda k, p, va, n: k.copy_from_user(p, va, n)])
def test_a_read_through_the_process_page_tables_is_not_a_kernel_read(answer):
    """Right bytes, but no get_user_pages(): the process's own page tables did the work."""
    result = run("kernel_read", answer)
    assert result.status == "hint"
    assert "own page tables" in result.message and "get_user_pages" in result.message


def test_a_user_read_after_gup_is_still_a_kernel_read():
    """Pinning the page is what makes it the kernel's read; the check does not care how the bytes were loaded."""
    def pin_then_read(k, p, va, n):
        k.get_user_pages(p, va)
        return p.read(va, n)
    assert run("kernel_read", pin_then_read).passed


def test_a_lookup_without_pinning_is_told_to_pin():
    result = run("kernel_read", l03._pagemap_only)
    assert "never called kernel.get_user_pages()" in result.message and "own page tables" not in result.message


def test_a_virtual_address_given_to_machine_load_is_named_as_such():
    result = run("kernel_read", l03._virtual_address)
    assert "which is vaddr itself: a virtual address" in result.message
    assert "0x10000000" in result.message and "vaddr % PAGE_SIZE" in result.message
    other = run("kernel_read", l03._pa_plus_vaddr)
    assert "virtual address" not in other.message and "not the whole of vaddr" in other.message


def test_gup_fix_hints_list_paths_sorted():
    result = run("gup_fix", Policy.as_proposed().replace(flush_old_alias=True))
    assert "['process_vm_readv', 'process_vm_writev', 'write(O_DIRECT)']" in result.message


# ------------------------------------------------------------------ exercise 2: wrong_paths, gup_fix

def test_wrong_paths_reference_agrees_with_the_design_table():
    ref = checks.REGISTRY["wrong_paths"].examples.correct()
    rows = {r.design: r for r in aliasing.compare_designs(("keyid0", "per_keyid", "unmapped"))}
    for design, row in rows.items():
        wrong = set(ref(aliasing.policy_for(design)))
        table = {name for name, outcome in row.outcomes.items() if outcome == "GARBAGE"}
        assert table == wrong - {"swap out + in"}, design


@pytest.mark.parametrize("design, status", [("per_keyid", "passed"), ("rekey", "passed"), ("xpfo", "passed"),
                                            ("unmapped", "hint"), ("keyid0", "hint")])
def test_gup_fix_by_design(design, status):
    result = run("gup_fix", Policy.as_proposed().replace(direct_map=design))
    assert result.status == status, result.message


def test_gup_fix_names_the_price_of_the_design():
    assert "address space" in run("gup_fix", Policy.as_proposed().replace(direct_map="per_keyid")).message
    rekey = run("gup_fix", Policy.as_proposed().replace(direct_map="rekey")).message
    assert "TLB shootdown" in rekey and "direct-map change" in rekey and "clflush" not in rekey


# ------------------------------------------------------------------ exercise 3: alias_prediction

def test_prediction_truth_is_computed_and_matches_the_solution():
    truth = l03._truth()
    assert list(truth) == list(l03.L03_QUESTIONS)
    assert truth == checks.REGISTRY["alias_prediction"].examples.correct()


def test_every_wrong_prediction_gets_an_explanation():
    truth = l03._truth()
    for i, q in enumerate(l03.L03_QUESTIONS):
        for other in l03.L03_OPTIONS:
            if other != truth[q]:
                assert (i, truth[q], other) in l03._WHY, (q, other)


def test_prediction_accepts_any_case_and_spaces():
    answer = {q: f"  {v.upper()} " for q, v in l03._truth().items()}
    assert run("alias_prediction", answer).passed


def test_partly_filled_prediction_is_a_hint_and_empty_is_not_attempted():
    empty = {q: ... for q in l03.L03_QUESTIONS}
    assert run("alias_prediction", empty).status == "not_attempted"
    partial = {**empty, l03.L03_QUESTIONS[0]: "A"}
    result = run("alias_prediction", partial)
    assert result.status == "hint" and "still open" in result.message


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from(l03.L03_QUESTIONS),
                       st.one_of(st.sampled_from(list(l03.L03_OPTIONS)), st.none(), st.integers(), st.text())))
def test_prediction_check_never_crashes(answer):
    assert run("alias_prediction", answer).status in checks.STATUSES


def test_every_combination_of_options_gets_a_verdict():
    truth = l03._truth()
    for combo in itertools.islice(itertools.product(l03.L03_OPTIONS, repeat=len(l03.L03_QUESTIONS)), 0, None, 7):
        answer = dict(zip(l03.L03_QUESTIONS, combo))
        result = run("alias_prediction", answer)
        assert result.status == ("passed" if answer == truth else "hint")


def test_untouched_stubs_are_not_attempted_and_a_lost_return_is_a_hint():
    assert run("kernel_read", lambda k, p, va, n: ...).status == "not_attempted"
    assert run("wrong_paths", lambda policy: ...).status == "not_attempted"
    for name, stub in (("kernel_read", lambda k, p, va, n: None), ("wrong_paths", lambda policy: None)):
        result = run(name, stub)
        assert result.status == "hint" and "missing `return`" in result.message
        assert f"{name}() returned None" in result.message and "It must end with `return " in result.message
    # the specifics say more than the course-wide sentence: keep them
    assert "`return wrong`, the list of names" in run("wrong_paths", lambda policy: None).message
    lost = run("kernel_read", lambda k, p, va, n: None).message
    assert "`return data`, the n bytes it loaded" in lost and "for the first 64 bytes of alice's" in lost
