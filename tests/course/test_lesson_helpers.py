"""mktme_lite.lesson: the helpers every lesson notebook calls."""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from mktme_lite import KeyIDError, Machine, lesson
from mktme_lite.address import IA32_TME_ACTIVATE, IA32_TME_CAPABILITY


def test_setup_is_idempotent_and_silent(capsys):
    lesson.setup()
    lesson.setup()
    assert capsys.readouterr().out == ""
    assert matplotlib.rcParams["image.cmap"] == "cividis"
    assert np.get_printoptions()["precision"] == 4


def test_show_and_show_figure_are_one_function():
    assert lesson.show is lesson.show_figure


def test_expect_error_prints_the_message(capsys):
    m = Machine(packages=1)
    with lesson.expect_error(KeyIDError):
        m.hpa(0x1000, 99)
    out = capsys.readouterr().out
    assert out.startswith("KeyIDError: keyid 99") and "Traceback" not in out


def test_expect_error_fails_loudly_when_nothing_is_raised():
    with pytest.raises(AssertionError, match="expected KeyIDError"):
        with lesson.expect_error(KeyIDError):
            pass


def test_expect_error_lets_other_errors_through():
    with pytest.raises(ZeroDivisionError):
        with lesson.expect_error(KeyIDError):
            1 / 0


def test_tme_activate_table_decodes_the_engine_msr():
    m = Machine(packages=1)
    table = lesson.tme_activate_table(m.rdmsr(IA32_TME_ACTIVATE))
    assert "KeyID 0 is encrypted with the TME key" in table
    assert "KeyIDs 1..63" in table
    bypass = lesson.tme_activate_table(Machine(packages=1, tme_bypass=True).rdmsr(IA32_TME_ACTIVATE))
    assert "KeyID 0 is NOT encrypted (TME bypass)" in bypass
    lines = table.splitlines()
    assert lines[0].split() == ["bits", "field", "value", "meaning"] and len(lines) == 9


def test_tme_capability_table():
    table = lesson.tme_capability_table(Machine(packages=1).rdmsr(IA32_TME_CAPABILITY))
    assert "max KeyID bits" in table and "AES-XTS-256" in table


def test_hexlist_formats_addresses_and_passes_placeholders_through():
    assert lesson.hexlist([0x2000, 0x2040]) == "[0x2000, 0x2040]"
    assert lesson.hexlist([]) == "[]"
    assert lesson.hexlist(None) == "None"
    assert lesson.hexlist("x") == "'x'"


def test_aes_block_is_plain_aes():
    # FIPS-197 appendix C.1: AES-128 of 00112233...ff under key 000102...0f
    key = bytes(range(16))
    block = bytes.fromhex("00112233445566778899aabbccddeeff")
    assert lesson.aes_block(key, block).hex() == "69c4e0d86a7b0430d8cdb78070b4c55a"
    with pytest.raises(ValueError):
        lesson.aes_block(key, b"short")
    with pytest.raises(ValueError):
        lesson.aes_block(b"k", block)


def test_aes_block_refuses_inside_the_family():
    # Before: a bare ValueError ("key must be 16 or 32 bytes"), outside MKTMEError.
    from mktme_lite.errors import MKTMEError, ParameterError

    with pytest.raises(ParameterError, match=r"block \(one 16-byte AES block\) is 5 bytes; it needs at least 16"):
        lesson.aes_block(bytes(16), b"short")
    with pytest.raises(ParameterError, match=r"key must be 16 or 32 bytes .*got 24 bytes"):
        lesson.aes_block(bytes(24), bytes(16))
    with pytest.raises(MKTMEError, match=r"key .*must be bytes, e.g. b'...'"):
        lesson.aes_block("0" * 16, bytes(16))
    assert lesson.aes_block(bytearray(16), memoryview(bytes(16))) == lesson.aes_block(bytes(16), bytes(16))


def test_expect_error_refuses_what_is_not_an_exception_class():
    # Before: `except 42` inside the context manager raised TypeError when the block failed.
    from mktme_lite.errors import ParameterError

    with pytest.raises(ParameterError, match="expect_error takes exception classes .*got 42"):
        with lesson.expect_error(42):
            raise KeyIDError("x")
