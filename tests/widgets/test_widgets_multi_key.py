"""Lesson 02 widgets: the KeyID-bit budget and the PCONFIG console.

The shell contract (classes, labels, first control redraws, static twin) is checked the same way
tests/test_widgets.py checks lessons 00 and 01; the pure functions are checked against the engine.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mktme_lite import viz  # noqa: E402
from mktme_lite.address import AddressLayout, TMEActivate  # noqa: E402
from mktme_lite.keytable import KeyMode, PconfigStatus  # noqa: E402
from mktme_lite.dump import format_bytes  # noqa: E402
from mktme_lite.scenarios import multi_key as mk  # noqa: E402
from mktme_lite.widgets import WidgetInputError  # noqa: E402
from mktme_lite.widgets import multi_key as mkw  # noqa: E402

# The shell contract (CSS classes, labels, redraw, options, static twin) is in test_widget_shells.py.





# ------------------------------------------------------------------------ KeyID-bit budget

def test_budget_of_the_lessons_machine():
    b = mk.budget()
    assert (b.nr_keyids, b.keyid_shift) == (63, 40)
    assert b.bytes_per_keyid == mk.TIB and b.lost_bytes == 63 * mk.TIB and b.total_bytes == 64 * mk.TIB
    assert TMEActivate.decode(b.activate_value).keyid_bits == 6
    assert b.example_hpa == 0x50000001040


@settings(max_examples=60, deadline=None)
@given(st.integers(36, 52), st.integers(0, 15))
def test_budget_agrees_with_the_engine(phys_bits, keyid_bits):
    try:
        b = mk.budget(phys_bits, keyid_bits, max_keyid_bits=15, dram_bytes=16 * mk.GIB)
    except WidgetInputError as exc:
        assert "installed DRAM" in str(exc)
        assert phys_bits - keyid_bits < 34  # 16 GiB needs 34 address bits
        return
    layout = AddressLayout(phys_bits, keyid_bits)
    assert (b.nr_keyids, b.bytes_per_keyid, b.lost_bytes) == (layout.nr_keyids, layout.addressable_bytes,
                                                               layout.lost_bytes)
    assert layout.split(b.example_hpa) == (b.example_pa, b.example_keyid)


@pytest.mark.parametrize("params, words", [
    ({"keyid_bits": 7}, "#GP"),
    ({"keyid_bits": 9, "max_keyid_bits": 9}, "at most 8 KeyID bits"),
    ({"phys_bits": 36, "dram_bytes": 16 * mk.TIB}, "no machine has more DRAM than its physical address space"),
    ({"keyid_bits": 16}, "4-bit field"),
    ({"phys_bits": 60}, "52"),
    ({"keyid_bits": "6"}, "whole number"),
    ({"dram_bytes": 0}, "positive"),
])
def test_budget_refuses_impossible_combinations(params, words):
    with pytest.raises(WidgetInputError, match=None) as info:
        mkw.render_keyid_budget(**params)
    assert words in str(info.value)


def test_budget_figure_says_its_numbers():
    fig = mkw.render_keyid_budget()
    assert isinstance(fig, viz.LessonFigure)
    for words in ("bits 45:40", "63 usable KeyIDs", "1 TiB", "63 TiB of the 64 TiB", "98.4 %", "0x50000001040"):
        assert words in fig.mktme_alt, words
    off = mkw.render_keyid_budget(keyid_bits=0)
    assert "no bit carries a KeyID" in off.mktme_alt and "nothing of the 64 TiB" in off.mktme_alt


def test_budget_slider_and_validation_agree_on_the_address_width():
    """The slider offers exactly the widths budget() accepts, and the refusal names that range."""
    offered = [v for _, v in mkw.keyid_budget().controls["phys_bits"].options]
    assert offered == list(range(mk.PHYS_BITS_MIN, mk.PHYS_BITS_MAX + 1))
    for phys_bits in (offered[0], offered[-1]):
        mk.budget(phys_bits, 0, dram_bytes=16 * mk.GIB)
    for phys_bits in (offered[0] - 1, offered[-1] + 1):
        with pytest.raises(WidgetInputError) as info:
            mk.budget(phys_bits, 0, dram_bytes=16 * mk.GIB)
        assert f"{mk.PHYS_BITS_MIN} to {mk.PHYS_BITS_MAX}" in str(info.value)


@pytest.mark.parametrize("phys_bits, dram, words", [
    (36, 16 * mk.TIB, "needs 44 address bits, but a 36-bit physical address reaches only 64 GiB"),
    (40, 4 * mk.TIB, "needs 42 address bits, but a 40-bit physical address reaches only 1 TiB"),
])
def test_budget_says_plainly_when_the_dram_cannot_fit_at_all(phys_bits, dram, words):
    """Never "at most -8 KeyID bit(s)": DRAM larger than the whole address space is said as such."""
    for keyid_bits in (0, 6):
        with pytest.raises(WidgetInputError) as info:
            mk.budget(phys_bits, keyid_bits, dram_bytes=dram)
        assert words in str(info.value) and "at most -" not in str(info.value)
    with pytest.raises(WidgetInputError, match="even with no KeyID bits"):
        mk.keyid_bits_allowed(phys_bits, 6, dram)


def test_budget_says_when_no_keyid_bit_fits():
    with pytest.raises(WidgetInputError) as info:
        mk.budget(36, 1, dram_bytes=64 * mk.GIB)
    assert "cannot activate any KeyID bit" in str(info.value) and "at most 0" not in str(info.value)


@pytest.mark.parametrize("phys_bits, cpu, dram, most", [
    (46, 6, 256 * mk.GIB, 6), (46, 15, 256 * mk.GIB, 8), (40, 6, 256 * mk.GIB, 2), (36, 6, 64 * mk.GIB, 0),
    (52, 15, 16 * mk.GIB, 15),
])
def test_keyid_bits_allowed_is_the_edge_budget_accepts(phys_bits, cpu, dram, most):
    assert mk.keyid_bits_allowed(phys_bits, cpu, dram) == most
    assert mk.budget(phys_bits, most, cpu, dram).most_keyid_bits == most
    with pytest.raises(WidgetInputError):
        mk.budget(phys_bits, most + 1, cpu, dram)


def test_budget_controls_offer_only_settings_that_draw():
    """No reachable setting of the controls is refused: the sliders' ranges follow each other."""
    w = mkw.keyid_budget()
    seen = 0
    for phys in (36, 38, 40, 44, 46, 52):
        for cpu in (1, 6, 8, 15):
            w.set(phys_bits=phys, max_keyid_bits=cpu)
            drams = [v for _, v in w.controls["dram_bytes"].options]
            assert drams == [n for n in mkw.DRAM_SIZES if n <= 1 << phys]
            for dram in drams:
                w.set(dram_bytes=dram)
                keyids = [v for _, v in w.controls["keyid_bits"].options]
                assert keyids == list(range(mk.keyid_bits_allowed(phys, cpu, dram) + 1))
                for k in (keyids[0], keyids[-1]):
                    w.set(keyid_bits=k)
                    assert w.last_status == "ok", (w.params(), w.last_message)
                    seen += 1
    assert seen > 100


def test_moving_a_limit_down_moves_the_keyid_bits_with_it_in_one_redraw():
    w = mkw.keyid_budget()
    w.update()
    before = w.updates
    w.set(phys_bits=40)  # 256 GiB needs 38 of 40 bits: at most 2 KeyID bits
    assert w.params()["keyid_bits"] == 2 and w.last_status == "ok"
    assert w.updates == before + 1  # the clamped slider did not redraw on its own
    w.set(max_keyid_bits=1)
    assert w.params()["keyid_bits"] == 1
    w.set(phys_bits=36)  # 256 GiB does not fit 36 bits at all: the largest DRAM that fits
    assert w.params()["dram_bytes"] == 64 * mk.GIB and w.params()["keyid_bits"] == 0
    assert w.last_status == "ok"


def test_cpu_allows_changes_the_picture_at_every_value():
    """The CPU's limit is drawn (a bracket) and stated, so every 'CPU allows' value looks different."""
    pictures = {viz.figure_png(mkw.render_keyid_budget(max_keyid_bits=cpu)) for cpu in range(6, 16)}
    assert len(pictures) == 10
    fig = mkw.render_keyid_budget(max_keyid_bits=9)
    assert "IA32_TME_CAPABILITY[35:32] = 9" in fig.mktme_alt and "at most 8, set by the DRAM" in fig.mktme_alt
    assert "set by the CPU" in mkw.render_keyid_budget().mktme_alt


@pytest.mark.parametrize("params", [
    {}, {"phys_bits": 36, "keyid_bits": 0, "max_keyid_bits": 15, "dram_bytes": 64 * mk.GIB},
    {"phys_bits": 52, "keyid_bits": 15, "max_keyid_bits": 15, "dram_bytes": 16 * mk.GIB},
    {"phys_bits": 52, "keyid_bits": 8, "max_keyid_bits": 15, "dram_bytes": 16 * mk.TIB},
    {"phys_bits": 36, "keyid_bits": 2, "max_keyid_bits": 2, "dram_bytes": 16 * mk.GIB},
])
def test_budget_text_stays_inside_the_figure(params, past_the_edge):
    """Figure text is drawn as outlines, which matplotlib clips without a word: measure them."""
    assert past_the_edge(mkw.render_keyid_budget(**params), margin=0.1) == []


@pytest.mark.parametrize("n, text", [(0, "0 B"), (1 << 40, "1 TiB"), (63 << 40, "63 TiB"), (65534 << 30, "65534 GiB"),
                                     (1 << 52, "4 PiB"), (4096, "4 KiB"), (1000, "1000 B")])
def test_format_bytes_is_exact(n, text):
    assert format_bytes(n) == text


# ------------------------------------------------------------------------ PCONFIG console

def test_console_default_programs_package_0_only():
    r = mk.pconfig_run()
    assert r.packages == (0,) and r.statuses == (PconfigStatus.PROG_SUCCESS,)
    assert r.keyid_ctrl == 0x101
    assert r.dram[(3, 0)] == "own key" and r.dram[(3, 1)] == "tme"
    assert r.disagreeing() == [3]
    assert r.changed == {(3, 0)}
    assert r.modes[(3, 1)] is KeyMode.TME


def test_console_every_package_gives_each_package_its_own_random_key():
    r = mk.pconfig_run(package=mk.EVERY)
    assert r.statuses == (PconfigStatus.PROG_SUCCESS,) * 2
    assert r.disagreeing() == []
    assert r.after[(3, 0)] != r.after[(3, 1)]  # different fingerprints
    assert {r.dram[(3, p)] for p in (0, 1)} == {"own key"}


def test_console_direct_key_is_the_same_everywhere():
    r = mk.pconfig_run(package=mk.EVERY, command=0, key="key_a")
    assert r.after[(3, 0)] == r.after[(3, 1)] and "direct" in r.after[(3, 0)]


@pytest.mark.parametrize("params, status", [
    ({"keyid": 0}, PconfigStatus.INVALID_KEYID),
    ({"keyid": 64}, PconfigStatus.INVALID_KEYID),
    ({"command": 4}, PconfigStatus.INVALID_PROG_CMD),
    ({"command": 3, "enc_alg": "none"}, PconfigStatus.INVALID_ENC_ALG),
    ({"command": 2, "enc_alg": "none"}, PconfigStatus.INVALID_ENC_ALG),
    ({"enc_alg": "aes256"}, PconfigStatus.INVALID_ENC_ALG),
    ({"failure": "busy"}, PconfigStatus.DEVICE_BUSY),
    ({"failure": "entropy"}, PconfigStatus.ENTROPY_ERROR),
])
def test_console_failures_change_nothing(params, status):
    r = mk.pconfig_run(**params)
    assert r.statuses == (status,)
    assert r.changed == set()


def test_console_busy_on_every_package_hits_the_last_one():
    r = mk.pconfig_run(package=mk.EVERY, failure="busy")
    assert r.statuses == (PconfigStatus.PROG_SUCCESS, PconfigStatus.DEVICE_BUSY)
    assert r.disagreeing() == [3]


def test_console_what_dram_holds_follows_the_mode():
    cleared = mk.pconfig_run(keyid=1, command=2)
    assert cleared.dram[(1, 0)] == "tme" and cleared.dram[(1, 1)] == "own key"
    plain = mk.pconfig_run(package=mk.EVERY, command=3)
    assert plain.dram[(3, 0)] == plain.dram[(3, 1)] == "plaintext"
    assert plain.dram[(2, 0)] == "plaintext" and plain.dram[(0, 0)] == "tme"


def test_console_never_changes_its_prepared_machine():
    before = [mk._console_machine().key_table_view(p) for p in range(2)]
    dram = mk._console_machine().dram(0, 8192)
    for package in (0, 1, mk.EVERY):
        mk.pconfig_run(package=package, keyid=1, command=2)
    assert [mk._console_machine().key_table_view(p) for p in range(2)] == before
    assert mk._console_machine().dram(0, 8192) == dram


@pytest.mark.parametrize("params, words", [
    ({"command": 0}, "software key A"),
    ({"package": 2}, "package must be"),
    ({"keyid": 1 << 16}, "16-bit"),
    ({"command": 9}, "command must be"),
    ({"key": "key_z"}, "key material"),
    ({"enc_alg": "des"}, "ENC_ALG"),
    ({"failure": "fire"}, "failure"),
])
def test_console_refuses_bad_input_with_a_message(params, words):
    with pytest.raises(WidgetInputError) as info:
        mkw.render_pconfig_console(**params)
    assert words in str(info.value)


@pytest.mark.parametrize("params, words", [
    ({"command": []}, "command must be"),
    ({"command": {}}, "command must be"),
    ({"command": 2.0}, "got 2.0 (a float)"),
    ({"command": True}, "got True (a bool)"),
    ({"command": "2"}, "whole numbers"),
    ({"keyid": True}, "got True (a bool)"),
    ({"keyid": 3.0}, "(a float)"),
    ({"package": True}, "got True (a bool)"),
    ({"package": []}, "package must be"),
    ({"key": []}, "key material must be one of the names 'none', 'key_a', 'key_b'"),
    ({"key": 0}, "key material"),
    ({"enc_alg": []}, "ENC_ALG must be one of the names"),
    ({"enc_alg": {}}, "(a dict)"),
    ({"failure": {}}, "failure must be one of the names"),
    ({"failure": None}, "(a NoneType)"),
])
def test_console_refuses_values_of_the_wrong_type_the_same_way(params, words):
    """Unhashable, float and bool values get the same WidgetInputError as a wrong int or name; never a crash."""
    with pytest.raises(WidgetInputError) as info:
        mkw.render_pconfig_console(**params)
    assert words in str(info.value)


def test_console_widget_shows_a_refusal_for_a_value_of_the_wrong_type():
    widget = mkw.pconfig_console()
    widget.draw({**widget.defaults, "command": []})
    assert widget.last_status == "input-error" and "command must be" in widget.last_message


def test_console_card_labels_fingerprints_and_uses_words_not_symbols():
    card = mkw.render_pconfig_console()
    for text in (card.html, card.text):
        assert "simulator-only" in text
        assert mkw.CHANGED in text and mkw.DISAGREE in text and "Warning:" in text
        assert "RAX = 0 PROG_SUCCESS" in text
        assert not {"◀", "⚠"} & set(text)
    failing = mkw.render_pconfig_console(keyid=0)
    assert "#GP(0)" in failing.text


@pytest.mark.parametrize("params", [{}, {"package": mk.EVERY, "failure": "busy"}, {"keyid": 64},
                                    {"package": mk.EVERY, "command": 0, "key": "key_a"},
                                    {"command": 3, "enc_alg": "none"}])
def test_console_text_twin_has_short_lines(params):
    """The plain-text twin is what a screen reader or a terminal gets: no line wider than TEXT_WIDTH."""
    text = mkw.render_pconfig_console(**params).text
    assert max(len(line) for line in text.splitlines()) <= mkw.TEXT_WIDTH
    assert "KEYID_CTRL = 0x" in text and "memory gets" in text


def test_console_card_escapes_nothing_dangerous():
    html = mkw.render_pconfig_console(package=mk.EVERY).html
    assert "<script" not in html and html.count("<table>") == 1
