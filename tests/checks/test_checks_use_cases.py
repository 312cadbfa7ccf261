"""Lesson 08 checks: their verdicts come from the engine, hints are specific, no answer crashes them."""
from __future__ import annotations

import dataclasses

import pytest

import mktme_lite.checks.use_cases as l08
from mktme_lite import checks
from mktme_lite.address import KeyIDPartition
from mktme_lite.scenarios import use_cases as u

L08 = ["decode_partitioning", "move_pmem_block", "c11_answer"]


def run(name, answer):
    return checks.REGISTRY[name].func(answer)


def test_all_lesson_08_checks_are_registered():
    assert set(L08) <= set(checks.REGISTRY)


# ------------------------------------------------------------------ exercise 1

def test_decode_reference_agrees_with_the_hardware_model():
    for _, value in l08._MSR_CASES:
        n, private = l08._decode_ref(value)
        part = KeyIDPartition.decode(value)
        assert (n, private) == (part.mktme_keyids, part.private_range)


def test_decode_cases_cover_the_edges():
    """No TDX KeyIDs at all, and no MKTME KeyIDs at all, are both among the cases."""
    decoded = [KeyIDPartition.decode(v) for _, v in l08._MSR_CASES]
    assert any(p.tdx_keyids == 0 for p in decoded) and any(p.mktme_keyids == 0 for p in decoded)


def test_a_list_of_private_keyids_is_as_good_as_a_range():
    answer = lambda v: (v & 0xFFFFFFFF, list(range((v & 0xFFFFFFFF) + 1, (v & 0xFFFFFFFF) + 1 + (v >> 32))))
    assert run("decode_partitioning", answer).passed


def test_a_decoder_that_only_knows_the_linux_example_is_caught():
    answer = lambda v: (15, range(16, 64))
    assert run("decode_partitioning", answer).status == "hint"


# ------------------------------------------------------------------ exercise 2

def test_the_untouched_stub_is_not_attempted():
    def stub(m, keyid, src, dst, nbytes):
        ...  # YOUR CODE HERE
    assert run("move_pmem_block", stub).status == "not_attempted"


def test_a_move_without_the_reboot_in_mind_fails_only_after_the_reboot():
    """The no-flush move reads right before the reboot: the check must power-cycle to catch it."""
    m = l08._pmem_machine(1)
    src, dst = m.pmem.start, m.pmem.start + 0x1000
    m.store(m.hpa(src, l08._KEYID), b"x" * 64)
    l08._move_no_flush(m, l08._KEYID, src, dst, 64)
    assert m.load(m.hpa(dst, l08._KEYID)) == b"x" * 64
    assert "clflush" in run("move_pmem_block", l08._move_no_flush).message


def test_a_move_through_clwb_passes_too():
    def with_clwb(m, keyid, src, dst, nbytes):
        for off in range(0, nbytes, 64):
            m.store(m.hpa(dst + off, keyid), m.load(m.hpa(src + off, keyid), 64))
            m.clwb(m.hpa(dst + off, keyid))
    assert run("move_pmem_block", with_clwb).passed


def test_a_move_that_overwrites_the_source_first_is_caught():
    def backwards(m, keyid, src, dst, nbytes):
        m.store(m.hpa(src, keyid), bytes(nbytes))
        l08._move_ref(m, keyid, src, dst, nbytes)
    assert run("move_pmem_block", backwards).status == "hint"


# ------------------------------------------------------------------ exercise 3

def test_the_model_answer_passes_and_shows_the_course_answer():
    result = run("c11_answer", l08._model_answer())
    assert result.passed and u.MODEL_ANSWER in result.message


def test_every_choice_the_engine_accepts_passes():
    """The check is the engine's requirements, nothing more: any accepted pair passes for its use case."""
    base = l08._model_answer()
    for uc in u.C11_USE_CASES:
        for key in u.KEY_TYPES:
            for design in u.C11_DESIGNS:
                ok = all(met for _, met, _ in u.meets(uc, key, design))
                answer = {**base, uc: {**base[uc], "key": key, "design": design}}
                assert run("c11_answer", answer).passed is ok, (uc, key, design)


def test_a_half_filled_skeleton_gets_a_hint_naming_what_is_open():
    a = {uc: {"key": ..., "design": ..., "evidence": []} for uc in u.C11_USE_CASES}
    a["pmem"] = {"key": "user", "design": "namespace", "evidence": [u.pmem_run()]}
    result = run("c11_answer", {**a, "why": ...})
    assert result.status == "hint" and "a VM" in result.message and "pmem" not in result.message.split("open:")[1]


def test_forged_evidence_is_refused():
    a = l08._model_answer()
    a["pmem"] = {**a["pmem"], "evidence": [dataclasses.replace(u.pmem_run(key="cpu"), intact=True)]}
    assert "unchanged" in run("c11_answer", a).message


def test_evidence_that_is_not_a_result_is_refused():
    a = l08._model_answer()
    a["a VM"] = {**a["a VM"], "evidence": ["TDX refuses the host"]}
    assert run("c11_answer", a).status == "hint"


@pytest.mark.parametrize("answer", [{}, {uc: ... for uc in u.C11_USE_CASES},
                                    {uc: {"key": ..., "design": ..., "evidence": []} for uc in u.C11_USE_CASES}])
def test_an_empty_or_untouched_answer_is_not_attempted(answer):
    assert run("c11_answer", {**answer, "why": ...}).status == "not_attempted"


def _what_the_engine_found(requirement: str, o) -> list[str]:
    """Words the hint must hold for option ``o`` failing ``requirement``, computed here from ``o`` itself."""
    if "get_user_pages()" in requirement:
        return [f"gets {o.gup}"]
    if requirement == "no event beyond munmap()'s":
        extra = dict(o.events)
        extra["tlb_shootdown"] -= 1
        return [f"{n} {name}" for name, n in extra.items() if n]
    if requirement == "one direct map":
        return [f"{o.direct_maps} direct maps"]
    if requirement == "reads back after a reboot":
        return ["garbage after a reboot"]
    if requirement == "reads back after the filesystem moves its block":
        return ["garbage after its block moved"]
    if "stray" in requirement:
        return [f"gets {o.stray_read}"]
    if requirement == "no copy of the key outside the CPU":
        return ["decrypts a DRAM dump"]
    return []


_REFUSED = [(uc, key, design) for uc in u.C11_USE_CASES for key in u.KEY_TYPES for design in u.C11_DESIGNS
            if not all(met for _, met, _ in u.meets(uc, key, design))]


@pytest.mark.parametrize("uc, key, design", _REFUSED)
def test_a_c11_hint_names_the_failing_choice_and_what_the_engine_found_for_it(uc, key, design):
    """For every wrong choice: the hint names the use case, key and design that failed, the first requirement
    meets() says it fails, and what the engine computed for that very option (not a sentence about another)."""
    message = run("c11_answer", l08._with(uc, key=key, design=design)).message
    name = next(n for n, met, _ in u.meets(uc, key, design) if not met)
    assert f"{uc!r} with key {key!r} and design {design!r} fails '{name}'" in message, message
    o = u.option(key, design)
    for words in (_what_the_engine_found(name, o) if o.valid else []):
        assert words in message, (words, message)
    assert not any(f"{other!r}" in message for other in u.C11_USE_CASES if other != uc)


def test_the_refused_choices_include_every_kind_of_requirement():
    names = {next(n for n, met, _ in u.meets(*c) if not met) for c in _REFUSED}
    kinds = {r.name for uc in u.C11_USE_CASES for r in u.requirements(uc)}
    assert kinds <= names, kinds - names
