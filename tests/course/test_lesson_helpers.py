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
