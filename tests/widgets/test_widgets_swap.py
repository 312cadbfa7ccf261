"""Lesson 05: the swap lab and its table say what the engine computed, in words as well as bytes."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from mktme_lite.scenarios import swap  # noqa: E402
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


def test_the_verdict_follows_the_controls_when_the_picture_comes_from_the_cache():
    lab = sw.swap_lab()
    lab.update()
    verdict = lab.container.children[2]
    first = verdict.value
    lab.set(path="page_keyid", flush=True)
    turned = verdict.value
    assert turned != first
    lab.set(path="keyid0", flush=False)  # both pictures are cached now: no render runs
    assert lab._cache and verdict.value == first
    lab.set(path="page_keyid", flush=True)
    assert verdict.value == turned
