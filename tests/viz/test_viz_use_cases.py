"""Lesson 08's pictures: the KeyID partition line and the outcome table say everything in words too."""
import pytest
from matplotlib.patches import Rectangle

from mktme_lite import viz
from mktme_lite.errors import MKTMEError
from mktme_lite.viz.use_cases import PARTITION_HATCH


def regions(fig):
    """The bar's hatched regions: (hatch, width) in drawing order."""
    return [(p.get_hatch() or "", p.get_width()) for p in fig.artists
            if isinstance(p, Rectangle) and p.get_height() > 0.5]


def test_partition_alt_text_is_computed_from_the_split():
    fig = viz.keyid_partition(6, 15, 48, facts=[("MSR 0x87", "0x300000000f")])
    assert "15 MKTME KeyIDs, 1 to 15" in fig.mktme_alt and "48 TDX private KeyIDs, 16 to 63" in fig.mktme_alt
    assert "MSR 0x87: 0x300000000f." in fig.mktme_alt
    assert viz.figure_png(fig).startswith(b"\x89PNG")


def test_each_region_has_its_own_hatch_not_only_a_colour():
    hatches = [h for h, _ in regions(viz.keyid_partition(6, 15, 48))]
    assert hatches == [PARTITION_HATCH["tme"], PARTITION_HATCH["mktme"], PARTITION_HATCH["tdx"]]
    assert len(set(hatches)) == 3


def test_widths_follow_the_counts_and_keyid_0_stays_visible():
    (_, w0), (_, w_mktme), (_, w_tdx) = regions(viz.keyid_partition(6, 15, 48))
    assert w0 >= 0.5 and w_tdx > w_mktme
    (_, w0), (_, w_mktme) = regions(viz.keyid_partition(15, 2**15 - 1, 0))
    assert w0 >= 0.5 and w_mktme > 10 * w0


def test_no_private_keyids_and_no_mktme_keyids_are_said_in_words():
    assert "no TDX private KeyIDs" in viz.keyid_partition(6, 63, 0).mktme_alt
    assert "no MKTME KeyIDs" in viz.keyid_partition(2, 0, 3).mktme_alt
    assert "1 MKTME KeyID (KeyID 1)" in viz.keyid_partition(4, 1, 14).mktme_alt


@pytest.mark.parametrize("args, kw", [((6, 15, 47), {}), ((16, 1, 0), {}), ((6, 15, 48), {"facts": [("a", 1)]})])
def test_bad_partitions_are_refused(args, kw):
    with pytest.raises(MKTMEError):
        viz.keyid_partition(*args, **kw)


def test_outcome_table_writes_alarming_words_out():
    card = viz.outcome_table(["case", "reads back"], [["CPU key", "GARBAGE"], ["user key", "intact"]],
                             strong=("GARBAGE",), caption="pmem after a reboot")
    assert "<strong>GARBAGE</strong>" in card.html and "GARBAGE" in card.text
    assert card.text.splitlines()[0] == "pmem after a reboot"
