"""viz.cachelines: cache lines and DRAM as a card whose text twin says everything; the corruption plot."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from mktme_lite import viz  # noqa: E402
from mktme_lite.errors import ParameterError  # noqa: E402
from mktme_lite.viz.cachelines import cache_state, corruption_plot, line_text  # noqa: E402

LINE_A = {"hpa": 0x10000004000, "pa": 0x4000, "keyid": 1, "dirty": True, "speculative": False,
          "data": b"alice".ljust(64, b"."), "who": "alice", "line": 0}
DRAM = [{"line": 0, "pa": 0x4000, "stored": bytes(range(64)), "views": {"K1": b"a" * 64, "K2": bytes(64)}}]


def test_card_lists_every_line_with_address_keyid_glyph_and_word():
    spec = dict(LINE_A, hpa=0x20000004000, keyid=2, dirty=False, speculative=True, who="bob")
    card = cache_state([[LINE_A], [spec]], DRAM, title="Step 1", events=["#1 P0 store"], read="bob read garbage")
    for text in (card.html, card.text):
        assert "0x10000004000" in text and "0x20000004000" in text and "#1 P0 store" in text
    assert "● dirty (Modified)" in card.text and "◌ clean, filled speculatively" in card.text
    assert "K1 (alice)" in card.text and "K2 (bob)" in card.text
    assert "through K2: all zero" in card.text and "Package 1 cache: 1 line(s)" in card.text
    assert "role='group'" in card.html and "bob read garbage" in card.text


def test_highlight_and_empty_caches():
    card = cache_state([[], []], DRAM, title="start", highlight=0)
    assert card.text.count("(empty)") == 2 and "line 0 ◀" in card.text


def test_line_text_groups_blocks_and_names_zeros():
    assert line_text(bytes(64)) == "zeros (64 × 00)"
    assert line_text(b"x" * 64).count(" ") == 3


@pytest.mark.parametrize("call, words", [
    (lambda: cache_state("no", DRAM, title="t"), "one list of lines per package"),
    (lambda: cache_state([[{"hpa": 1}]], DRAM, title="t"), "must be a mapping with"),
    (lambda: cache_state([[dict(LINE_A, data=b"short")]], DRAM, title="t"), "64 bytes"),
    (lambda: cache_state([[]], DRAM, title=""), "title"),
    (lambda: cache_state([[]], [{"line": 0}], title="t"), "DRAM row"),
    (lambda: corruption_plot([]), "non-empty"),
    (lambda: corruption_plot([{"sweep": "size", "x": 1, "fraction": 0, "runs": 1}]), "sweep"),
])
def test_bad_input_is_refused_with_a_sentence(call, words):
    with pytest.raises(ParameterError, match=words):
        call()


def test_corruption_plot_has_alt_text_listing_every_value():
    pts = [{"sweep": "cache", "x": 256, "fraction": 0.25, "runs": 8}, {"sweep": "cache", "x": 1024, "fraction": 0.5,
                                                                       "runs": 8},
           {"sweep": "delay", "x": 0, "fraction": 0.5, "runs": 8}, {"sweep": "delay", "x": 64, "fraction": 0.0,
                                                                    "runs": 8}]
    fig = corruption_plot(pts, title="t")
    assert "256 B → 25%" in fig.mktme_alt and "1 KiB → 50%" in fig.mktme_alt and "64 → 0%" in fig.mktme_alt
    data, meta = viz.to_bundle(fig)
    assert meta["image/png"]["alt"] == fig.mktme_alt
    assert len(fig.axes) == 2


def test_wrapped_line_text_has_two_lines_of_two_blocks():
    assert line_text(b"a" * 64, wrap=True) == "\n".join(["a" * 16 + " " + "a" * 16] * 2)
