"""viz.diagrams.machine_overview: lesson 00's picture of the whole machine, with alt text."""
from __future__ import annotations

import pytest

from mktme_lite import ParameterError
from mktme_lite.viz.diagrams import machine_overview


def test_overview_names_every_part_in_picture_and_alt_text():
    fig = machine_overview()
    drawn = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    for part in ("cores", "cache", "tagged by KeyID", "key table", "AES-XTS engine", "DRAM homed on package 0",
                 "DRAM homed on package 1", "direct map", "KeyID 0"):
        assert part in drawn, part
    alt = fig.mktme_alt
    for part in ("two CPU packages", "cache", "key table", "AES-XTS", "DRAM", "direct map", "KeyID 0"):
        assert part.lower() in alt.lower(), part


def test_overview_title_is_checked():
    assert machine_overview(title=None).axes[0].get_title(loc="left") == ""
    with pytest.raises(ParameterError, match="title"):
        machine_overview(title=3)
