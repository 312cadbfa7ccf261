"""The widget pattern: pure render functions, a shell that never crashes, and a static twin."""
from __future__ import annotations

import re

import tomllib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import ipywidgets as W  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mktme_lite import course, viz  # noqa: E402
from mktme_lite.widgets import (  # noqa: E402
    LessonWidget,
    Telling,
    WidgetInputError,
    dropdown,
    error_bundle,
    start_here,
    text,
    tme_basics,
)
from mktme_lite.scenarios import tme_basics as tb  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
WIDGET_BUILDERS = {"dram_probe": tme_basics.dram_probe, "claim_map": start_here.claim_map}


@pytest.fixture(scope="module", params=sorted(WIDGET_BUILDERS))
def widget(request):
    return WIDGET_BUILDERS[request.param]()


# -------------------------------------- the shell (the contract for every widget: test_widget_shells.py)






def test_text_fallback_is_not_an_object_repr(widget):
    data = widget.container._repr_mimebundle_()
    assert data["text/plain"].startswith("[Interactive widget:")
    assert "VBox(" not in data["text/plain"]


def test_ipython_display_static_and_live(monkeypatch):
    shown = []
    import mktme_lite.widgets as shell

    monkeypatch.setattr(shell, "display", lambda *a, **k: shown.append(a))
    w = tme_basics.dram_probe()
    monkeypatch.setenv("MKTME_STATIC", "1")
    w._ipython_display_()
    assert w.updates == 0 and len(shown) == 1 + 2 * len(w.telling)  # heading, then caption + picture each
    shown.clear()
    monkeypatch.setenv("MKTME_STATIC", "0")
    w._ipython_display_()
    assert w.updates == 1 and shown == [(w.container,)]


def test_shell_turns_every_failure_into_a_message():
    def render(mode="ok"):
        if mode == "input":
            raise WidgetInputError("too long <b>")
        if mode == "bug":
            raise ZeroDivisionError("oops")
        return viz.HTMLCard("<p>fine</p>", "fine")

    w = LessonWidget(render, {"mode": dropdown("Mode", [("ok", "ok"), ("input", "input"), ("bug", "bug")], "ok")},
                     title="test", telling=[Telling("default")])
    w.update()
    assert w.last_status == "ok"
    w.set(mode="input")
    assert w.last_status == "input-error"
    html = w.output.value
    assert "too long &lt;b&gt;" in html and "Traceback" not in html
    w.set(mode="bug")
    assert w.last_status == "bug"
    assert "bug in the widget" in w.output.value and "Traceback" not in w.output.value


def test_shell_refuses_unlabelled_controls():
    with pytest.raises(ValueError, match="description"):
        LessonWidget(lambda x: "", {"x": W.IntSlider()}, title="t")
    with pytest.raises(ValueError):
        LessonWidget(lambda: "", {}, title="t")


def test_error_bundle_escapes_html():
    data, _ = error_bundle("<script>alert(1)</script>")
    assert "<script>" not in data["text/html"]


# ------------------------------------------------------------------------ DRAM probe (lesson 01)

def test_probe_under_the_tme_key_hides_the_message():
    r = tb.probe(b"attack at dawn", 0x1040, "tme")
    assert r.plaintext.startswith(b"attack at dawn") and len(r.plaintext) == 64
    assert not r.probe_sees_plaintext
    assert b"attack" not in r.dram
    assert r.readback == r.plaintext


@pytest.mark.parametrize("mode", ["bypass", "no_encrypt"])
def test_probe_reads_plaintext_without_encryption(mode):
    r = tb.probe(b"attack at dawn", 0x1040, mode)
    assert r.probe_sees_plaintext and r.readback == r.plaintext


def test_probe_same_message_other_address_or_key_gives_other_ciphertext():
    a = tb.probe(b"attack at dawn", 0x1040, "tme")
    b = tb.probe(b"attack at dawn", 0x1080, "tme")
    c = tb.probe(b"attack at dawn", 0x1040, "own_key")
    assert len({a.dram, b.dram, c.dram}) == 3
    assert tb.probe(b"attack at dawn", 0x1040, "tme") == a  # deterministic


def test_probe_leaves_the_prepared_machine_untouched():
    m = tb._prepared(False)
    dram = bytes(m.memory.cells)
    tb.probe(b"x" * 64, 0x1000, "tme")
    assert bytes(m.memory.cells) == dram and not m.cache_view(0)


@pytest.mark.parametrize("message, fmt, expected", [
    ("zz", "hex", "not a hex digit"),
    ("zq", "hex", "are not hex digits"),
    ("414", "hex", "odd number"),
    ("x" * 65, "text", "shorten it by 1 byte"),
    ("é" * 33, "text", "66 bytes"),
    ("hi", "base64", "unknown input format"),
])
def test_parse_message_explains_bad_input(message, fmt, expected):
    with pytest.raises(WidgetInputError, match=expected):
        tb.parse_message(message, fmt)


def test_parse_message_accepts_hex_with_spaces_and_prefix():
    assert tb.parse_message("0x41 42\n43", "hex") == b"ABC"
    assert tb.parse_message("0x41 0x42 0X43", "hex") == b"ABC"  # a prefix on every byte, too
    assert tb.parse_message("0x414243", "hex") == b"ABC"


@pytest.mark.parametrize("message, fmt", [("", "text"), ("", "hex"), ("   ", "hex"), ("0x", "hex"),
                                          ("0x 0x", "hex")])
def test_parse_message_refuses_an_empty_message(message, fmt):
    with pytest.raises(WidgetInputError, match="type a message"):
        tb.parse_message(message, fmt)


def test_parse_message_explains_a_lone_surrogate():
    with pytest.raises(WidgetInputError, match="cannot be stored as UTF-8"):
        tb.parse_message("ok \udc80", "text")


@pytest.mark.parametrize("address, expected", [
    (0x40000, "outside the probe machine's DRAM"),
    (-64, "outside the probe machine's DRAM"),
    (0x1041, "not the start of a cache line"),
    ("0x1040", "must be an int"),
    (True, "must be an int"),
])
def test_probe_and_render_validate_the_address_first(address, expected):
    with pytest.raises(WidgetInputError, match=expected):
        tb.probe(b"x", address)
    with pytest.raises(WidgetInputError, match=expected):
        tme_basics.render_dram_probe(message="", address=address)  # the address is named, not the message
    w = _shared_probe()
    w.draw({**w.defaults, "address": address})
    assert w.last_status == "input-error" and expected in w.last_message


def test_probe_names_the_type_when_given_text():
    with pytest.raises(WidgetInputError, match="takes the message as bytes.*got str"):
        tb.probe("abc")
    with pytest.raises(WidgetInputError, match="65 bytes"):
        tb.probe(b"x" * 65)


def test_the_tweak_caption_appears_only_when_something_is_encrypted():
    for mode, encrypted in (("tme", True), ("own_key", True), ("bypass", False), ("no_encrypt", False)):
        note = tb.probe(b"attack at dawn", 0x1040, mode).note
        assert ("Modelling choice: the XTS tweak" in note) == encrypted, mode
        assert ("PLAINTEXT" in note) != encrypted, mode


@settings(max_examples=40, deadline=None)
@given(message=st.text(max_size=90), fmt=st.sampled_from(["text", "hex"]),
       address=st.sampled_from(tb.ADDRESSES), key_mode=st.sampled_from(sorted(tb.KEY_MODES)))
def test_dram_probe_widget_never_crashes(message, fmt, address, key_mode):
    w = _shared_probe()
    w.draw({"message": message, "fmt": fmt, "address": address, "key_mode": key_mode})
    assert w.last_status in ("ok", "input-error"), w.last_message


_PROBE = []


def _shared_probe():
    if not _PROBE:
        _PROBE.append(tme_basics.dram_probe())
    return _PROBE[0]


def test_render_dram_probe_alt_text_states_the_verdict():
    assert "only CIPHERTEXT" in tme_basics.render_dram_probe().mktme_alt
    assert "PLAINTEXT" in tme_basics.render_dram_probe(key_mode="bypass").mktme_alt


def test_text_control_redraws_on_enter_only():
    t = text("Message", "x")
    assert t.continuous_update is False


# ------------------------------------------------------------------------ claim map (lesson 00)
# The map reads mktme_lite.course (lessons.toml); tests/test_course.py proves it follows a changed file.

def test_claims_match_lessons_toml():
    claims = tomllib.loads((ROOT / "lessons.toml").read_text())["claims"]
    shown = start_here.claim_table().text
    for cid, entry in claims.items():
        assert f"{cid} [" in shown and entry["text"] in shown and entry["experiment"] in shown
        assert course.claim(cid).short == entry["short"]


def test_claim_map_agrees_with_every_written_lesson():
    """A lesson that exists covers exactly the claims the map gives it, and its metadata copy agrees."""
    import json
    for entry in course.written():
        declared = json.loads((ROOT / "notebooks" / f"{entry.stem}.ipynb").read_text())["metadata"]["mktme"]["claims"]
        mapped = {c.id for c in course.claims() if entry.number in c.lessons}
        assert declared == list(entry.claims) and set(declared) == mapped, entry.stem


def test_claims_follow_the_design_table():
    lessons = {c.id: c.lessons for c in course.claims()}
    assert lessons["C3"] == ("01", "02", "03", "08") and lessons["C8"] == ("03", "07")
    assert list(lessons) == [f"C{i}" for i in range(1, 12)]
    numbers = [entry.number for entry in course.lessons()]
    assert numbers == [f"{i:02d}" for i in range(9)]
    for c in course.claims():
        assert all(n in numbers for n in c.lessons)
        assert c.experiment.endswith(".") and len(c.short) <= 40


def test_claim_card_and_table():
    card = start_here.render_claim_card("C5")
    assert "C5" in card.text and "Lesson 04" in card.text and start_here.ANCHOR_URL in card.html
    with pytest.raises(WidgetInputError):
        start_here.render_claim_card("C12")
    table = start_here.claim_table()
    assert table.html.count("<tr>") == 12 and len(table.text.splitlines()) == 11 + 1  # + the "planned" note
    fig = start_here.claim_figure("C5")
    assert "Claim C5 is highlighted" in fig.mktme_alt


def test_written_lessons_have_notebooks_and_planned_ones_do_not():
    """The claim map calls a lesson planned exactly when lessons.toml does, and that matches the disk."""
    for entry in course.lessons():
        exists = (ROOT / "notebooks" / f"{entry.stem}.ipynb").exists()
        assert exists == entry.is_written, entry.stem
        assert course.lesson(entry.number).is_planned == (not exists)


def test_lessons_not_written_yet_are_marked_planned(tmp_path, monkeypatch):
    # A copy of lessons.toml with lessons 07 and 08 planned again: the marks must follow it.
    text = (Path(course.__file__).resolve().parents[1] / "lessons.toml").read_text(encoding="utf-8")
    for n in ("07", "08"):
        text = re.sub(rf'(stem = "{n}_[a-z0-9_]+"\n)status = "written"\n(title = .*\n)(claims = .*\n)'
                      rf'exercises = (?:true|false)\n', r'\1status = "planned"\n\2\3', text)
    (tmp_path / "lessons.toml").write_text(text, encoding="utf-8")
    monkeypatch.setenv(course.ENV, str(tmp_path / "lessons.toml"))
    planned = [entry.number for entry in course.planned()]
    assert planned, "the course has planned lessons; this test must see one"
    for entry in course.lessons():
        n = entry.number
        assert course.lesson(n).is_planned == (n in planned)
        assert course.lesson(n).label.endswith("(planned)") == (n in planned)
        assert course.lesson(n).label.startswith(f"{n} — {entry.title}")
    for c in course.claims():
        card = start_here.render_claim_card(c.id).text
        for n in c.lessons:
            assert course.lesson(n).label in card
        assert ("not written yet" in card) == any(n in planned for n in c.lessons)
    table = start_here.claim_table().text
    assert "not written yet" in table or not planned
    for n in planned:
        assert f"{n} (planned)" in table
    fig = start_here.claim_figure()
    assert all(n in fig.mktme_alt for n in planned) and ("planned" in fig.mktme_alt) == bool(planned)


@pytest.mark.parametrize("bad", ["C99", "c3", 3, None])
def test_unknown_claims_are_refused_with_the_valid_ids(bad):
    if bad is not None:
        with pytest.raises(WidgetInputError, match="C1, C2, C3.*C11"):
            start_here.claim_figure(bad)
    with pytest.raises(WidgetInputError, match="C1, C2, C3.*C11"):
        start_here.render_claim_card(bad)


def test_a_cached_widget_redraws_a_setting_it_has_seen_without_rendering_again():
    calls = []

    def render(n=0):
        calls.append(n)
        return viz.HTMLCard(f"<p>n = {n}</p>", f"n = {n}")

    w = LessonWidget(render, {"n": dropdown("N", [(str(i), i) for i in range(4)], 0)}, title="t", cache=2)
    w.update()
    for n in (1, 0, 1, 2, 3, 0):  # the cache holds two settings: 0 falls out once 2 and 3 come
        w.set(n=n)
        assert f"n = {n}" in w.output.value
    assert calls == [0, 1, 2, 3, 0], calls  # 0 and 1 drawn once each until they fell out
    uncached = LessonWidget(render, {"n": dropdown("N", [("0", 0), ("1", 1)], 0)}, title="t")
    calls.clear()
    uncached.set(n=1)
    uncached.set(n=0)
    uncached.set(n=1)
    assert calls == [1, 0, 1]


def test_a_widget_refuses_a_nonsense_cache_size():
    for bad in (-1, 1.5, True, "8"):
        with pytest.raises(ValueError, match="cache"):
            LessonWidget(lambda n=0: "", {"n": dropdown("N", [("0", 0)], 0)}, title="t", cache=bad)


def test_every_update_is_timed_for_the_browser_benchmark():
    from mktme_lite.widgets import TIMINGS

    w = LessonWidget(lambda n=0: viz.HTMLCard("<p>x</p>", "x" * n),
                     {"n": dropdown("N", [("0", 0), ("1", 1)], 0)}, title="timed one")
    TIMINGS.clear()
    w.set(n=1)
    (t,) = [t for t in TIMINGS if t["widget"] == "timed one"]
    assert t["status"] == "ok" and t["cached"] is False and t["bytes"] == len(w.output.value)
    assert all(t[k] >= 0 for k in ("render_ms", "bundle_ms", "send_ms", "cpu_ms"))


@pytest.mark.parametrize("key_mode", list(tb.KEY_MODES))
def test_no_text_of_the_dram_probe_runs_off_its_figure(key_mode, past_the_edge):
    for address in (tb.ADDRESSES[0], tb.ADDRESSES[-1]):
        for message, fmt in (("hi", "text"), ("x" * 64, "text"), ("00" * 64, "hex")):
            fig = tme_basics.render_dram_probe(message, address, key_mode, fmt)
            assert past_the_edge(fig) == [], (key_mode, address, message)

