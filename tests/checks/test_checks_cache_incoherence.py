"""Lesson 04 checks: verdicts come from the engine, the schedules are hard enough, hints name what was left."""
from __future__ import annotations

import itertools

import pytest

import mktme_lite.checks.cache_incoherence as l04
from mktme_lite import checks
from mktme_lite.kernel import PAGE_SIZE
from mktme_lite.scenarios import incoherence as inc

L04 = ["change_keyid", "free_path", "read_prediction"]


def run(name, answer):
    return checks.REGISTRY[name].func(answer)


def test_all_lesson_04_checks_are_registered():
    assert set(L04) <= set(checks.REGISTRY)


# ------------------------------------------------------------------ exercise 1: change_keyid
def test_reference_and_the_fixed_kernel_pass():
    assert run("change_keyid", l04._change_ref).passed
    assert run("change_keyid", l04._kernel_fixed).passed


def test_schedules_are_hard_enough():
    """Across the schedules: dirty lines on both packages, stale new lines, both orders, injected evictions;
    and each wrong answer is caught by some schedule."""
    packages, spec, orders, evictions = set(), 0, set(), 0
    for seed in range(l04.SCHEDULES):
        dirty, sp, bob, writes, order, evict_p, _ = l04._schedule(seed)
        packages |= set(dirty.values())
        spec += bool(sp)
        orders.add(order)
        evictions += evict_p > 0
    assert packages == {0, 1} and spec >= l04.SCHEDULES // 2 and orders == set(inc.ORDERS) and evictions >= 4


def test_zeroing_before_the_flush_is_caught_only_by_an_injected_eviction():
    result = run("change_keyid", l04._zero_then_flush)
    assert result.status == "hint" and "evictions may happen between your operations" in result.message
    seeds = [s for s in range(l04.SCHEDULES) if l04._run_change(l04._zero_then_flush, s) is not None]
    assert seeds and all(l04._schedule(s)[5] > 0 for s in seeds)


def test_the_hint_names_the_schedule_and_the_alias_left_behind():
    result = run("change_keyid", l04._zero_only)
    assert result.message.startswith("Not yet. Hint: schedule 0: alice left lines")
    assert "KeyID 1" in result.message and "old alias was never flushed" in result.message
    stale = run("change_keyid", l04._flush_both)  # flushes both but never zeroes: bob reads garbage
    assert "not zeros" in stale.message


def test_a_partial_flush_of_the_new_alias_leaves_a_stale_line():
    def flush_old_and_some_new(kernel, frame, old, new):
        m = kernel.machine
        m.flush_range(m.hpa(frame, old), PAGE_SIZE)
        m.store(m.hpa(frame, new) + 8 * 64, bytes(PAGE_SIZE - 8 * 64))  # zero all but the first 8 lines
        m.store(m.hpa(frame, new), bytes(8 * 64))
        m.clflush(m.hpa(frame, new))  # line 0 is flushed, lines 1-7 zeroed: everything is fine
    assert run("change_keyid", flush_old_and_some_new).passed

    def no_new_zero(kernel, frame, old, new):
        m = kernel.machine
        m.flush_range(m.hpa(frame, old), PAGE_SIZE)
        m.store(m.hpa(frame, new) + 8 * 64, bytes(PAGE_SIZE - 8 * 64))  # lines 0-7 never touched
    result = run("change_keyid", no_new_zero)
    assert result.status == "hint" and ("NEW alias" in result.message or "not zeros" in result.message)


def test_doing_nothing_is_not_attempted_and_a_crash_is_a_hint():
    assert run("change_keyid", lambda k, f, o, n: None).status == "not_attempted"
    crash = run("change_keyid", lambda k, f, o, n: 1 / 0)
    assert crash.status == "hint" and "ZeroDivisionError" in crash.message


def test_the_learners_function_leaves_no_wrapper_behind():
    lab = inc.lab()
    rec = l04._Recorder(lab, __import__("numpy").random.default_rng(0), 1.0)
    lab.machine.store(lab.h(0, "old"), b"x")
    rec.undo()
    assert "store" not in vars(lab.machine) and rec.calls == [("store", lab.old)]


# ------------------------------------------------------------------ exercise 2: free_path
def test_free_path_accepts_every_correct_placement_and_only_those():
    steps = list(inc.FREE_STEPS)
    verdicts = {}
    for flush, i in itertools.product(inc.FLUSH_STEPS, range(len(steps) + 1)):
        verdicts[flush, i] = run("free_path", steps[:i] + [flush] + steps[i:]).status
    assert [k for k, v in verdicts.items() if v == "passed"] == [("flush_keyid_k", 2), ("flush_keyid_k", 3)]
    assert set(verdicts.values()) == {"passed", "hint"}


def test_free_path_explains_a_wrong_placement_with_the_schedule():
    r = run("free_path", ["unmap", "tlb_shootdown", "reset_keyid", "free_list", "flush_keyid_k"])
    assert "after free_list" in r.message and "bob got the frame after step 4" in r.message


# ------------------------------------------------------------------ exercise 3: read_prediction
def test_prediction_truth_is_computed_by_the_engine():
    truth = l04._truth()
    assert list(truth) == list(l04.L04_QUESTIONS)
    assert list(truth.values()) == ["alice's older data", "alice's older data", "bob's data", "alice's data",
                                    "alice's data"]
    assert len([op for op in l04.L04_SEQUENCE if op.kind == "load"]) == len(l04.L04_QUESTIONS)


@pytest.mark.parametrize("index", range(5))
def test_each_single_wrong_prediction_gets_its_own_explanation(index):
    right = checks.REGISTRY["read_prediction"].examples.correct()
    q = l04.L04_QUESTIONS[index]
    wrong = next(o for o in l04.L04_OPTIONS if o != right[q])
    result = run("read_prediction", {**right, q: wrong})
    assert result.status == "hint" and q in result.message and l04._WHY[index][:30] in result.message


def test_predictions_are_case_and_space_tolerant():
    right = checks.REGISTRY["read_prediction"].examples.correct()
    assert run("read_prediction", {q: f"  {v.upper()} " for q, v in right.items()}).passed
    assert run("read_prediction", {q: ... for q in l04.L04_QUESTIONS}).status == "not_attempted"
