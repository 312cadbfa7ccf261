"""Lesson 02 checks: agree with the engine, hint precisely, accept every right answer, survive any answer."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mktme_lite.checks.multi_key as l02
from mktme_lite import Machine, checks
from mktme_lite.address import ALG_AES_XTS_128, AddressLayout
from mktme_lite.keytable import PconfigCommand, PconfigStatus
from mktme_lite.kernel import Kernel, Policy, parse_mktme_payload
from mktme_lite.kernel.keys import COMMAND_OF_TYPE

L02 = ["hpa_of", "split_hpa", "contents_after", "program_every_package", "keyid_ctrl"]


def run(name, answer):
    return checks.REGISTRY[name].func(answer)


def reference(name):
    return checks.REGISTRY[name].examples.correct()


def test_all_lesson_02_checks_are_registered():
    assert set(L02) <= set(checks.REGISTRY)


# ------------------------------------------------------------------------ references = engine

@settings(max_examples=80, deadline=None)
@given(st.sampled_from(l02._LAYOUTS), st.data())
def test_address_references_are_the_engines(layout_bits, data):
    layout = AddressLayout(*layout_bits)
    pa = data.draw(st.integers(0, layout.addressable_bytes - 1))
    keyid = data.draw(st.integers(0, layout.nr_keyids))
    hpa = reference("hpa_of")(pa, keyid, *layout_bits)
    assert hpa == layout.hpa(pa, keyid)
    assert reference("split_hpa")(hpa, *layout_bits) == layout.split(hpa)


def test_hpa_of_may_refuse_with_the_engines_own_errors():
    def with_engine(pa, keyid, phys_bits=46, keyid_bits=6):
        return AddressLayout(phys_bits, keyid_bits).hpa(pa, keyid)

    assert run("hpa_of", with_engine).passed


def test_hpa_of_that_raises_the_wrong_exception_is_told_so():
    def type_error(pa, keyid, phys_bits=46, keyid_bits=6):
        if keyid >= 1 << keyid_bits:
            raise TypeError("no")
        return reference("hpa_of")(pa, keyid, phys_bits, keyid_bits)

    result = run("hpa_of", type_error)
    assert result.status == "hint" and "different exception" in result.message


def test_split_hpa_may_return_a_list():
    assert run("split_hpa", lambda hpa, p=46, k=6: list(reference("split_hpa")(hpa, p, k))).passed


def test_contents_after_reference_is_the_same_under_the_fixed_policy():
    """The claim does not depend on the RFC's missing flushes: the fixed kernel zaps too."""
    data, seed = l02._buffers()[0]

    def fixed(op, data, seed):
        from mktme_lite.kernel import MADV_DONTNEED, PROT_READ, PROT_WRITE

        k = Kernel(Machine(packages=2, seed=seed), Policy.fixed())
        p = k.spawn("app")
        key = k.add_key("mktme", "k", "type=cpu algorithm=aes-xts-128")
        buf = p.mmap(len(data), PROT_READ | PROT_WRITE)
        p.write(buf, data)
        if op == "madvise":
            p.madvise(buf, len(data), MADV_DONTNEED)
        elif op == "encrypt_mprotect":
            p.encrypt_mprotect(buf, len(data), PROT_READ | PROT_WRITE, key)
        return p.read(buf, len(data))

    assert fixed("encrypt_mprotect", data, seed) == reference("contents_after")("madvise", data, seed)
    assert run("contents_after", fixed).passed


def test_linux_style_whole_rounds_pass_the_pconfig_check():
    """The kernel model retries whole rounds over every package (like Linux); that is right too."""
    def rounds(m, keyid, command, data_key=None, tweak_key=None):
        status = PconfigStatus.PROG_SUCCESS
        for _ in range(10):
            statuses = [m.pconfig(p, keyid, command, data_key, tweak_key) for p in range(m.packages)]
            if all(s is PconfigStatus.PROG_SUCCESS for s in statuses):
                return PconfigStatus.PROG_SUCCESS
            fatal = [s for s in statuses if not s.retryable and s is not PconfigStatus.PROG_SUCCESS]
            if fatal:
                return fatal[0]
            status = next(s for s in statuses if s.retryable)
        return status

    assert run("program_every_package", rounds).passed


def test_ten_attempts_in_all_like_the_kernel_model():
    """The check's limit is the kernel model's: 10 rounds in all (the kas tree's int retries = 10; while (retries--))."""
    from mktme_lite.kernel.keys import PCONFIG_ROUNDS

    assert l02._MAX_ATTEMPTS == PCONFIG_ROUNDS == 10
    for busy, want in ((9, PconfigStatus.PROG_SUCCESS), (10, PconfigStatus.DEVICE_BUSY)):
        m = Machine(packages=2, seed=5)
        m.inject_pconfig_status(1, PconfigStatus.DEVICE_BUSY, busy)
        assert reference("program_every_package")(m, 3, PconfigCommand.KEYID_SET_KEY_RANDOM) is want
        assert l02._attempts(m)[1] == 10


def test_a_fatal_code_ends_the_operation():
    """Stopping at once passes; going on to the next package after a fatal code and retrying there does not."""
    m = Machine(packages=3, seed=1)
    m.inject_pconfig_status(1, PconfigStatus.DEVICE_BUSY, 3)
    assert reference("program_every_package")(m, 0, PconfigCommand.KEYID_SET_KEY_RANDOM) is \
        PconfigStatus.INVALID_KEYID
    assert l02._attempts(m) == {0: 1, 1: 0, 2: 0}
    result = run("program_every_package", l02._carry_on)
    assert result.status == "hint" and "went on" in result.message and "package 1" in result.message


def test_pconfig_reference_matches_the_kernel_key_service():
    for seed in range(3):
        a, b = Machine(packages=3, seed=seed), Machine(packages=3, seed=seed)
        for m in (a, b):
            m.inject_pconfig_status(1, PconfigStatus.DEVICE_BUSY, 2)
        want = Kernel(a, Policy.fixed()).keys.program_all(4, PconfigCommand.KEYID_SET_KEY_RANDOM)
        got = reference("program_every_package")(b, 4, PconfigCommand.KEYID_SET_KEY_RANDOM)
        assert got is want is PconfigStatus.PROG_SUCCESS
        assert [b.key_mode(p, 4) for p in range(3)] == [a.key_mode(p, 4) for p in range(3)]


@pytest.mark.parametrize("payload", l02._VALID_PAYLOADS)
def test_keyid_ctrl_reference_follows_the_kernel_parser(payload):
    parsed = parse_mktme_payload(payload)
    want = int(COMMAND_OF_TYPE[parsed.type]) | ALG_AES_XTS_128 << 8
    assert reference("keyid_ctrl")(payload) == want


@pytest.mark.parametrize("payload", l02._INVALID_PAYLOADS)
def test_every_invalid_payload_is_refused_by_the_kernel_too(payload):
    assert l02._engine_reason(payload)
    with pytest.raises(ValueError):
        reference("keyid_ctrl")(payload)


def test_keyid_ctrl_wrong_exception_gets_a_hint():
    def key_error(payload):
        if "gold" in payload:
            raise KeyError("gold")
        return reference("keyid_ctrl")(payload)

    result = run("keyid_ctrl", key_error)
    assert result.status == "hint" and "ValueError" in result.message and "KeyError" in result.message


def test_keyid_ctrl_any_exception_on_a_valid_payload_names_the_payload():
    def key_error(payload):
        if payload == "type=clear":
            raise KeyError("algorithm")
        return reference("keyid_ctrl")(payload)

    result = run("keyid_ctrl", key_error)
    assert result.status == "hint"
    assert "keyid_ctrl('type=clear') raised KeyError ('algorithm'), but that payload is valid" in result.message
    bare = run("keyid_ctrl", l02._keyid_ctrl_needs_entropy)
    assert "raised ValueError, but" in bare.message and "ValueError: " not in bare.message


def test_keyid_ctrl_hints_show_keyid_ctrl_in_hex():
    result = run("keyid_ctrl", lambda payload: 0x102 if payload == "type=gold algorithm=aes-xts-128" else
                 reference("keyid_ctrl")(payload))
    assert "returned 0x102" in result.message and "258" not in result.message


@pytest.mark.parametrize("payload", ["type=user type=cpu algorithm=aes-xts-128",
                                     "type=cpu algorithm=aes-xts-128 algorithm=aes-xts-128"])
def test_keyid_ctrl_refuses_a_repeated_option(payload):
    assert payload in l02._INVALID_PAYLOADS and "duplicate" in l02._engine_reason(payload)
    result = run("keyid_ctrl", lambda p: 0x101 if p == payload else reference("keyid_ctrl")(p))
    assert result.status == "hint" and "twice" in result.message and "at most once" in result.message


def test_keyid_ctrl_refusing_a_valid_payload_gets_a_hint():
    def strict(payload):
        if "key=" in payload and "type=cpu" in payload:
            raise ValueError("cpu keys take no key=")
        return reference("keyid_ctrl")(payload)

    result = run("keyid_ctrl", strict)
    assert result.status == "hint" and "valid" in result.message


# ------------------------------------------------------------------------ robustness

def test_wrong_kind_of_answer_gets_a_hint_not_a_crash():
    for name in L02:
        result = run(name, 42)
        assert result.status == "hint" and "pass the function itself" in result.message


def test_untouched_stubs_are_not_attempted():
    """The generated stub keeps ``return name`` with ``name = ...``: it returns ``...`` (or a tuple of them)."""
    for name in L02:
        result = run(name, lambda *args, **kwargs: ...)
        assert result.status == "not_attempted", (name, result)
    assert run("split_hpa", lambda hpa, p=46, k=6: (..., ...)).status == "not_attempted"


def test_a_lost_return_gets_its_own_hint():
    for name in L02:
        result = run(name, lambda *args, **kwargs: None)
        assert result.status == "hint" and "missing `return`" in result.message, (name, result)
        assert f"{name}() returned None: missing `return`? It must end with `return " in result.message, result


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(L02), st.one_of(st.integers(), st.text(max_size=5), st.binary(max_size=5),
                                       st.lists(st.integers(), max_size=3), st.tuples(st.integers(), st.integers())))
def test_checks_never_raise_whatever_a_function_returns(name, value):
    result = run(name, lambda *args, **kwargs: value)
    assert result.status in ("hint", "not_attempted")


@pytest.mark.parametrize("name", L02)
def test_checks_survive_a_raising_answer(name):
    def boom(*args, **kwargs):
        raise RuntimeError("learner bug")

    result = run(name, boom)
    assert result.status == "hint" and "RuntimeError" in result.message


def test_contents_after_with_a_keyid_for_a_serial_says_so():
    """encrypt_mprotect(..., 1) passes KeyID 1 where the key serial belongs: the kernel's ENOKEY is
    relayed with what went wrong, not just "no key with serial 1"."""
    import mktme_lite.checks.multi_key as mk

    result = checks.REGISTRY["contents_after"].func(mk._contents_after_keyid)
    assert result.status == "hint"
    assert "ENOKEY" in result.message and "serial" in result.message and "not a KeyID" in result.message
