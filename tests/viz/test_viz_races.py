"""Lesson 06's pictures: the outcome histogram and the replay timeline say what the explorer found,
in their alt text and in words on the figure, never by colour alone; odd input is refused clearly."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from mktme_lite import viz  # noqa: E402
from mktme_lite.errors import ParameterError  # noqa: E402
from mktme_lite.machine import KEYTABLE_SCOPES  # noqa: E402
from mktme_lite.scenarios import races  # noqa: E402
from mktme_lite.viz import races as vr  # noqa: E402

UNSAFE = races.SCENARIOS["rotate_unsafe"]
LANES = [t.name for t in UNSAFE.threads]


def test_histogram_alt_text_carries_every_group_and_its_count():
    exs = [races.explored(UNSAFE, s) for s in KEYTABLE_SCOPES]
    fig = viz.outcome_histogram(exs, title="rotate_unsafe under each scope")
    for ex in exs:
        assert f"{ex.interleavings} interleavings, {ex.bad} of them BAD" in fig.mktme_alt
        for i, g in enumerate(ex.groups):
            assert f"{i}. {'OK' if g.ok else 'BAD'}: {g.summary}: {g.count} interleavings" in fig.mktme_alt
    assert viz.figure_png(fig).startswith(b"\x89PNG")


def test_ok_and_bad_differ_by_word_and_hatch_not_colour_alone():
    assert vr.OK_STYLE["word"] != vr.BAD_STYLE["word"]
    assert vr.OK_STYLE["hatch"] != vr.BAD_STYLE["hatch"]
    fig = viz.outcome_histogram(races.explored(UNSAFE, "home"))
    hatched = [a for a in fig.artists if getattr(a, "get_hatch", lambda: None)() == vr.BAD_STYLE["hatch"]]
    assert len(hatched) == sum(not g.ok for g in races.explored(UNSAFE, "home").groups)


def test_a_safe_exploration_is_called_safe():
    fig = viz.outcome_histogram(races.explored(races.SCENARIOS["rotate_safe"], "platform"))
    assert "0 of them BAD" in fig.mktme_alt and "BAD:" not in fig.mktme_alt


def test_timeline_names_the_write_back_and_the_key_that_sealed_it():
    ex = races.explored(UNSAFE, "home")
    steps = races.replay(UNSAFE, ex.first_bad().example, "home")
    wb = next(s.index for s in steps if any(" writeback " in e for e in s.events))
    fig = viz.replay_timeline(steps, LANES, at=wb)
    # the unsafe example: P0 re-keys first, then P1's write-back is sealed by the home table (P0) with key B
    assert "P1 writes back KeyID 1, sealed by P0's table: key B" in fig.mktme_alt
    assert f"the state after step {wb}" in fig.mktme_alt
    assert "DRAM L secret under key B" in fig.mktme_alt
    at_start = viz.replay_timeline(steps, LANES, at=0)
    assert "cached lines none" in at_start.mktme_alt


def test_the_key_shown_follows_the_scope():
    """Under writer scope the same write-back is sealed by the writing package's own table."""
    ex = races.explored(UNSAFE, "writer")
    steps = races.replay(UNSAFE, ex.first_bad().example, "writer")
    alt = viz.replay_timeline(steps, LANES).mktme_alt
    assert "sealed by P1's table" in alt and "sealed by P0's table" not in alt


def test_race_figure_frames_the_replayed_group():
    ex = races.explored(UNSAFE, "platform")
    steps = races.replay(UNSAFE, ex.groups[1].example, "platform")
    fig = viz.race_figure(ex, steps, LANES, group=1, at=3)
    assert f"Group 1 (BAD: {ex.groups[1].summary}) is replayed" in fig.mktme_alt
    assert "gave up: DEVICE_BUSY" in fig.mktme_alt


@pytest.mark.parametrize("bad", [None, [], "rotate_unsafe", [1, 2], [races.explored(UNSAFE)] * 5])
def test_histogram_refuses_what_is_not_an_exploration(bad):
    with pytest.raises(ParameterError):
        viz.outcome_histogram(bad)


def test_timeline_refuses_bad_steps_lanes_and_positions():
    steps = races.replay(UNSAFE, races.explored(UNSAFE).groups[0].example)
    for kwargs in ({"steps": None}, {"steps": []}, {"lanes": "old owner"}, {"lanes": ["x"]}, {"at": -1},
                   {"at": len(steps)}, {"at": "3"}):
        args = {"steps": steps, "lanes": LANES, **kwargs}
        with pytest.raises(ParameterError):
            viz.replay_timeline(args.pop("steps"), args.pop("lanes"), **args)
    with pytest.raises(ParameterError, match="group"):
        viz.race_figure(races.explored(UNSAFE), steps, LANES, group=7)


def test_long_text_is_cut_to_fit_not_spilled():
    cut = vr._fit("x" * 400, 8, 2.0)
    assert cut.endswith("…") and viz.glyphs.text_width(cut, 8) <= 2.0
    assert vr._fit("short", 8, 2.0) == "short"


@pytest.mark.parametrize("title", ["\ud800", 3, b"title", "two\nlines"])
def test_a_title_that_cannot_be_drawn_is_refused(title):
    with pytest.raises(ParameterError):
        viz.outcome_histogram(races.explored(UNSAFE), title=title)


def _drawn_texts(monkeypatch):
    """Record every line of text a races picture lays out: (x0, x1, text), in inches."""
    drawn = []
    original = vr.Glyphs.text

    def text(self, x, y, s, points=9.0, **kw):
        width = original(self, x, y, s, points, **kw)
        x0 = x - {"left": 0.0, "center": 0.5, "right": 1.0}[kw.get("ha", "left")] * width
        drawn.append((x0, x0 + width, s))
        return width

    monkeypatch.setattr(vr.Glyphs, "text", text)
    return drawn


def _lesson_histograms():
    """Every histogram lesson 06 and its race explorer draw: each scenario under each scope, and the widget's
    picture with each group framed (the framed row adds "◀ replayed" after its count)."""
    for name, scen in races.SCENARIOS.items():
        exs = [races.explored(scen, s) for s in KEYTABLE_SCOPES]
        yield name, exs, None
        for i in range(len(exs[-1].groups)):
            yield name, [exs[-1]], i


@pytest.mark.parametrize("name, exs, highlight", list(_lesson_histograms()),
                         ids=lambda v: v if isinstance(v, str) else None)
def test_no_histogram_label_is_cut_or_runs_past_the_figure(monkeypatch, name, exs, highlight):
    """Each group's whole label is drawn (wrapped, never cut with an ellipsis), left of the bars, and no text
    or patch extends past the figure: measured with the glyphs' own widths and with the drawn artists."""
    drawn = _drawn_texts(monkeypatch)
    fig = viz.outcome_histogram(exs, title=f"{name}: how every interleaving ends", highlight=highlight)
    width = fig.get_figwidth()
    assert drawn and all(0 <= x0 and x1 <= width for x0, x1, _ in drawn), [d for d in drawn if d[1] > width]
    assert not any("…" in s for _, _, s in drawn)
    lines = " ".join(s for _, _, s in drawn)
    for ex in exs:
        for i, g in enumerate(ex.groups):
            label = f"{i}. {'OK' if g.ok else 'BAD'}: {g.summary}"
            assert label in lines, label
            assert all(x1 <= vr._BAR_X for x0, x1, s in drawn if s in label), label
    fig.canvas.draw()
    box = fig.bbox
    for artist in fig.artists + fig.patches:
        ext = artist.get_window_extent()
        assert box.x0 - 0.5 <= ext.x0 and ext.x1 <= box.x1 + 0.5 and box.y0 - 0.5 <= ext.y0 and ext.y1 <= box.y1 + 0.5, \
            (artist, ext, box)


def test_the_label_check_can_fail(monkeypatch):
    """The old layout (one line per label, cut to 5.55 in) fails the whole-label test above."""
    drawn = _drawn_texts(monkeypatch)
    monkeypatch.setattr(vr, "_MAX_LABEL_LINES", 1)
    viz.outcome_histogram(races.explored(UNSAFE, "platform"))
    assert any("…" in s for _, _, s in drawn)
