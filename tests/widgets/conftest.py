"""Shared checks for the widget tests."""
from __future__ import annotations

import pytest


def shapes_past_the_edge(fig, margin: float = 0.02) -> list[float]:
    """Right edges (inches) of the shapes and text outlines drawn past ``fig``'s right edge.

    Widget figures draw their text as outlines (viz.glyphs) straight on the figure in inches (or on an axes whose data units are inches),
    and matplotlib clips what runs off the figure without a word: this measures them instead."""
    from matplotlib.patches import Patch

    width = fig.get_size_inches()[0]
    fig.canvas.draw()  # fixes the axes' limits, so every transform below is final
    shapes = [a for a in fig.artists if isinstance(a, Patch)]  # drawn on the figure in inches (viz.figure.Inches)
    shapes += [p for ax in fig.axes for p in ax.patches]
    over = []
    for patch in shapes:
        verts = patch.get_path().vertices
        if len(verts):
            right = float(patch.get_transform().transform(verts)[:, 0].max()) / fig.dpi
            if right > width - margin:
                over.append(round(right, 2))
    return over


@pytest.fixture
def past_the_edge():
    return shapes_past_the_edge
