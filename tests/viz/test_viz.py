"""mktme_lite.viz (the pictures) and mktme_lite.style: every picture carries alt text computed from its data,
is a PNG, never leaks into pyplot's figure list, and never encodes meaning by colour alone."""
from __future__ import annotations

import base64

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mktme_lite import Machine, style, viz  # noqa: E402
from mktme_lite.errors import MKTMEError, ParameterError  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def machine_with_trace() -> Machine:
    m = Machine(packages=2, seed=5)
    h = m.hpa(0x1000, 1)
    m.store(h, b"secret")
    m.clflush(h)
    m.load(m.hpa(0x1000, 0))
    return m


def all_figures():
    m = machine_with_trace()
    data = bytes(range(64))
    return {
        "bytes_figure": viz.bytes_figure([("a", data), ("b", data[:20] + b"x" + data[21:])], mark_changed=True),
        "line_changes": viz.line_changes(bytes(256), bytes(64) + b"\x01" * 64 + bytes(128), base=0x2000),
        "memory_map": viz.memory_map({0: 0, 1: 1, 3: None}, 8, title="frames"),
        "alias_map": viz.alias_map([{"label": "user", "keyid": 1, "frame": 0x3000},
                                    {"label": "direct map", "keyid": 0, "frame": 0x3000, "note": "garbage"}]),
        "trace_timeline": viz.trace_timeline(m.trace),
        "claim_matrix": viz.claim_matrix([("C1", "one"), ("C2", "two")], [("01", "x"), ("02", "y")],
                                         {"C1": ["01"], "C2": ["01", "02"]}, highlight="C2"),
        "tme_boundary": viz.tme_boundary(),
    }


@pytest.fixture(scope="module")
def figures():
    return all_figures()


# ------------------------------------------------------------------------ alt text and bundles

def test_every_figure_has_alt_text_and_encodes_as_png(figures):
    for name, fig in figures.items():
        assert isinstance(fig, viz.LessonFigure), name
        assert len(fig.mktme_alt) > 40, f"{name}: alt text too short: {fig.mktme_alt!r}"
        data, meta = viz.to_bundle(fig)
        assert set(data) == {"image/png", "text/html", "text/plain"}, name  # PNG only, no SVG, no repr
        assert data["text/html"].startswith("<img src=\"data:image/png;base64,") and "alt=\"" in data["text/html"]
        assert base64.b64decode(data["image/png"]).startswith(PNG_MAGIC)
        assert meta == {"image/png": {"alt": fig.mktme_alt}}
        assert data["text/plain"] == f"[Figure: {fig.mktme_alt}]"
        assert "<Figure" not in data["text/plain"]


def test_alt_text_is_computed_from_the_data():
    a = bytes(64)
    b = bytearray(a)
    b[40] ^= 1  # block 2
    fig = viz.bytes_figure([("before", a), ("after", bytes(b))], mark_changed=True)
    assert "block 2 only" in fig.mktme_alt
    assert "all zero" in fig.mktme_alt
    fig = viz.line_changes(bytes(128), bytes(64) + b"\x01" * 64, base=0x40)
    assert "1 changed" in fig.mktme_alt and "0x80" in fig.mktme_alt
    fig = viz.memory_map({0: 1, 1: 1}, 4)
    assert "2 frame(s) with K1" in fig.mktme_alt and "2 free" in fig.mktme_alt


def test_figures_stay_out_of_pyplot():
    before = plt.get_fignums()
    all_figures()
    assert plt.get_fignums() == before


def test_a_figure_without_alt_text_is_refused():
    fig = viz.LessonFigure()
    with pytest.raises(ValueError, match="alt text"):
        viz.to_bundle(fig)
    data, meta = viz.to_bundle(fig, alt="an empty figure")
    assert meta["image/png"]["alt"] == "an empty figure"


def test_repr_mimebundle_of_a_lesson_figure_carries_alt(figures):
    data, meta = figures["tme_boundary"]._repr_mimebundle_()
    assert "image/png" in data and meta["image/png"]["alt"]


def test_show_is_silent_outside_ipython(figures, capsys):
    viz.show(figures["line_changes"])
    viz.show(viz.HTMLCard("<b>x</b>", "x"))
    viz.show("plain text")
    assert capsys.readouterr().out == ""
    with pytest.raises(TypeError):
        viz.show(42)


def test_static_switch(monkeypatch):
    for value, expected in (("1", True), ("yes", True), ("0", False), ("", False), ("false", False)):
        monkeypatch.setenv("MKTME_STATIC", value)
        assert viz.is_static() is expected
    monkeypatch.delenv("MKTME_STATIC")
    assert viz.is_static() is False


# ------------------------------------------------------------------------ text helpers

def test_hexdump_and_printable():
    dump = viz.hexdump(b"attack at dawn\x00\x01" + b"A" * 4, base=0x1040)
    lines = dump.splitlines()
    assert lines[0].startswith("0x1040  61 74 74 61")
    assert lines[0].endswith("|attack at dawn..|")
    assert lines[1].startswith("0x1050  41 41 41 41")
    assert viz.printable(b"a\x7fb\x1f") == "a.b."


def test_differing_blocks_and_changed_lines():
    a = bytes(128)
    b = bytearray(a)
    b[0] = 1
    b[127] = 1
    assert viz.differing_blocks(a, bytes(b)) == [0, 7]
    assert viz.changed_lines(a, bytes(b), base=0x1000) == [0x1000, 0x1040]
    with pytest.raises(ValueError):
        viz.differing_blocks(b"ab", b"abc")


def test_describe_bytes():
    assert viz.describe_bytes(b"") == "no bytes"
    assert viz.describe_bytes(bytes(16)) == "all zero"
    assert viz.describe_bytes(b"hello world".ljust(64, b"\0")) == 'readable text "hello world"'
    assert viz.describe_bytes(bytes(range(256))).startswith("random-looking bytes")


@settings(max_examples=25, deadline=None)
@given(st.binary(min_size=0, max_size=200), st.integers(0, 1 << 20))
def test_bytes_figure_draws_any_bytes(data, base):
    fig = viz.bytes_figure([("data", data)], base=base, title="t", note="n")
    assert fig.mktme_alt
    assert viz.figure_png(fig).startswith(PNG_MAGIC)


@pytest.mark.parametrize("call, words", [
    (lambda: viz.bytes_figure([]), "at least one (label, data)"),
    (lambda: viz.bytes_figure([("a",)]), "a panel is (label, data) or (label, data, base)"),
    (lambda: viz.bytes_figure([("a", "text")]), "must be bytes"),
    (lambda: viz.bytes_figure([("a", b"x")], width=0), "width (bytes per row) must be 1 to 64; got 0"),
    (lambda: viz.line_changes(b"a", b"b"), "non-zero multiple of 64 bytes; got 1 and 1 bytes"),
    (lambda: viz.memory_map({}, 0), "n_frames must be 1 to 64; got 0"),
    (lambda: viz.memory_map({}, 4, per_row=True), "per_row (frames per row) must be a whole number"),
    (lambda: viz.alias_map([]), "at least one alias"),
    (lambda: viz.alias_map([{"label": "x"}]), "the keys 'label', 'keyid' and 'frame'"),
    (lambda: viz.trace_timeline([], last=-1), "last (number of events kept) must be at least 0"),
    (lambda: viz.claim_matrix([("C1", "x")], [("01", "y")], {}, highlight="C9"),
     "unknown claim to highlight 'C9'; choose one of C1"),
])
def test_bad_inputs_raise_parameter_errors_that_say_what_is_allowed(call, words):
    with pytest.raises(ParameterError) as info:
        call()
    assert words in str(info.value)
    assert isinstance(info.value, (MKTMEError, ValueError))


def test_trace_timeline_filters():
    m = machine_with_trace()
    fig = viz.trace_timeline(m.trace, hide=("hit", "miss"), last=3)
    assert "Timeline of 3 events" in fig.mktme_alt
    assert "miss" not in fig.mktme_alt.split("Counts:")[1]
    fig = viz.trace_timeline(m.trace, kinds=["writeback"])
    assert "1 writeback" in fig.mktme_alt
    fig = viz.trace_timeline([])
    assert "Timeline of 0 events" in fig.mktme_alt


def test_card_has_a_plain_text_twin():
    c = viz.card("Title", [("Link", "<a href='https://example.org'>here</a>"), ("Q", "a &amp; b")], footer="f")
    assert "<table>" in c.html
    assert "here [https://example.org]" in c.text and "a & b" in c.text


# ------------------------------------------------------------------------ style

def test_keyids_differ_in_hatch_and_label_not_only_colour():
    keyids = range(8)
    hatches = [style.keyid_hatch(k) for k in keyids]
    labels = [style.keyid_label(k) for k in keyids]
    assert len(set(hatches)) == len(hatches)
    assert labels == [f"K{k}" for k in keyids]
    assert len({style.keyid_color(k) for k in range(7)}) == 7
    assert style.keyid_label(None) == "—"


def test_palette_is_okabe_ito_and_states_have_words_and_hatches():
    assert set(style.OKABE_ITO.values()) >= {style.keyid_color(k) for k in range(7)}
    for state, spec in style.STATE_STYLE.items():
        assert spec["label"] == state
    assert len({s["hatch"] for s in style.STATE_STYLE.values()}) == len(style.STATE_STYLE)
    assert style.BYTE_CMAP == "cividis"


def test_event_markers_are_distinct_shapes():
    kinds = ["store", "load", "fill", "writeback", "evict", "clflush", "flush", "wbinvd", "dram_write",
             "pconfig", "speculative_fill", "miss"]
    markers = [style.event_style(k)[1] for k in kinds]
    assert len(set(markers)) == len(markers)


def test_apply_sets_rcparams():
    style.apply()
    assert matplotlib.rcParams["image.cmap"] == "cividis"
    assert matplotlib.rcParams["savefig.dpi"] == 100


def test_hex_text_on_every_byte_colour_reaches_wcag_aa_contrast():
    """Every hex label of a byte grid (black or white on its cividis cell) has contrast >= 4.5:1."""
    cmap = matplotlib.colormaps[style.BYTE_CMAP]
    text_rgb = {"black": (0.0, 0.0, 0.0), "white": (1.0, 1.0, 1.0)}
    ratios = {b: style.contrast_ratio(cmap(b / 255), text_rgb[style.text_color_for(b / 255)]) for b in range(256)}
    worst = min(ratios, key=ratios.get)
    assert ratios[worst] >= 4.5, f"byte {worst:#04x}: contrast {ratios[worst]:.2f}:1"
    assert style.text_color_for(0.0) == "white" and style.text_color_for(1.0) == "black"


def test_contrast_ratio_matches_wcag_reference_values():
    assert style.contrast_ratio((0, 0, 0), (1, 1, 1)) == pytest.approx(21.0)
    assert style.contrast_ratio((1, 1, 1), (1, 1, 1)) == pytest.approx(1.0)
    assert style.relative_luminance((0.5, 0.5, 0.5)) == pytest.approx(0.2140, abs=1e-4)


def test_timeline_legend_title_is_not_an_event_name():
    """The legend explains the marker colour; "KeyID (fill)" read like the event kind "fill"."""
    fig = viz.trace_timeline(machine_with_trace().trace)
    title = fig.axes[0].get_legend().get_title().get_text()
    assert "KeyID" in title and "fill" not in title
