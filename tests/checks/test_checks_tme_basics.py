"""Lesson 01 checks: agree with the engine, hint precisely, and survive any answer."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mktme_lite.checks.tme_basics  # noqa: F401  (registers the lesson 01 checks)
from mktme_lite import Machine, checks, xts

L01 = ["mul_alpha", "line_tweaks", "changed_lines", "replay"]


def run(name, answer):
    return checks.REGISTRY[name].func(answer)


def reference(name):
    return checks.REGISTRY[name].examples.correct()


def test_all_lesson_01_checks_are_registered():
    assert set(L01) <= set(checks.REGISTRY)


def test_mul_alpha_reference_is_the_engines():
    ref = reference("mul_alpha")
    for t in (0, 1, 1 << 127, (1 << 128) - 1, 0x1234 << 100):
        assert ref(t) == xts.gf128_mul_alpha(t)
    assert run("mul_alpha", xts.gf128_mul_alpha).passed


def test_line_tweaks_reference_is_the_engines():
    ref = reference("line_tweaks")
    key = bytes(range(16))
    assert ref(key, 0x1040) == xts.tweak_sequence(key, 0x1040, 4)
    assert run("line_tweaks", lambda k, pa: xts.tweak_sequence(k, pa, 4)).passed


def test_line_tweaks_hint_for_a_broken_mul_alpha():
    good = reference("line_tweaks")

    def off_by_one(key, pa):
        t = good(key, pa)
        return [t[0], t[1], t[2], t[3] ^ 1]

    result = run("line_tweaks", off_by_one)
    assert result.status == "hint" and "later tweak" in result.message


def test_changed_lines_cases_come_from_the_engine():
    from mktme_lite.viz import changed_lines

    ref = reference("changed_lines")
    m = Machine(packages=1, seed=3)
    before = m.dram(0x1000, 256)
    m.store(m.hpa(0x1040), b"x")
    m.wbinvd()
    after = m.dram(0x1000, 256)
    assert ref(before, after, 0x1000) == changed_lines(before, after, 0x1000) == [0x1040]


def test_changed_lines_wants_increasing_order_and_no_duplicates():
    ref = reference("changed_lines")
    assert run("changed_lines", lambda b, a, base: tuple(ref(b, a, base))).passed
    for wrong in (lambda b, a, base: set(ref(b, a, base)), lambda b, a, base: list(reversed(ref(b, a, base)))):
        result = run("changed_lines", wrong)
        assert result.status == "hint" and "increasing order" in result.message
    dup = run("changed_lines", lambda b, a, base: sorted(ref(b, a, base) * 2))
    assert dup.status == "hint" and "more than once" in dup.message


def test_an_untouched_stub_is_not_attempted_but_a_missing_return_gets_a_hint():
    """make_exercises keeps `return name` with `name = ...`: the stub returns `...`, so None means
    the learner edited the body and lost the return."""
    stubs = {"mul_alpha": lambda t: ..., "line_tweaks": lambda k, pa: ..., "changed_lines": lambda b, a, base: ...}
    for name, stub in stubs.items():
        assert run(name, stub).status == "not_attempted", name
        lost = run(name, lambda *args: None)
        assert lost.status == "hint" and "returned None" in lost.message and "`return`" in lost.message, name
        assert f"{name}() returned None: missing `return`? It must end with `return " in lost.message, lost


def test_a_constant_mul_alpha_is_not_told_it_shifts_right():
    for constant in (0, 2, 0x87):
        result = run("mul_alpha", lambda t, c=constant: c)
        assert result.status == "hint" and "whatever t is" in result.message and "right" not in result.message


def test_hex_strings_from_changed_lines_get_a_type_hint():
    ref = reference("changed_lines")
    result = run("changed_lines", lambda b, a, base: [hex(x) for x in ref(b, a, base)])
    assert result.status == "hint" and "as ints" in result.message
    assert "TypeError" not in result.message and "not all arguments converted" not in result.message


def test_the_wrong_t0_hint_does_not_hand_out_the_solution_line():
    good = reference("line_tweaks")
    result = run("line_tweaks", lambda key, pa: [t ^ (1 << 77) for t in good(key, pa)])
    assert result.status == "hint" and "T0 for pa=" in result.message
    for giveaway in ("int.from_bytes(", "aes_block(tweak_key", "pa.to_bytes(16"):
        assert giveaway not in result.message


def test_line_tweaks_with_key_and_block_swapped_is_named():
    from Crypto.Cipher import AES

    def swapped(key, pa):
        t = int.from_bytes(AES.new(pa.to_bytes(16, "little"), AES.MODE_ECB).encrypt(key), "little")
        out = [t]
        for _ in range(3):
            out.append(xts.gf128_mul_alpha(out[-1]))
        return out

    result = run("line_tweaks", swapped)
    assert result.status == "hint" and "swapped" in result.message


def test_replay_check_works_for_both_key_kinds():
    result = run("replay", lambda m, pa, old: m.write_dram(pa, old))
    assert result.passed and "KeyID 1" in result.message


def test_replay_with_the_line_still_cached_is_caught():
    def replay_then_touch(m, pa, old):
        m.write_dram(pa, old)
        m.load(m.hpa(pa))  # the learner reads through the CPU; the line is now cached

    assert run("replay", replay_then_touch).status == "hint"


def test_wrong_kind_of_answer_gets_a_hint_not_a_crash():
    for name in L01:
        result = run(name, 42)
        assert result.status == "hint" and "pass the function itself" in result.message


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(L01), st.one_of(st.integers(), st.text(max_size=5), st.binary(max_size=5),
                                       st.lists(st.integers(), max_size=5)))
def test_checks_never_raise_whatever_a_function_returns(name, value):
    result = run(name, lambda *args: value)
    assert result.status in ("hint", "not_attempted")


@pytest.mark.parametrize("name", L01)
def test_checks_survive_a_raising_answer(name):
    def boom(*args):
        raise RuntimeError("learner bug")

    result = run(name, boom)
    assert result.status == "hint" and "RuntimeError" in result.message


def test_replay_through_the_cpu_is_named_not_called_untouched_dram():
    """A learner who m.store()s the snapshot through the CPU saw garbage printed: the hint must say
    why (the CPU took the bytes as data), never that DRAM 'still reads the new balance'."""
    for slip in (lambda m, pa, old: m.store(m.hpa(pa, 1), old),
                 lambda m, pa, old: m.store(m.hpa(pa), old),
                 lambda m, pa, old: (m.store(m.hpa(pa, 1), old), m.clflush(m.hpa(pa, 1)))):
        result = run("replay", slip)
        assert result.status == "hint" and "through the CPU" in result.message
        assert "write_dram" in result.message and "still reads the new balance" not in result.message
