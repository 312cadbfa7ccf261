"""Lesson 08 widgets: what they draw is what the engine computed (the shell contract is in test_widget_shells.py)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from mktme_lite import course  # noqa: E402
from mktme_lite.errors import ParameterError  # noqa: E402
from mktme_lite.scenarios import use_cases as u  # noqa: E402
from mktme_lite.widgets import use_cases as w  # noqa: E402


def test_partition_explorer_shows_the_machines_answers():
    fig = w.render_partition_explorer(6, 2, 46)
    p = u.partition(6, 2, 46)
    alt = fig.mktme_alt
    assert f"MSR 0x87: {p.msr_0x87:#x}" in alt and "16: INVALID_KEYID" in alt and "16: refused" in alt
    assert "15: PROG_SUCCESS" in alt and "1 TiB of the 64 TiB" in alt


@pytest.mark.parametrize("bits, tdx", [(1, 0), (1, 1), (15, 15), (8, 3)])
def test_partition_explorer_draws_every_legal_split(bits, tdx):
    fig = w.render_partition_explorer(bits, tdx, 52)
    assert str(len(u.partition(bits, tdx, 52).private)) in fig.mktme_alt


@pytest.mark.parametrize("bits, tdx", [(4, 5), (1, 2), (6, 15)])
def test_partition_explorer_refuses_more_tdx_bits_than_keyid_bits(bits, tdx):
    """A direct call with an impossible split gets a ParameterError sentence that names both numbers and the range."""
    with pytest.raises(ParameterError) as info:
        w.render_partition_explorer(bits, tdx)
    text = str(info.value)
    assert f"tdx_keyid_bits={tdx} asks for more TDX KeyID bits than the {bits} KeyID bit" in text, text
    assert text.endswith(f"choose 0 to {bits}")


def test_partition_explorer_controls_reach_only_consistent_settings():
    """Kept for TDX offers 0..KeyID bits and follows the KeyID bits slider, as lesson 02's budget widget does:
    no reachable setting of the controls is refused."""
    widget = w.partition_explorer()
    controls = widget.controls
    assert [v for _, v in controls["tdx_keyid_bits"].options] == list(range(0, 7))  # before the first move
    seen = 0
    for bits in [v for _, v in controls["keyid_bits"].options]:
        widget.set(keyid_bits=bits)
        offered = [v for _, v in controls["tdx_keyid_bits"].options]
        assert offered == list(range(0, bits + 1)), (bits, offered)
        for tdx in offered:
            widget.set(tdx_keyid_bits=tdx)
            assert widget.last_status == "ok", (widget.params(), widget.last_message)
            seen += 1
    assert seen == sum(b + 1 for b in range(1, 16))
    # all 15 bits kept for TDX, then fewer KeyID bits: the split follows down to all of them, never beyond
    widget.set(keyid_bits=15)
    widget.set(tdx_keyid_bits=15)
    widget.set(keyid_bits=3)
    assert widget.params()["tdx_keyid_bits"] == 3 and widget.last_status == "ok"


def test_partition_explorer_static_twin_differs_at_each_setting():
    widget = w.partition_explorer()
    views = widget.static_views()
    assert len(views) == 4 and widget.last_status == "ok"
    alts = [bundle[0]["text/plain"] for _, bundle in views]
    assert len(set(alts)) == 4


def test_msr_view_names_what_is_not_modelled():
    card = w.render_msr_view()
    assert card.text.count("NOT modelled") == 2 and "0x983" in card.text and "[16, 64)" in card.text


def test_pmem_table_follows_pmem_run():
    text = w.render_pmem_table().text
    for label, kw in u.PMEM_CASES:
        line = next(l for l in text.splitlines() if l.startswith(label))
        assert line.rstrip().endswith("intact" if u.pmem_run(**kw).intact else "GARBAGE"), label


def test_pmem_lab_tells_the_story():
    card = w.render_pmem_lab("cpu")
    assert "GARBAGE" in card.text and "fresh random key" in card.text
    assert "INTACT" in w.render_pmem_lab().text


def test_coherence_table_marks_dma_as_still_wrong():
    lines = w.render_coherence_table().text.splitlines()
    dma = next(l for l in lines if l.startswith("a device writes"))
    assert dma.count("WRONG DATA") == 2
    rekey = next(l for l in lines if l.startswith("PCONFIG gives"))
    assert rekey.count("WRONG DATA") == 2
    c5 = next(l for l in lines if l.startswith("write through KeyID 1"))
    assert c5.count("WRONG DATA") == 1 and "right (as if flushed)" in c5


def test_vm_table_rows_are_the_options():
    text = w.render_vm_table().text
    tdx = next(l for l in text.splitlines() if l.startswith("TDX private KeyID"))
    assert "refused" in tdx
    xpo = next(l for l in text.splitlines() if l.startswith("no KeyID, XPFO"))
    assert "oops" in xpo and "PLAINTEXT" in xpo and "clflush" not in xpo


def test_verdict_covers_every_claim_of_lessons_toml():
    text = w.render_verdict().text
    for c in course.claims():
        assert c.id in text and c.text[:30] in text
    assert set(u.VERDICTS) == {c.id for c in course.claims()}
