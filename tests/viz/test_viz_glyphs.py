"""mktme_lite.viz.glyphs: figure text as cached outlines, one compound path per colour.

The speed of every widget figure rests on the caches, and its look on the widths and anchors, so
these are pinned: mono text sits on a fixed advance (a hex column lines up), sans text is one
cached outline per line, and every anchor moves the text by the amount it promises."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import PathPatch  # noqa: E402

from mktme_lite.errors import ParameterError  # noqa: E402
from mktme_lite.viz import glyphs  # noqa: E402
from mktme_lite.viz.glyphs import Glyphs, mono_advance, text_width  # noqa: E402


def _extents(g: Glyphs, colour: str = "black"):
    verts = np.concatenate([p.vertices for p in g.paths[colour]])
    return verts[:, 0].min(), verts[:, 0].max(), verts[:, 1].min(), verts[:, 1].max()


def test_mono_width_is_a_whole_number_of_advances():
    adv = mono_advance(8)
    assert adv == pytest.approx(0.6020 * 8 / 72, rel=1e-3)  # DejaVu Sans Mono: 1233/2048 em
    for text in ("3f", "00", "|hello world  |", "0x00001040"):
        assert text_width(text, 8, family="mono") == pytest.approx(adv * len(text))
    assert text_width("ff", 7.2, family="mono") == text_width("10", 7.2, family="mono")  # columns line up


def test_sans_width_grows_with_the_text_and_blank_text_is_free():
    short, long = text_width("KeyIDs", 9), text_width("KeyIDs: 63 usable", 9)
    assert 0 < short < long
    assert text_width("KeyIDs", 9, weight="bold") > short
    assert text_width("KeyIDs", 18) == pytest.approx(2 * short, rel=1e-6)
    g = Glyphs()
    assert g.text(1, 1, "   ") == 0.0 and g.paths == {}


@pytest.mark.parametrize("family", ["sans", "mono"])
def test_horizontal_anchors(family):
    spans = {}
    for ha in ("left", "center", "right"):
        g = Glyphs()
        w = g.text(2.0, 1.0, "0x1040", 8, family=family, ha=ha)
        x0, x1, _, _ = _extents(g)
        spans[ha] = (x0, x1, w)
    w = spans["left"][2]
    assert spans["left"][0] == pytest.approx(2.0, abs=0.02)  # ink starts at x (less the side bearing)
    assert spans["center"][0] == pytest.approx(spans["left"][0] - w / 2)
    assert spans["right"][0] == pytest.approx(spans["left"][0] - w)


def test_vertical_anchors_move_the_baseline_by_what_they_promise():
    pts, size = 10, 10 / 72
    bottoms = {}
    for va in ("top", "center", "bottom", "baseline"):
        g = Glyphs()
        g.text(0, 1.0, "H", pts, va=va)  # "H" sits on the baseline: its lowest point is the baseline
        bottoms[va] = _extents(g)[3]  # y grows downwards: the largest y is the bottom of the ink
    assert bottoms["baseline"] == pytest.approx(1.0)
    assert bottoms["top"] == pytest.approx(1.0 + 0.76 * size)
    assert bottoms["bottom"] == pytest.approx(1.0 - 0.22 * size)
    g = Glyphs()
    g.text(0, 1.0, "0", pts, family="mono", va="center")
    _, _, top, bottom = _extents(g)
    assert (top + bottom) / 2 == pytest.approx(1.0, abs=0.02 * size)  # a digit is centred on y


def test_outlines_are_cached_and_reused():
    glyphs._glyph.cache_clear()
    glyphs._line.cache_clear()
    g = Glyphs()
    for _ in range(3):
        g.text(0, 0, "abab", 7.2, family="mono")
        g.text(0, 1, "a title", 11, weight="bold")
    assert glyphs._glyph.cache_info().currsize == 2  # one outline per distinct character
    assert glyphs._glyph.cache_info().hits == 10
    assert glyphs._line.cache_info().currsize == 1 and glyphs._line.cache_info().hits == 2
    assert len(g.paths["black"]) == 3 * (1 + 1)  # one outline per line of text, mono or sans


def test_one_patch_per_colour_and_draw_forgets():
    fig = Figure()
    ax = fig.add_axes((0, 0, 1, 1))
    g = Glyphs()
    g.text(0, 0, "00", 7, family="mono")
    g.text(0, 1, "ff", 7, family="mono", colour="white")
    g.text(0, 2, "label", 9)
    g.draw(ax)
    patches = [a for a in ax.get_children() if isinstance(a, PathPatch)]
    assert [tuple(p.get_facecolor()) for p in patches] == [(0, 0, 0, 1), (1, 1, 1, 1)]
    assert all(p.get_zorder() == 5 for p in patches) and g.paths == {}


@pytest.mark.parametrize("kwargs, words", [
    ({"family": "serif"}, "unknown font family 'serif'; choose one of sans, mono"),
    ({"ha": "middle"}, "unknown horizontal anchor ha='middle'; choose one of left, center, right"),
    ({"va": "centre"}, "unknown vertical anchor va='centre'"),
])
def test_bad_arguments_say_what_is_allowed(kwargs, words):
    with pytest.raises(ParameterError, match=words):
        Glyphs().text(0, 0, "x", 9, **kwargs)


def test_text_must_be_one_line():
    with pytest.raises(ParameterError, match="one line"):
        Glyphs().text(0, 0, "two\nlines")
    with pytest.raises(ParameterError, match="one line of str"):
        text_width(42, 9)
