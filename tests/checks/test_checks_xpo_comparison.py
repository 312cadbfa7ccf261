"""Lesson 07 checks: verdicts from the engine, specific hints, no answer crashes them."""
from __future__ import annotations

import pytest

import mktme_lite.checks.xpo_comparison as l07
from mktme_lite import checks
from mktme_lite.scenarios import costs, ret2dir

L07 = ["xpfo_shootdowns", "slowdown", "design_choice"]


def run(name, answer):
    return checks.REGISTRY[name].func(answer)


def test_all_lesson_07_checks_are_registered():
    assert set(L07) <= set(checks.REGISTRY)


@pytest.mark.parametrize("name", L07)
def test_placeholder_wrong_and_solution(name):
    ex = checks.REGISTRY[name].examples
    assert run(name, ex.placeholder).status == "not_attempted"
    for answer, words in ex.wrong:
        result = run(name, answer)
        assert result.status == "hint" and words in result.message, (answer, result.message)
    assert run(name, ex.correct()).passed


def test_the_shootdown_reference_is_what_the_engine_counts():
    for w in l07._workloads():
        assert l07._xpfo_ref(w) == costs.run_workload("xpfo", w).counts["tlb_shootdown_global"], w.label


def test_the_shootdown_workloads_tell_every_term_apart():
    ws = l07._workloads()
    assert any(w.gups for w in ws) and any(w.secret_pages for w in ws) and any(w.jobs > 1 for w in ws)


def test_reading_the_engine_s_count_passes_too():
    """Measuring is a fine way to count; the check compares numbers, not methods."""
    assert run("xpfo_shootdowns", lambda w: costs.run_workload("xpfo", w).counts["tlb_shootdown_global"]).passed


def test_the_slowdown_reference_is_costs_estimate():
    for design, workload, prices, cpus in l07._price_cases():
        assert l07._slowdown_ref(design, workload, prices, cpus) == pytest.approx(
            costs.estimate(design, workload, prices, cpus).slowdown, rel=1e-12)


def test_the_price_cases_include_learner_style_tables():
    cases = l07._price_cases()
    assert sum(1 for *_, p, _ in cases if "your values" in p.origin) >= 4
    assert len({c for *_, c in cases}) >= 4


def test_a_wrong_type_and_a_crash_are_hints():
    assert "must return a number" in run("slowdown", lambda d, w, p, c: "1.2").message
    assert "ZeroDivisionError" in run("xpfo_shootdowns", lambda w: 1 / 0).message


def test_the_design_choice_truth_comes_from_the_matrix_and_the_estimates():
    choice, fails, est = l07._truth()
    assert choice == "per_keyid"
    assert fails["memfd_secret"] == ("gup_secret",) and fails["xpfo"] == ()
    assert est["xpfo"].slowdown > est["per_keyid"].slowdown
    # the check moves with the engine: with the memfd_secret row's gup fixed, it would be the answer
    m = ret2dir.security_matrix()
    assert all(m.cell(choice, c).ok for c in l07.L07_REQUIRED)


def test_wrong_design_choices_get_the_failing_cell_or_the_cost():
    msg = run("design_choice", {"choice": "keyid0", "ruled_out": {}}).message
    assert "'gup_secret' cell is GARBAGE" in msg
    msg = run("design_choice", {"choice": "xpfo"}).message
    assert "per_keyid does too and is cheaper" in msg
    msg = run("design_choice", {"choice": "nope"}).message
    assert "must be one of" in msg
    ref = l07._answer_ref()
    bad = dict(ref, ruled_out={**ref["ruled_out"], "rekey": "dma"})
    assert "a reason is one of the required columns" in run("design_choice", bad).message


_SHOOTDOWN_TRIES = [answer for answer, _ in checks.REGISTRY["xpfo_shootdowns"].examples.wrong
                    if answer(costs.workload("alloc_heavy")) is not None] + [
    lambda w: 0, lambda w: _ref(w) + 1, lambda w: w.jobs * w.pages, lambda w: 2 * _ref(w)]


def _ref(w):
    return costs.run_workload("xpfo", w).counts["tlb_shootdown_global"]


@pytest.mark.parametrize("i", range(len(_SHOOTDOWN_TRIES)))
def test_a_shootdown_hint_names_the_workload_that_failed(i):
    """The hint names the workload the check found wrong, by its own numbers, with both counts; never the base
    workload's label (whose numbers are another workload's) and never another of the check's workloads."""
    answer = _SHOOTDOWN_TRIES[i]
    failing = next(w for w in l07._workloads() if answer(w) != _ref(w))
    message = run("xpfo_shootdowns", answer).message
    assert costs.describe(failing) in message, message
    assert f"you counted {answer(failing)}; the engine counts {_ref(failing)}" in message
    others = [costs.describe(w) for w in l07._workloads() if costs.describe(w) != costs.describe(failing)]
    assert not any(o in message for o in others)
    assert not any(base.label in message for base in costs.WORKLOADS.values()), message


def test_a_changed_workload_is_labelled_with_its_own_numbers():
    w = costs.workload("gup_heavy", pages=2, gups=5, syscalls=0)
    assert "32 gup reads" not in w.label and "2 pages, 0 syscalls and 5 gup reads" in w.label
    assert w.label.startswith("gup_heavy with pages=2, gups=5, syscalls=0: 1 job")
