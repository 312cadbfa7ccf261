"""Lesson 04 checks: verdicts come from the engine, the schedules are hard enough, hints name what was left."""
from __future__ import annotations

import itertools
import re

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
    assert "KeyID 1" in result.message and "old alias (KeyID 1) was never flushed" in result.message
    stale = run("change_keyid", l04._flush_both)  # flushes both but never zeroes: bob reads garbage
    assert "not zeros" in stale.message
    # It says what is missing (zero through the new KeyID), not the line of code that does it.
    assert "zero the page through the new KeyID" in stale.message and "store(" not in stale.message


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


#: The wrong answers a learner review named, and what the check must say to each: (answer, the phase
#: where it goes wrong, the cause the check reads off the machine, words of the hint).
WRONG_ANSWERS = {
    "no flush": (l04._zero_only, "lost", "late_writeback", "was never flushed"),
    "flush only the new alias": (l04._flush_new_only, "lost", "late_writeback", "was never flushed"),
    "CLWB only": (l04._clwb_only, "rehand", "stale_old", "CLWB wrote it back but kept it"),
    "WBNOINVD only": (l04._wbnoinvd_only, "rehand", "stale_old", "WBNOINVD wrote it back but kept it"),
    "flush after the change": (l04._zero_then_flush, "first_read", "overwritten", "before flushing the old alias"),
}


def first_failure(answer):
    for seed in range(l04.SCHEDULES):
        failure = l04._diagnose(answer, seed)
        if failure is not None:
            return failure
    return None


@pytest.mark.parametrize("name", WRONG_ANSWERS)
def test_each_wrong_answer_gets_its_own_hint(name):
    answer, phase, cause, words = WRONG_ANSWERS[name]
    result = run("change_keyid", answer)
    failure = first_failure(answer)
    assert result.status == "hint" and words in result.message
    assert failure is not None and (failure.phase, failure.cause) == (phase, cause)
    assert result.message == f"Not yet. Hint: {failure.hint}"


def test_clwb_or_wbnoinvd_alone_fail_where_the_lesson_says_not_enough():
    """The section-6 table says CLWB and WBNOINVD are NOT ENOUGH for a stale line of the old alias; the
    check agrees because it hands the frame back to KeyID old and reads every line on every package."""
    lab = inc.lab()
    t = {r.instruction: r.enough for r in inc.instruction_table()}
    assert not t["clwb"]["old_stale"] and not t["wbnoinvd_all"]["old_stale"]
    for answer, instruction in ((l04._clwb_only, "CLWB"), (l04._wbnoinvd_only, "WBNOINVD")):
        failure = first_failure(answer)
        assert failure.phase == "rehand" and failure.keyid == lab.old and instruction in failure.hint
        # every line alice left dirty (hence cached, clean, after CLWB/WBNOINVD) is found stale
        dirty = l04._schedule(failure.seed)[0]
        assert set(failure.corrupted) == set(dirty) and failure.line == min(dirty)
        assert failure.got == inc.payload("alice", failure.line, 2)  # alice's own old plaintext, not the frame's

    def clflushopt(kernel, frame, old, new):  # an invalidating instruction passes
        m = kernel.machine
        m.flush_range(m.hpa(frame, old), PAGE_SIZE, "clflushopt")
        m.store(m.hpa(frame, new), bytes(PAGE_SIZE))

    def wbinvd_all(kernel, frame, old, new):
        m = kernel.machine
        m.wbinvd()
        m.store(m.hpa(frame, new), bytes(PAGE_SIZE))
    assert run("change_keyid", clflushopt).passed and run("change_keyid", wbinvd_all).passed


def referee(answer, seed):
    """The check's schedule replayed without its diagnosis: (phase, bad lines, KeyID of the culprit)."""
    dirty, spec, bob_pkg, writes, order, evict_p, rng = l04._schedule(seed)
    lab = inc.lab()
    m = lab.machine
    for i, p in spec.items():
        m.speculative_fill(lab.h(i, "new"), p)
    for i, p in dirty.items():
        m.store(lab.h(i, "old"), inc.payload("alice", i, 2), p)
    rec = l04._Recorder(lab, rng, evict_p)
    try:
        answer(lab.kernel, lab.pa, lab.old, lab.new)
    finally:
        rec.undo()
    lines = PAGE_SIZE // 64
    cached_new = {i for i in range(lines) if m.caches[bob_pkg].lookup(lab.h(i, "new"), touch=False)}
    bad = [i for i in range(lines) if m.load(lab.h(i, "new"), 64, bob_pkg) != bytes(64)]
    if bad:  # the culprit: alice's alias if her line was written back over a zero of bob's, else bob's own
        wbs = [e.keyid for e in m.trace if e.kind == "writeback" and e.pa == lab.pa + 64 * bad[0]]
        over = bad[0] not in cached_new and lab.new in wbs and wbs[-1] == lab.old
        return "first_read", bad, lab.old if over else lab.new
    for i in writes:
        m.store(lab.h(i, "new"), l04._bob(i), bob_pkg)
    back = m.clone()
    back.flush_range(lab.h(0, "new"), PAGE_SIZE)  # bob frees the frame; it goes back to KeyID old
    inc.time_passes(m, lab.pa, (lab.old, lab.new), order)
    bad = [i for i in range(lines)
           if m.load(lab.h(i, "new"), 64, bob_pkg) != (l04._bob(i) if i in writes else bytes(64))]
    if bad:
        last = next(e for e in reversed(m.trace) if e.kind == "writeback" and e.pa == lab.pa + 64 * bad[0])
        return "lost", bad, last.keyid
    stale = sorted({i for i in range(lines) for p in range(2) if (line := back.caches[p].lookup(
        lab.h(i, "old"), touch=False)) is not None and bytes(line.data) != back.dram_as(lab.h(i, "old"))
        and not line.dirty})
    return ("rehand", stale, lab.old) if stale else None


WRONG = [a for a, _ in checks.REGISTRY["change_keyid"].examples.wrong if callable(a)]


@pytest.mark.parametrize("answer", WRONG, ids=[a.__name__ for a in WRONG])
def test_every_hint_names_the_line_and_keyid_the_check_found(answer):
    """Finding 2: a hint's line, offset and KeyID are the failing case's, computed, never a fixed string;
    an independent replay of the same schedule finds the same phase, bad lines and culprit KeyID."""
    failure = first_failure(answer)
    phase, bad, keyid = referee(answer, failure.seed)
    assert (failure.phase, list(failure.corrupted), failure.keyid) == (phase, bad, keyid)
    assert failure.line == min(bad) and failure.got != failure.want
    where, text = failure.hint.split(". ", 1)
    assert where.startswith(f"schedule {failure.seed}:")
    assert f"line {failure.line} (offset {failure.offset:#x})" in text and f"KeyID {failure.keyid}" in text
    # no other line of the frame is named after the schedule's description
    named = {int(n) for n in re.findall(r"\bline (\d+)", text)}
    assert named == {failure.line}, text
    assert run("change_keyid", answer).message == f"Not yet. Hint: {failure.hint}"


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


@pytest.mark.parametrize("path", [p for p in (list(inc.FREE_STEPS)[:i] + [f] + list(inc.FREE_STEPS)[i:]
                                              for f in inc.FLUSH_STEPS for i in range(5))
                                  if inc.run_free_path(p).lost], ids=lambda p: "-".join(p))
def test_free_path_hints_name_the_line_keyid_and_step_of_the_failing_schedule(path):
    """Finding 2: the free-path hint's line, KeyID, package and step come from the failing schedule."""
    r = inc.run_free_path(path)
    lab = inc.lab()
    assert r.keyid == lab.old and r.line in (0, 1) and r.package == inc.OLD_PKG  # alice's line, her package
    message = run("free_path", path).message
    flush = next(s for s in path if s in inc.FLUSH_STEPS)
    assert f"line {r.line}" in message and f"KeyID {r.keyid}" in message and "KeyID k" not in message
    assert f"step {path.index(flush) + 1}" in message and r.when in message
    assert message.startswith(f"Not yet. Hint: {r.schedule}: {r.why}.")
    # the stray store is the line lost exactly when the flush came before it
    if flush == "flush_keyid_k" and path.index(flush) < path.index("tlb_shootdown"):
        assert r.stray_at > path.index(flush) and r.line == 1 and r.when == "time passing"
    if flush == "flush_keyid_k" and path.index(flush) > path.index("free_list"):
        assert r.bob_at <= path.index(flush) and r.when == f"step {path.index(flush) + 1} ({flush})"


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
