"""Shared checks for the widget tests."""
from __future__ import annotations

import pytest


def shapes_past_the_edge(fig, margin: float = 0.02) -> list[float]:
    """Right edges (inches) of the shapes and text outlines drawn past ``fig``'s right edge.

    Widget figures draw their text as outlines (viz.glyphs) on an axes whose data units are inches,
    and matplotlib clips what runs off the figure without a word: this measures them instead."""
    width = fig.get_size_inches()[0]
    over = []
    for ax in fig.axes:
        for patch in ax.patches:
            verts = patch.get_path().vertices
            if len(verts) and patch.get_transform() == ax.transData and verts[:, 0].max() > width - margin:
                over.append(round(float(verts[:, 0].max()), 2))
    return over


@pytest.fixture
def past_the_edge():
    return shapes_past_the_edge
