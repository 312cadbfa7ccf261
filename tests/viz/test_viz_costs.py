"""Lesson 07's pictures: alt text computed from the data, words on every cell, refusals for bad data."""
from __future__ import annotations

import pytest

from mktme_lite import viz
from mktme_lite.errors import ParameterError


def test_bars_say_every_value_in_words():
    fig = viz.overhead_bars([("none", 1.0, "", "none"), ("xpfo", 2.283, "", "XPO"), ("keyid0", 1.2, "8 EFAULT", "MKTME")],
                            title="Kernel build", references=[("measured", 26.37)], highlight="xpfo")
    assert "xpfo x2.28" in fig.mktme_alt and "keyid0 x1.2 (8 EFAULT)" in fig.mktme_alt
    assert "measured x26.4" in fig.mktme_alt and fig.mktme_alt.startswith("Kernel build.")
    assert viz.figure_png(fig)[:4] == b"\x89PNG"


def test_the_grid_marks_every_cell_with_a_tick_or_a_cross():
    fig = viz.security_grid(["none", "xpfo"], ["ret2dir", "gup"],
                            [[("PAYLOAD USED", False), ("works", True)], [("oops", True), ("works", True)]],
                            highlight="xpfo")
    assert "none: ret2dir: FAILED (PAYLOAD USED), gup: held (works)" in fig.mktme_alt
    assert "Row xpfo is framed." in fig.mktme_alt


@pytest.mark.parametrize("call", [
    lambda: viz.overhead_bars([]),
    lambda: viz.overhead_bars([("x", 0.5, "", "XPO")]),
    lambda: viz.overhead_bars([("x", 2.0, "", "green")]),
    lambda: viz.overhead_bars([("x", float("inf"), "", "XPO")]),
    lambda: viz.security_grid(["a"], ["b"], [[("w", 1)]]),
    lambda: viz.security_grid(["a"], ["b", "c"], [[("w", True)]]),
    lambda: viz.security_grid(["a"], ["b"], [[("w", True)]], highlight="z"),
])
def test_bad_data_is_refused(call):
    with pytest.raises(ParameterError):
        call()
