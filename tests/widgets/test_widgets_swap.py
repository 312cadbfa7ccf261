"""Lesson 05: the swap lab and its table say what the engine computed, in words as well as bytes."""
from __future__ import annotations

import html

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from mktme_lite.scenarios import swap  # noqa: E402
from mktme_lite.scenarios.swap import swap_run  # noqa: E402
from mktme_lite.widgets import WidgetInputError  # noqa: E402
from mktme_lite.widgets import swap as sw  # noqa: E402


@pytest.fixture(scope="module")
def widget():
    return sw.swap_lab()


def test_static_twin_shows_four_different_pictures(widget):
    assert dict(widget.telling[0].params) == {}
    views = widget.static_views()
    assert len(views) == len(widget.telling) == 4
    assert widget.last_status == "ok"
    assert len({data["image/png"] for _, (data, _) in views}) == 4
    for _, (data, meta) in views:
        assert meta["image/png"]["alt"]


def test_telling_captions_say_what_the_engine_shows(widget):
    runs = [swap.swap_run(**{**widget.defaults, **dict(t.params)}) for t in widget.telling]
    naive, same, own, sealed = runs
    assert not naive.plaintext_visible and set(naive.line_status) == {"garbage"}
    assert same.line_status.count("right") == 63 and same.line_status[swap.FRESH_INDEX] == "old"
    assert own.intact and own.plaintext_visible and own.frame_in != own.frame_out
    assert sealed.intact and not sealed.plaintext_visible


@pytest.mark.parametrize("setting", [{}, {"path": "page_keyid"}, {"path": "page_keyid", "encrypted": True},
                                     {"frame": "same"}])
def test_the_alt_text_opens_with_the_device_and_the_owner(setting):
    fig = sw.render_swap_lab(**setting)
    r = swap.swap_run(**{**{"path": "keyid0", "flush": False, "frame": "other", "encrypted": False}, **setting})
    assert fig.mktme_alt.startswith(f"Device: {r.device_verdict}. alice reads back: {r.verdict}.")
    assert ("PLAINTEXT visible" in fig.mktme_alt) == r.plaintext_visible


def test_the_table_has_one_row_per_run_and_bold_words():
    card = sw.render_swap_table(swap.all_runs())
    text = card.text
    assert text.count("PLAINTEXT") == 4  # page_keyid without encrypted swap: 2 flush x 2 frames
    assert text.count("GARBAGE") == 4 and text.count("line 1 LOST") == 2
    assert "<b>PLAINTEXT</b>" in card.html or "<strong>PLAINTEXT</strong>" in card.html


@pytest.mark.parametrize("bad", [[], None, "runs", [1, 2]])
def test_the_table_refuses_what_is_not_a_list_of_runs(bad):
    with pytest.raises(WidgetInputError, match="runs"):
        sw.render_swap_table(bad)


@pytest.mark.parametrize("kwargs", [{"path": "keyid2"}, {"flush": "no"}, {"frame": None}, {"encrypted": []}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(WidgetInputError):
        sw.render_swap_lab(**kwargs)


def _verdict(lab) -> str:
    """The verdict lines over the live picture (they travel with it: lead=)."""
    value = lab.output.value
    assert 'class="mktme-swap-verdict"' in value
    return value.split('class="mktme-swap-verdict"', 1)[1].split("</div>", 1)[0]


def test_the_verdict_follows_the_controls_when_the_picture_comes_from_the_cache():
    lab = sw.swap_lab()
    lab.update()
    first = _verdict(lab)
    lab.set(path="page_keyid", flush=True)
    turned = _verdict(lab)
    assert turned != first
    r = swap_run("page_keyid", True, "other", False)
    assert html.escape(f"alice reads back: {r.verdict}.") in turned
    lab.set(path="keyid0", flush=False)  # both pictures are kept now: no render runs
    assert lab._cache and _verdict(lab) == first
    lab.set(path="page_keyid", flush=True)
    assert _verdict(lab) == turned


def test_the_live_picture_is_packed_harder_but_shows_the_same_pixels():
    """png_level=6 (issue 10: the swap lab sent 110-124 KB per move): the same palette image in fewer bytes."""
    import base64
    import io
    import re

    from PIL import Image

    from mktme_lite.viz import live_html
    from mktme_lite.widgets.swap import render_swap_lab, swap_lab

    lab = swap_lab()
    assert lab.png_level == 6
    packed = lab.view(lab.params())
    plain = live_html(render_swap_lab(**lab.params()))
    assert len(packed) < 0.85 * len(plain), (len(packed), len(plain))

    def pixels(h):
        b64 = re.search(r'src="data:image/png;base64,([^"]+)"', h).group(1)
        return Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB").tobytes()

    assert pixels(packed) == pixels(plain)
    assert re.search(r'alt="[^"]{40,}"', packed)  # the alt text stays


@pytest.mark.parametrize("bad", [0, 10, True, "6"])
def test_a_bad_png_level_is_refused_by_name(bad):
    from mktme_lite.viz import HTMLCard
    from mktme_lite.widgets import LessonWidget, toggle

    with pytest.raises(ValueError, match="png_level"):
        LessonWidget(lambda a=1: HTMLCard("x", "x"), {"a": toggle("A", [("1", 1)], 1)}, title="t", png_level=bad)
